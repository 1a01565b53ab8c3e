/**
 * `serverless package` and `serverless invoke local` bundle the handlers themselves
 * (scripts/serverless/buildBundles.cjs): from a clone with no dist/ at all, and again
 * after every code change, so neither zips nor runs a stale bundle.
 *
 * Runs osls on a copy of the project (its own dist/, node_modules linked), whose
 * handlers print a marker at load: the marker in a zip's bundle and in what
 * `invoke local` prints is the code as it was at that moment.
 */
import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUNCTIONS } from '../../../scripts/build.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const REGION = 'eu-west-1';
const PARAMS = [
  '--param=mskClusterArn=arn:aws:kafka:eu-west-1:111122223333:cluster/test/1111aaaa-2222-bbbb-3333-cccc4444dddd-7',
  '--param=subnetIds=subnet-0123456789abcdef0',
  '--param=securityGroupIds=sg-0123456789abcdef0',
];

const run = promisify(execFile);

/** Central-directory entries of a zip: name, CRC-32 and uncompressed size. */
const zipEntries = (zip: Buffer) => {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (end < 0) throw new Error('not a zip file');
  const entries = new Map<string, { crc: number; size: number }>();
  let at = zip.readUInt32LE(end + 16);
  for (let i = zip.readUInt16LE(end + 10); i > 0; i--) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('broken zip central directory');
    const nameLength = zip.readUInt16LE(at + 28);
    entries.set(zip.toString('utf8', at + 46, at + 46 + nameLength), {
      crc: zip.readUInt32LE(at + 16),
      size: zip.readUInt32LE(at + 24),
    });
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return entries;
};

let tree: string;

/** Puts `console.log('<marker>')` first in each handler of the copy (it runs at load). */
const mark = (marker: string, fns: readonly string[] = FUNCTIONS) => {
  for (const fn of fns) {
    const file = join(tree, 'src', 'handlers', `${fn}.ts`);
    const source = readFileSync(join(ROOT, 'src', 'handlers', `${fn}.ts`), 'utf8');
    writeFileSync(file, `console.log('${marker}');\n${source}`);
  }
};

const serverless = async (args: string[]) => {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_REGION: REGION,
    // no local stack for this copy, and no broker: nothing here may reach one
    STACK_DIR: join(tree, '.stack'),
    KAFKA_BROKERS: '127.0.0.1:1',
  };
  const bin = join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
  try {
    return await run(process.execPath, [bin, ...args, '--stage', 'test', '--region', REGION], {
      cwd: tree,
      env,
      timeout: 120_000,
    });
  } catch (error) {
    // invoke local of a handler that fails still printed what it printed
    const e = error as { stdout?: string; stderr?: string; code?: unknown };
    if (args[0] === 'invoke' && typeof e.code === 'number')
      return { stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    throw new Error(`serverless ${args.join(' ')} failed: ${String(error)}`);
  }
};

/** Packages the copy and checks each zip ships dist/<fn>/index.js exactly as just built. */
const packageAndCheck = async (marker: string) => {
  const out = join(tree, `out-${marker}`);
  await serverless(['package', '--package', out, ...PARAMS]);
  for (const fn of FUNCTIONS) {
    const bundle = readFileSync(join(tree, 'dist', fn, 'index.js'));
    const entry = zipEntries(readFileSync(join(out, `${fn}.zip`))).get(`dist/${fn}/index.js`);

    expect(bundle.toString('utf8'), `${fn} bundle`).toContain(marker);
    expect(entry, `dist/${fn}/index.js in ${fn}.zip`).toEqual({
      crc: crc32(bundle),
      size: bundle.length,
    });
  }
};

beforeAll(() => {
  tree = mkdtempSync(join(tmpdir(), 'sls-fresh-'));
  for (const name of ['serverless.yml', 'package.json']) cpSync(join(ROOT, name), join(tree, name));
  for (const dir of ['src', 'scripts'])
    cpSync(join(ROOT, dir), join(tree, dir), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(tree, 'node_modules'), 'dir');
  mkdirSync(join(tree, '.stack'));
});

afterAll(() => {
  if (tree) rmSync(tree, { recursive: true, force: true });
});

describe('serverless package', () => {
  it('bundles a clone that has no dist/ yet', async () => {
    mark('marker-first-package');
    expect(existsSync(join(tree, 'dist'))).toBe(false);

    await packageAndCheck('marker-first-package');
  }, 120_000);

  it('bundles again after a code change', async () => {
    mark('marker-after-change');

    await packageAndCheck('marker-after-change');
  }, 120_000);
});

describe('serverless invoke local', () => {
  it('runs the code as it is now, not the last bundle', async () => {
    mark('marker-before-invoke');
    await packageAndCheck('marker-before-invoke');
    mark('marker-at-invoke', ['produceOrders']);

    // an invalid request: produceOrders answers it without Kafka
    const { stdout } = await serverless([
      'invoke',
      'local',
      '-f',
      'produceOrders',
      '-d',
      '{}',
      ...PARAMS,
    ]);

    expect(stdout).toContain('marker-at-invoke');
    expect(stdout).not.toContain('marker-before-invoke');
    expect(readFileSync(join(tree, 'dist', 'produceOrders', 'index.js'), 'utf8')).toContain(
      'marker-at-invoke',
    );
  }, 120_000);
});
