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

/**
 * Reads a whole topic with kcat from the beginning to its end,
 * `isolation.level=read_committed` unless told otherwise.
 */
export const kcatRead = async (
  topic: string,
  options: { isolation?: 'read_committed' | 'read_uncommitted' } = {},
): Promise<KcatRecord[]> => {
  const { stdout } = await run(
    'kcat',
    [
      '-b',
      kafkaBrokers(),
      '-C',
      '-t',
      topic,
      '-o',
      'beginning',
      '-e',
      '-q',
      '-J',
      '-X',
      `isolation.level=${options.isolation ?? 'read_committed'}`,
    ],
    { maxBuffer: 512 * 1024 * 1024, timeout: 60_000 },
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
