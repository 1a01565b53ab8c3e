/**
 * `npm run demo -- --format avro|protobuf`: orders in a registry format written by
 * produceOrders, through the mapping's schema-registry step (Glue on moto) and
 * processOrders, balance as JSON does.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);
const ORDERS = 300;
const logFiles: string[] = [];

afterAll(() => {
  for (const file of logFiles) rmSync(file, { force: true });
});

const demo = async (...args: string[]) => {
  const { stdout } = await run(
    join(ROOT, 'node_modules', '.bin', 'node'),
    [
      join(ROOT, 'src', 'local', 'demo.ts'),
      '--orders',
      String(ORDERS),
      '--poison',
      '6',
      '--timeout',
      '120',
      ...args,
    ],
    { cwd: ROOT, env: process.env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const lines = stdout.split('\n');
  const log = /handler logs +(\S+)/.exec(stdout)?.[1];
  if (log) logFiles.push(resolve(ROOT, log));
  return lines.slice(lines.findIndex((l) => l.startsWith('┌'))).join('\n');
};

describe('npm run demo -- --format', () => {
  it.each([
    ['avro', 'SOURCE'],
    ['protobuf', 'JSON'],
  ])(
    '%s orders in %s form balance: every order once, poison parked, no registry failure',
    async (format, form) => {
      // Act
      const summary = await demo('--format', format, '--record-format', form);

      // Assess
      expect(summary).toContain(
        `registry step            ${format.toUpperCase()} in ${form} form; failures 0`,
      );
      // produceOrders wrote every order in the format (ORDER_FORMAT), Glue-framed
      expect(summary).toContain(`orders Glue-framed by produceOrders ${ORDERS}`);
      expect(summary).toMatch(new RegExp(`results processed +${ORDERS} `));
      expect(summary).toContain('BALANCED');
    },
  );

  it('refuses an unknown format with a clear message', async () => {
    // Act
    const failed = await demo('--format', 'thrift').then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );

    // Assess
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toContain('--format must be avro, protobuf or json');
  });
});
