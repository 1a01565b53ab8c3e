/**
 * Runs the Kafka event-source mappings of `serverless.yml` locally against a real broker,
 * invoking each function's handler in-process. One log line per invocation.
 *
 *   node src/local/esm/cli.ts [--function processOrders]... [--stage dev] [--region us-east-1]
 *                             [--config serverless.yml] [--param name=value]... [--list]
 *                             [--containers N]
 *
 * `--containers N` (default 1) runs N warm containers per function and gives each batch
 * to one of them at random, as Lambda may.
 * Brokers: `KAFKA_BROKERS`, else the local stack's (`npm run stack:up`), for the mappings
 * and the handlers alike; on loopback brokers without auth or TLS. Ctrl-C stops:
 * running invocations finish and commit first.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readStackEnv } from '../../../scripts/stack.ts';
import { formatEvent, time } from './logLine.ts';
import { readMappings } from './readMappings.ts';
import { startLocalMapping } from './startLocalMapping.ts';
import type { LambdaHandler, LocalMapping, LocalMappingHandle } from './types.ts';

const USAGE =
  'usage: node src/local/esm/cli.ts [--function <name>]... [--stage <stage>] [--region <region>] [--config serverless.yml] [--param name=value]... [--list] [--containers N]';

const MODULE_SUFFIXES = ['.ts', '.mts', '.js', '.mjs', '.cjs', '/index.ts', '/index.js'];

/** `src/handlers/processOrders.handler` → the module file and the export name. */
const resolveHandler = (handlerPath: string, baseDir: string) => {
  const dot = handlerPath.lastIndexOf('.');
  if (dot <= 0) throw new Error(`handler ${handlerPath} is not <module>.<export>`);
  const base = resolve(baseDir, handlerPath.slice(0, dot));
  const file = MODULE_SUFFIXES.map((s) => base + s).find((f) => existsSync(f));
  if (!file)
    throw new Error(`handler ${handlerPath}: no module at ${base}{${MODULE_SUFFIXES.join(',')}}`);
  return { file, exportName: handlerPath.slice(dot + 1) };
};

/**
 * The handler of one container. Each container is its own instance of the handler
 * module (a distinct URL query), so it has its own Kafka client, producers and
 * checkpoint cache, as separate Lambda sandboxes do.
 */
const loadHandler = async (
  mapping: LocalMapping,
  baseDir: string,
  container = 1,
): Promise<LambdaHandler> => {
  const { file, exportName } = resolveHandler(mapping.handlerPath, baseDir);
  const url = `${pathToFileURL(file).href}?container=${container}`;
  const module = (await import(url)) as Record<string, unknown>;
  const handler = module[exportName];
  if (typeof handler !== 'function') {
    throw new Error(
      `${file} has no function export "${exportName}" (handler ${mapping.handlerPath})`,
    );
  }
  return handler as LambdaHandler;
};

const main = async () => {
  const { values } = parseArgs({
    options: {
      function: { type: 'string', multiple: true },
      stage: { type: 'string' },
      region: { type: 'string' },
      config: { type: 'string', default: 'serverless.yml' },
      param: { type: 'string', multiple: true },
      list: { type: 'boolean', default: false },
      containers: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const params: Record<string, string> = {};
  for (const p of values.param ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new Error(`--param ${p}: expected name=value`);
    params[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const configPath = resolve(values.config);
  const all = readMappings(configPath, {
    ...(values.stage === undefined ? {} : { stage: values.stage }),
    ...(values.region === undefined ? {} : { region: values.region }),
    params,
  });
  const wanted = values.function;
  const unknown = (wanted ?? []).filter((f) => !all.some((m) => m.functionName === f));
  if (unknown.length > 0) {
    throw new Error(
      `no Kafka mapping for ${unknown.join(', ')} in ${configPath} (functions with one: ${[...new Set(all.map((m) => m.functionName))].join(', ') || 'none'})`,
    );
  }
  const mappings = all.filter((m) => (wanted ? wanted.includes(m.functionName) : m.enabled));
  for (const m of mappings) {
    for (const w of m.warnings) process.stderr.write(`${time()} ${m.functionName} warning: ${w}\n`);
  }
  if (values.list) {
    for (const m of mappings) process.stdout.write(`${JSON.stringify(m)}\n`);
    return;
  }
  if (mappings.length === 0) throw new Error(`no enabled Kafka mappings in ${configPath}`);

  const stack = readStackEnv();
  const brokers = process.env.KAFKA_BROKERS ?? stack?.KAFKA_BROKERS;
  if (!brokers)
    throw new Error('no brokers: set KAFKA_BROKERS or start the local stack (npm run stack:up)');
  // the handlers write to the brokers the mappings read, and use the stack's emulator
  process.env.KAFKA_BROKERS ??= brokers;
  if (stack) process.env.AWS_ENDPOINT_URL ??= stack.AWS_ENDPOINT_URL;
  // on loopback brokers the handlers' own default (no auth, plaintext), not the stage's
  const loopback = brokers
    .split(',')
    .every((b) => /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]):\d+$/.test(b.trim()));

  // The functions' environment where the shell set nothing: in-process functions share
  // one environment, so the first function's value wins.
  for (const m of mappings) {
    for (const [k, v] of Object.entries(m.environment)) {
      if (loopback && (k === 'KAFKA_AUTH' || k === 'KAFKA_TLS')) continue;
      process.env[k] ??= v;
    }
  }

  const containers = Number(values.containers);
  if (!Number.isInteger(containers) || containers < 1 || containers > 32)
    throw new Error(`--containers ${values.containers}: expected a whole number from 1 to 32`);

  const baseDir = dirname(configPath);
  const handles: LocalMappingHandle[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write(`${time()} stopping ${handles.length} mapping(s)\n`);
    await Promise.allSettled(handles.map((h) => h.stop()));
    process.exit(code);
  };
  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  for (const mapping of mappings) {
    const handler = await Promise.all(
      Array.from({ length: containers }, (_, i) => loadHandler(mapping, baseDir, i + 1)),
    );
    const handle = await startLocalMapping({
      mapping,
      handler,
      brokers,
      onEvent: (e) => {
        const line = formatEvent(e);
        if (e.type === 'warning') process.stderr.write(`${line}\n`);
        else process.stdout.write(`${line}\n`);
      },
    });
    handles.push(handle);
    process.stderr.write(
      `${time()} ${mapping.functionName}: ${mapping.topic} -> ${mapping.handlerPath} (group ${mapping.consumerGroupId}, batch ${mapping.batchSize}, window ${mapping.maximumBatchingWindowInSeconds}s, retries ${mapping.maximumRetryAttempts}, containers ${containers}, ${mapping.onFailureDestination ? `on failure kafka://${mapping.onFailureDestination}` : 'no destination'}) on ${brokers}\n`,
    );
  }
};

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(1);
});
