/**
 * The parking-lot tool: `npm run dlq -- <list|show|replay> [options]` (README
 * "Parking-lot tool"). Reaches the cluster with the functions' own connection code
 * (`KAFKA_BROKERS` or `MSK_CLUSTER_ARN`, `KAFKA_AUTH` none/scram/iam) and topic names
 * (`TOPIC_*`); without either variable it uses the local stack's broker.
 *
 * Exit status: 0 done, 1 bad input or failure, 2 a read did not finish in time.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readStackEnv } from '../../../scripts/stack.ts';
import { readPipelineConfig } from '../../lib/config.ts';
import { kafkaFromEnvironment } from '../../lib/kafka/index.ts';
import {
  formatList,
  formatReplay,
  formatShow,
  headersForDisplay,
  parkedToJson,
  replayToJson,
  valueText,
} from './format.ts';
import {
  coordinateOf,
  type ParkedFilter,
  parseCoordinate,
  parseReplayId,
  parseTime,
} from './parked.ts';
import { selectionDigest } from './replayMarker.ts';
import {
  type DlqToolDeps,
  readParked,
  replayParked,
  SOURCES,
  type Source,
  showRecord,
  topicAliases,
} from './tool.ts';

const USAGE = `usage: npm run dlq -- <command> [options]

  list   [filters] [--in parking-lot|dlq|all] [--limit N] [--json]
  show   <topic:partition:offset> [--json]
  replay [filters] [<topic:partition:offset>...] [--in parking-lot|dlq|all]
         [--replay-id ID --yes] [--json]

filters: --code CODE  --topic ORIGINAL_TOPIC  --order ORDER_ID  (each repeatable)
         --since TIME  --until TIME  (ISO-8601, or a duration ago: 30m, 2h, 7d)
topics may be named parking-lot, dlq or orders (the configured TOPIC_* names).
--timeout SECONDS bounds each read (default 30). replay is a dry run without --yes.`;

class UsageError extends Error {}

const OPTIONS = {
  code: { type: 'string', multiple: true },
  topic: { type: 'string', multiple: true },
  order: { type: 'string', multiple: true },
  since: { type: 'string' },
  until: { type: 'string' },
  in: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean', default: false },
  yes: { type: 'boolean', default: false },
  'replay-id': { type: 'string' },
  timeout: { type: 'string', default: '30' },
  help: { type: 'boolean', default: false },
} as const;

const positiveInt = (name: string, text: string) => {
  if (!/^\d{1,9}$/.test(text) || Number(text) <= 0)
    throw new UsageError(`--${name} ${text}: expected a positive integer`);
  return Number(text);
};

const commaList = (values: readonly string[] | undefined) =>
  values?.flatMap((v) => v.split(',').map((s) => s.trim())).filter(Boolean);

/** Runs one command; returns the exit status. `out` and `err` receive whole lines. */
export const main = async (
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: (text: string) => void,
  err: (text: string) => void,
): Promise<number> => {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    err(`${(error as Error).message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    (values.help || command === 'help' ? out : err)(USAGE);
    return values.help || command === 'help' ? 0 : 1;
  }

  let closeClient: (() => Promise<void>) | undefined;
  try {
    if (!['list', 'show', 'replay'].includes(command))
      throw new UsageError(
        `unknown command "${command}" (list, show or replay; there is no purge)`,
      );
    const now = new Date();
    const config = readPipelineConfig(env);
    const aliases = topicAliases(config);
    const source = (values.in ?? (command === 'replay' ? 'parking-lot' : 'all')) as Source;
    if (!SOURCES.includes(source))
      throw new UsageError(`--in ${values.in}: expected ${SOURCES.join(', ')}`);
    const filter: ParkedFilter = {};
    const codes = commaList(values.code);
    if (codes?.length) filter.codes = codes;
    const topics = commaList(values.topic)?.map((t) => aliases[t] ?? t);
    if (topics?.length) filter.originalTopics = topics;
    const orders = commaList(values.order);
    if (orders?.length) filter.orderIds = orders;
    if (values.since) filter.since = parseTime(values.since, now);
    if (values.until) filter.until = parseTime(values.until, now);
    if (filter.since && filter.until && filter.since >= filter.until)
      throw new UsageError('--since must be before --until');
    const timeoutMs = positiveInt('timeout', values.timeout) * 1_000;
    const limit = values.limit === undefined ? undefined : positiveInt('limit', values.limit);
    const replayId =
      values['replay-id'] === undefined ? undefined : parseReplayId(values['replay-id']);

    if (command === 'show') {
      if (rest.length !== 1) throw new UsageError('show takes one <topic:partition:offset>');
    } else if (command === 'list' && rest.length > 0) {
      throw new UsageError(`list takes no positional arguments (got ${rest.join(' ')})`);
    } else if (command === 'replay' && values.yes && replayId === undefined) {
      throw new UsageError(
        'replay --yes needs --replay-id: the id makes a second run write nothing (a dry run suggests one)',
      );
    }
    const coordinates = rest.map((c) => parseCoordinate(c, aliases));
    if (command === 'replay' && coordinates.length > 0)
      filter.coordinates = new Set(coordinates.map(coordinateOf));

    // the functions' connection settings; locally, the stack's broker when none is set
    const stack = env.KAFKA_BROKERS || env.MSK_CLUSTER_ARN ? undefined : readStackEnv();
    const connectionEnv = stack
      ? { KAFKA_AUTH: 'none', KAFKA_TLS: 'false', ...env, KAFKA_BROKERS: stack.KAFKA_BROKERS }
      : env;
    if (!connectionEnv.KAFKA_BROKERS && !connectionEnv.MSK_CLUSTER_ARN)
      throw new UsageError(
        'no cluster: set KAFKA_BROKERS or MSK_CLUSTER_ARN, or start the local stack (npm run stack:up)',
      );
    const kafka = kafkaFromEnvironment(connectionEnv);
    const client = await kafka();
    closeClient = () => client.close();
    const deps: DlqToolDeps = { client, config, timeoutMs };

    if (command === 'show') {
      const at = coordinates[0]!;
      const found = await showRecord(deps, at);
      if (!found) {
        err(
          `${coordinateOf(at)}: no committed record there (offset out of range, compacted or aborted)`,
        );
        return 1;
      }
      if (values.json)
        out(
          JSON.stringify(
            {
              ...parkedToJson(found.parked),
              stored: {
                key: found.stored.key === null ? null : valueText(found.stored.key),
                value: valueText(found.stored.value),
                headers: headersForDisplay(found.stored.headers),
              },
            },
            null,
            2,
          ),
        );
      else out(formatShow(found.stored, found.parked));
      return 0;
    }

    const read = await readParked(deps, { source, filter });
    if (command === 'list') {
      if (values.json)
        out(
          JSON.stringify({
            complete: read.complete,
            unfinished: read.unfinished,
            scanned: read.scanned,
            matched: read.records.length,
            records: (limit === undefined ? read.records : read.records.slice(0, limit)).map(
              parkedToJson,
            ),
          }),
        );
      else out(formatList(read, limit));
      return read.complete ? 0 : 2;
    }

    if (!read.complete) {
      err(
        `${formatList({ ...read, records: [] })}\nrefusing to replay an incomplete selection: run again (--timeout to wait longer)`,
      );
      return 2;
    }
    const missing = [...(filter.coordinates ?? [])].filter(
      (c) => !read.records.some((r) => coordinateOf(r) === c),
    );
    if (missing.length > 0)
      throw new UsageError(
        `no committed record at ${missing.join(', ')} (or it fails the filters)`,
      );
    const result = await replayParked(deps, {
      selected: read.records,
      execute: values.yes,
      ...(replayId === undefined ? {} : { replayId }),
    });
    const suggested = `${now.toISOString().slice(0, 10)}-${selectionDigest(result.replay).slice(0, 8)}`;
    out(values.json ? JSON.stringify(replayToJson(result)) : formatReplay(result, suggested));
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    err(error instanceof UsageError ? `${message}\n${USAGE}` : `dlq ${command}: ${message}`);
    return 1;
  } finally {
    await closeClient?.();
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const code = await main(
    process.argv.slice(2),
    process.env,
    (t) => process.stdout.write(`${t}\n`),
    (t) => process.stderr.write(`${t}\n`),
  );
  process.exitCode = code;
}
