/**
 * `npm run demo` as a person reads it: progress lines and a summary that agree, no
 * handler log lines between them, and the handlers' logs in the file the summary names.
 * Runs the demo's own process against the real stack, its output piped (not a TTY).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

// 7 requests of 100: the 7th arrives first with an invalid order, rejected whole
const ORDERS = 700;

let logFile: string | undefined;

afterAll(() => {
  if (logFile) rmSync(logFile, { force: true });
});

const figure = (text: string, pattern: RegExp) => {
  const match = pattern.exec(text);
  if (!match) throw new Error(`no ${pattern} in:\n${text}`);
  return Number(match[1]);
};

describe('npm run demo', () => {
  it('prints progress that agrees with its summary, and its handler logs to a file', async () => {
    const { stdout, stderr } = await run(
      join(ROOT, 'node_modules', '.bin', 'node'),
      [join(ROOT, 'src', 'local', 'demo.ts'), '--orders', String(ORDERS), '--timeout', '120'],
      { cwd: ROOT, env: process.env, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const lines = stdout.split('\n');
    const progress = lines.filter((l) => l.startsWith('produced '));
    const summary = lines.slice(lines.findIndex((l) => l.startsWith('┌'))).join('\n');
    const last = progress.at(-1) ?? '';

    // the terminal shows both streams
    expect(`${stdout}\n${stderr}`.split('\n').filter((l) => l.includes('"level":'))).toEqual([]);
    expect(summary).toContain('BALANCED');
    expect(figure(last, /produced (\d+)\//)).toBe(ORDERS);
    expect(figure(last, /processed (\d+)/)).toBe(figure(summary, /results processed +(\d+)/));
    expect(figure(last, /dead letters (\d+)/)).toBe(figure(summary, /dead letters written +(\d+)/));
    expect(figure(last, /republished (\d+)/)).toBe(figure(summary, /republished +(\d+)/));
    expect(figure(last, /parked (\d+)\//)).toBe(figure(summary, /parked +(\d+)/));

    const named = /handler logs +(\S+)/.exec(summary)?.[1];
    expect(named).toBeDefined();
    logFile = resolve(ROOT, named!);
    expect(existsSync(logFile)).toBe(true);
    const logged = readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level?: string; function?: string; errorCode?: string });
    // the one deliberately invalid request, as produceOrders logs it
    expect(
      logged.filter((l) => l.function === 'produceOrders' && l.level === 'ERROR'),
    ).toMatchObject([{ errorCode: 'INVALID_REQUEST' }]);
    expect(logged.some((l) => l.function === 'processOrders')).toBe(true);
  }, 200_000);
});
