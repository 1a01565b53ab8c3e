import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { kafkaBrokers } from './stackEnv.ts';

const run = promisify(execFile);

/** One record as kcat (an independent client) sees it. */
export interface KcatRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string]>;
  /** Last value of each header name. */
  header: Record<string, string>;
}

type Isolation = 'read_committed' | 'read_uncommitted';

/** kcat's arguments to read a whole topic, from the beginning to its end, in `format`. */
const readArgs = (topic: string, isolation: Isolation, format: string[]): string[] => [
  '-b',
  kafkaBrokers(),
  '-C',
  '-t',
  topic,
  '-o',
  'beginning',
  '-e',
  '-q',
  ...format,
  '-X',
  `isolation.level=${isolation}`,
];

/**
 * Reads a whole topic with kcat from the beginning to its end,
 * `isolation.level=read_committed` unless told otherwise.
 */
export const kcatRead = async (
  topic: string,
  options: { isolation?: Isolation } = {},
): Promise<KcatRecord[]> => {
  const { stdout } = await run(
    'kcat',
    readArgs(topic, options.isolation ?? 'read_committed', ['-J']),
    {
      maxBuffer: 512 * 1024 * 1024,
      timeout: 60_000,
    },
  );
  return stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((line) => {
      const j = JSON.parse(line) as {
        topic: string;
        partition: number;
        offset: number;
        key: string | null;
        payload: string | null;
        headers?: string[];
      };
      const headers: Array<[string, string]> = [];
      for (let i = 0; i + 1 < (j.headers?.length ?? 0); i += 2)
        headers.push([j.headers![i]!, j.headers![i + 1]!]);
      return {
        topic: j.topic,
        partition: j.partition,
        offset: j.offset,
        key: j.key,
        value: j.payload,
        headers,
        header: Object.fromEntries(headers),
      };
    });
};

/**
 * Every value of a topic as raw bytes (read_committed), for values that are not text
 * (Avro, Protobuf): kcat prints each as `<length>:<bytes>` (`%S:%s`).
 */
export const kcatReadValues = async (topic: string): Promise<Buffer[]> => {
  const { stdout } = (await run('kcat', readArgs(topic, 'read_committed', ['-f', '%S:%s']), {
    encoding: 'buffer',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  })) as unknown as { stdout: Buffer };
  const values: Buffer[] = [];
  for (let at = 0; at < stdout.length; ) {
    const colon = stdout.indexOf(0x3a, at);
    const length = Number(stdout.subarray(at, colon).toString());
    values.push(stdout.subarray(colon + 1, colon + 1 + length));
    at = colon + 1 + length;
  }
  return values;
};

/** Writes one record with kcat (used to feed the pipeline from outside its code). */
export const kcatWrite = async (
  topic: string,
  value: string,
  options: { key?: string; headers?: Record<string, string>; partition?: number } = {},
) => {
  const args = ['-b', kafkaBrokers(), '-P', '-t', topic];
  if (options.partition !== undefined) args.push('-p', String(options.partition));
  if (options.key !== undefined) args.push('-K', '\t');
  for (const [k, v] of Object.entries(options.headers ?? {})) args.push('-H', `${k}=${v}`);
  const child = run('kcat', args, { timeout: 30_000 });
  child.child.stdin?.end(options.key !== undefined ? `${options.key}\t${value}\n` : `${value}\n`);
  await child;
};
