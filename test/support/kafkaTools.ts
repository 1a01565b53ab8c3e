/**
 * Kafka's own command-line tools (`org.apache.kafka:kafka-tools`, the broker's version,
 * fetched from Maven Central with the broker's jars by scripts/stack.ts) run as child
 * processes: a producer and a consumer nobody in this project wrote. Every run is bounded
 * by a timeout; {@link stopKafkaTools} kills what still runs when a test ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKafkaJars } from '../../scripts/stack.ts';
import { kafkaBrokers } from './stackEnv.ts';

/** The classes of kafka-tools 4.x (in 3.x the console tools were `kafka.tools.*` in core). */
export const KAFKA_TOOL_CLASSES = {
  consoleProducer: 'org.apache.kafka.tools.ConsoleProducer',
  consoleConsumer: 'org.apache.kafka.tools.consumer.ConsoleConsumer',
  verifiableProducer: 'org.apache.kafka.tools.VerifiableProducer',
} as const;

// Separators the records never contain, so headers, key and value split unambiguously
// (header values hold `:` and `,`, the formatter's defaults).
const FIELD = '\x1f';
const HEADER = '\x1e';
const RECORD = '\x1d\n';
const NULL = '<kafka-tools:null>';

const running = new Set<ChildProcess>();
let workdir: string | undefined;

/** A folder for the tools' files (log configuration, inputs), removed by {@link stopKafkaTools}. */
export const kafkaToolsWorkdir = (): string => {
  if (workdir) return workdir;
  workdir = mkdtempSync(join(tmpdir(), 'kafka-tools-'));
  // the tools log to stdout by default, into the records they print: warnings to stderr
  writeFileSync(
    join(workdir, 'log4j2.properties'),
    [
      'status = warn',
      'appender.err.type = Console',
      'appender.err.name = STDERR',
      'appender.err.target = SYSTEM_ERR',
      'appender.err.layout.type = PatternLayout',
      'appender.err.layout.pattern = %p %m (%c)%n',
      'rootLogger.level = WARN',
      'rootLogger.appenderRef.err.ref = STDERR',
      '',
    ].join('\n'),
  );
  return workdir;
};

/** Kills every tool still running (SIGKILL, by process id) and removes the work folder. */
export const stopKafkaTools = () => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
  if (workdir) rmSync(workdir, { recursive: true, force: true });
  workdir = undefined;
};

export interface KafkaToolRun {
  stdout: string;
  stderr: string;
  ms: number;
}

export class KafkaToolError extends Error {
  override name = 'KafkaToolError';
}

const tail = (text: string, lines = 5) => text.trimEnd().split('\n').slice(-lines).join(' | ');

/**
 * Runs one tool class on the JVM (`java -cp '<libs>/*' <class> ...args`) and resolves
 * with its output when it exits 0.
 *
 * @throws KafkaToolError when it exits otherwise or runs longer than `timeoutMs` (then it is killed).
 *
 * @example
 * await runKafkaTool(KAFKA_TOOL_CLASSES.consoleProducer, ['--version'], { timeoutMs: 20_000 });
 */
export const runKafkaTool = (
  className: string,
  args: readonly string[],
  options: { timeoutMs: number; stdinFile?: string },
): Promise<KafkaToolRun> => {
  const libs = ensureKafkaJars();
  const dir = kafkaToolsWorkdir();
  const stdin = options.stdinFile ? openSync(options.stdinFile, 'r') : 'ignore';
  const started = Date.now();
  const child = spawn(
    'java',
    [
      // short-lived clients on a shared 2-core machine: small heap, quick start
      '-Xmx256m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
      '-cp',
      `${libs}/*`,
      className,
      ...args,
    ],
    { stdio: [stdin, 'pipe', 'pipe'] },
  );
  running.add(child);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => stdout.push(b));
  child.stderr?.on('data', (b: Buffer) => stderr.push(b));
  const name = className.split('.').at(-1);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new KafkaToolError(`${name}: killed after ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      running.delete(child);
      reject(new KafkaToolError(`${name}: could not start java: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const run = {
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
        ms: Date.now() - started,
      };
      if (code === 0) resolve(run);
      else
        reject(
          new KafkaToolError(`${name}: exit ${code ?? signal}: ${tail(run.stderr || run.stdout)}`),
        );
    });
  });
};

/**
 * Writes every line of `file` to `topic` with Kafka's console producer, idempotent with
 * `acks=all`; lines are `<key>\t<value>`. It exits 0 even when a send failed, so its
 * log is checked for failed sends.
 */
export const consoleProduce = async (
  topic: string,
  file: string,
  options: { timeoutMs?: number } = {},
): Promise<KafkaToolRun> => {
  const run = await runKafkaTool(
    KAFKA_TOOL_CLASSES.consoleProducer,
    [
      '--bootstrap-server',
      kafkaBrokers(),
      '--topic',
      topic,
      '--request-required-acks',
      'all',
      '--producer-property',
      'enable.idempotence=true',
      '--property',
      'parse.key=true',
      '--property',
      'key.separator=\t',
    ],
    { timeoutMs: options.timeoutMs ?? 60_000, stdinFile: file },
  );
  // Kafka's ErrorLoggingCallback: the only trace a failed send leaves
  if (/Error when sending message/.test(run.stderr))
    throw new KafkaToolError(`ConsoleProducer reported an error: ${tail(run.stderr)}`);
  return run;
};

/** One record VerifiableProducer saw acknowledged. */
export interface AckedRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string;
}

/**
 * Writes `count` increasing integers (`"0"`, `"1"`, …, no key) to `topic` with Kafka's
 * VerifiableProducer, idempotent with `acks=all`, and returns what it saw acknowledged
 * (it prints one JSON line per send result).
 *
 * @throws KafkaToolError when a send failed or fewer than `count` were acknowledged.
 */
export const verifiableProduce = async (
  topic: string,
  count: number,
  options: { timeoutMs?: number } = {},
): Promise<{ acked: AckedRecord[]; run: KafkaToolRun }> => {
  const config = join(kafkaToolsWorkdir(), 'verifiable-producer.properties');
  // the tool sets retries=0 unless told, which an idempotent producer refuses
  writeFileSync(config, 'enable.idempotence=true\nretries=2147483647\n');
  const run = await runKafkaTool(
    KAFKA_TOOL_CLASSES.verifiableProducer,
    [
      '--bootstrap-server',
      kafkaBrokers(),
      '--topic',
      topic,
      '--max-messages',
      String(count),
      '--acks',
      '-1',
      '--producer.config',
      config,
    ],
    { timeoutMs: options.timeoutMs ?? 60_000 },
  );
  const acked: AckedRecord[] = [];
  const errors: string[] = [];
  for (const line of run.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    const event = JSON.parse(line) as { name: string } & AckedRecord & { message?: string };
    if (event.name === 'producer_send_success')
      acked.push({
        topic: event.topic,
        partition: event.partition,
        offset: event.offset,
        key: event.key,
        value: event.value,
      });
    if (event.name === 'producer_send_error') errors.push(event.message ?? line);
  }
  if (errors.length > 0 || acked.length !== count)
    throw new KafkaToolError(
      `VerifiableProducer: ${acked.length} of ${count} acknowledged, ${errors.length} errors${errors.length ? `: ${errors[0]}` : ''}`,
    );
  return { acked, run };
};

/** One record as Kafka's console consumer printed it. */
export interface ConsoleRecord {
  topic: string;
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: Array<[string, string | null]>;
  /** Last value of each header name. */
  header: Record<string, string | null>;
}

const orNull = (text: string) => (text === NULL ? null : text);

/**
 * Reads `topic` from the beginning with Kafka's console consumer, `read_committed` unless
 * told otherwise, until no record came for `idleMs`; partition, offset, headers and key
 * are printed with each value.
 *
 * @throws KafkaToolError when the tool's own count differs from the records parsed.
 */
export const consoleConsume = async (
  topic: string,
  options: {
    isolation?: 'read_committed' | 'read_uncommitted';
    idleMs?: number;
    timeoutMs?: number;
  } = {},
): Promise<{ records: ConsoleRecord[]; run: KafkaToolRun }> => {
  const property = (p: string) => ['--property', p];
  const run = await runKafkaTool(
    KAFKA_TOOL_CLASSES.consoleConsumer,
    [
      '--bootstrap-server',
      kafkaBrokers(),
      '--topic',
      topic,
      '--from-beginning',
      '--isolation-level',
      options.isolation ?? 'read_committed',
      '--timeout-ms',
      String(options.idleMs ?? 5_000),
      ...property('print.partition=true'),
      ...property('print.offset=true'),
      ...property('print.headers=true'),
      ...property('print.key=true'),
      ...property(`key.separator=${FIELD}`),
      ...property(`headers.separator=${HEADER}`),
      ...property(`line.separator=${RECORD}`),
      ...property(`null.literal=${NULL}`),
    ],
    { timeoutMs: options.timeoutMs ?? 90_000 },
  );
  const records = run.stdout
    .split(RECORD)
    .filter((r) => r.length > 0)
    .map((text): ConsoleRecord => {
      // Partition:<n> Offset:<n> <headers> <key> <value>; the value may hold anything but FIELD
      const [partition, offset, headerText, key, ...value] = text.split(FIELD);
      const p = /^Partition:(\d+)$/.exec(partition ?? '');
      const o = /^Offset:(\d+)$/.exec(offset ?? '');
      if (!p || !o || headerText === undefined || key === undefined || value.length === 0)
        throw new KafkaToolError(
          `ConsoleConsumer printed a line not understood: ${text.slice(0, 200)}`,
        );
      const headers: Array<[string, string | null]> =
        headerText === 'NO_HEADERS'
          ? []
          : headerText.split(HEADER).map((h) => {
              const at = h.indexOf(':');
              return [h.slice(0, at), orNull(h.slice(at + 1))];
            });
      return {
        topic,
        partition: Number(p[1]),
        offset: Number(o[1]),
        key: orNull(key),
        value: orNull(value.join(FIELD)),
        headers,
        header: Object.fromEntries(headers),
      };
    });
  const total = /Processed a total of (\d+) messages/.exec(run.stderr);
  if (!total || Number(total[1]) !== records.length)
    throw new KafkaToolError(
      `ConsoleConsumer: ${records.length} records parsed, the tool says ${total?.[1] ?? 'nothing'}: ${tail(run.stderr)}`,
    );
  return { records, run };
};
