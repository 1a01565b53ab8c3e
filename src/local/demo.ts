/**
 * `npm run demo`: the whole pipeline on this machine, against a real Kafka broker.
 *
 * Starts the local stack if needed, runs processOrders and republishDlq behind local
 * event-source mappings read from serverless.yml, sends a stream of orders through
 * produceOrders (some requests invalid, some orders over the business limit) plus a few
 * poison records from a "bad upstream producer", waits until the pipeline is drained
 * and prints a summary that must balance. Exits non-zero when it does not. The handlers'
 * logs go to `.stack/demo-<run>.log` (the summary names it), not between the progress lines.
 *
 *   npm run demo -- [--orders 3000] [--batch 100] [--poison 30] [--timeout 300]
 *                   [--format avro|protobuf|json [--record-format SOURCE|JSON]]
 *
 * `--format`: produceOrders writes the orders in that registry format (`ORDER_FORMAT`, Glue
 * framing, schemas from the stack's Glue registry on moto), and processOrders' local mapping
 * runs with the stack's registry as its SchemaRegistryConfig (stage parameters
 * `schemaRegistryUri`, `schemaRegistryEventRecordFormat`), as a deployed mapping would.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { clientsFor, ensureIdempotencyTable } from '../../scripts/aws-bootstrap.ts';
import { stackPaths, up } from '../../scripts/stack.ts';
import { type DataFormat, type EventRecordFormat, unframeGlue } from '../lib/formats/index.ts';
import { KafkaClient } from '../lib/kafka/index.ts';
import {
  type LambdaHandler,
  type LocalMappingHandle,
  readMappings,
  SCHEMA_REGISTRY_FAILURE_REASONS,
  startLocalMapping,
} from './esm/index.ts';
import { ensureOrderRegistry, glueClient } from './schemaRegistry/glue.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const { values: args } = parseArgs({
  options: {
    orders: { type: 'string', default: '3000' },
    batch: { type: 'string', default: '100' },
    poison: { type: 'string', default: '30' },
    timeout: { type: 'string', default: '300' },
    format: { type: 'string' },
    'record-format': { type: 'string', default: 'SOURCE' },
  },
});
const FORMATS: readonly DataFormat[] = ['AVRO', 'PROTOBUF', 'JSON'];
const FORMAT = args.format?.toUpperCase() as DataFormat | undefined;
const RECORD_FORMAT = args['record-format'].toUpperCase() as EventRecordFormat;
if (FORMAT !== undefined && !FORMATS.includes(FORMAT)) {
  process.stderr.write(`demo: --format must be avro, protobuf or json, not ${args.format}\n`);
  process.exit(2);
}
if (RECORD_FORMAT !== 'SOURCE' && RECORD_FORMAT !== 'JSON') {
  process.stderr.write(`demo: --record-format must be SOURCE or JSON\n`);
  process.exit(2);
}
const ORDERS = Number(args.orders);
const BATCH = Number(args.batch);
const POISON = Number(args.poison);
const TIMEOUT_MS = Number(args.timeout) * 1000;
const INVALID_EVERY = 7; // one request in 7 carries an invalid order: rejected whole, nothing emitted
const OVER_LIMIT_EVERY = 40; // one order in 40 exceeds the business limit: processed, "rejected"

const out = process.stdout;
const isTty = Boolean(out.isTTY);
// the display's own writers, kept before the handlers' output is sent to the log file
const display = out.write.bind(out);
const displayError = process.stderr.write.bind(process.stderr);
const line = (text: string) => display(`${text}\n`);

/**
 * Sends everything else written to stdout and stderr (the handlers' Powertools logs,
 * which write to process.stdout as in Lambda, and kafkajs) to `file`, synchronously,
 * so nothing is lost at `process.exit`. Powertools Logger has no other destination.
 */
const sendOutputTo = (file: string) => {
  mkdirSync(dirname(file), { recursive: true });
  const fd = openSync(file, 'a');
  const write = (chunk: string | Uint8Array, ...rest: unknown[]) => {
    // writeSync's overloads take a string or bytes, not the union
    if (typeof chunk === 'string') writeSync(fd, chunk);
    else writeSync(fd, chunk);
    const done = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
    done?.();
    return true;
  };
  process.stdout.write = write as typeof process.stdout.write;
  process.stderr.write = write as typeof process.stderr.write;
};

const percentile = (sorted: number[], p: number) =>
  sorted.length === 0
    ? 0
    : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

interface Tally {
  processed: Map<string, { status: string; at: number }>;
  processedRecords: number;
  dlqRecords: number;
  dlqOriginals: Set<string>;
  republished: number;
  parked: Map<string, string>;
  parkedRecords: number;
  /** Orders on `orders` in Glue's framing (--format). */
  framed: number;
}

const main = async () => {
  const started = Date.now();
  const run = randomUUID().slice(0, 8);
  line(
    `order pipeline demo — run ${run}: ${ORDERS} orders in requests of ${BATCH}, ${POISON} poison records`,
  );

  // 1. the stack: a real broker and the AWS emulator
  const stack = await up();
  const env: NodeJS.ProcessEnv = {
    KAFKA_BROKERS: stack.KAFKA_BROKERS,
    KAFKA_AUTH: 'none',
    KAFKA_TLS: 'false',
    AWS_ENDPOINT_URL: stack.AWS_ENDPOINT_URL,
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
    STAGE: 'local',
    IDEMPOTENCY_TABLE: 'msk-order-pipeline-local-idempotency',
    DLQ_MAX_ATTEMPTS: '3',
    // short back-off so poison records reach the parking lot while you watch
    DLQ_BACKOFF_BASE_MS: '200',
    DLQ_BACKOFF_MAX_MS: '1000',
    // the logs go to a file: INFO tells what each invocation did
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    POWERTOOLS_METRICS_DISABLED: 'true',
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
  };
  Object.assign(process.env, env);
  await ensureIdempotencyTable(clientsFor(stack.AWS_ENDPOINT_URL).dynamodb, env.IDEMPOTENCY_TABLE!);
  // --format: the order schemas in the stack's Glue registry, and the format libraries
  const glue = FORMAT ? glueClient(stack.AWS_ENDPOINT_URL, env) : undefined;
  const registry = glue ? await ensureOrderRegistry(glue) : undefined;
  if (registry && FORMAT) {
    // produceOrders writes the orders in that format, Glue-framed with the order schema's
    // version; processOrders reads each with its producer's schema version from the registry
    process.env.ORDER_FORMAT = FORMAT;
    process.env.ORDER_SCHEMA_VERSION_ID = registry.versions.order[FORMAT].schemaVersionId;
    process.env.SCHEMA_REGISTRY_URI = registry.registryArn;
  }
  const registryFailures: string[] = [];
  if (registry)
    line(
      `format: ${FORMAT} orders, schema ${registry.versions.order[FORMAT!].schemaName} in ${registry.registryArn}, delivered in ${RECORD_FORMAT} form`,
    );

  // from here on, what the handlers and clients print goes to the log file
  const logFile = join(stackPaths.STATE_DIR, `demo-${run}.log`);
  sendOutputTo(logFile);

  // 2. the three functions, imported as Lambda would (their init reads the environment)
  const produce = (await import('../handlers/produceOrders.ts')).handler;
  const process_ = (await import('../handlers/processOrders.ts')).handler;
  const republish = (await import('../handlers/republishDlq.ts')).handler;

  // 3. their mappings, as serverless.yml deploys them
  // --format: processOrders' mapping validates against the registry, as deployed with it
  const params: Record<string, string> = registry
    ? { schemaRegistryUri: registry.registryArn, schemaRegistryEventRecordFormat: RECORD_FORMAT }
    : {};
  const mappings = readMappings(join(ROOT, 'serverless.yml'), { stage: 'local', params });
  const handlers: Record<string, LambdaHandler> = {
    processOrders: process_ as never,
    republishDlq: republish as never,
  };
  const reasons: readonly string[] = SCHEMA_REGISTRY_FAILURE_REASONS;
  const running: LocalMappingHandle[] = [];
  for (const mapping of mappings) {
    const handler = handlers[mapping.functionName];
    if (!handler) continue;
    running.push(
      await startLocalMapping({
        mapping,
        handler,
        brokers: stack.KAFKA_BROKERS,
        retryBackoff: { initialMs: 100, maxMs: 2_000 },
        onEvent: (e) => {
          if (e.type === 'on-failure' && reasons.includes(e.condition))
            registryFailures.push(...e.records.map(() => e.condition));
        },
      }),
    );
    line(
      `mapping: ${mapping.topic} → ${mapping.functionName} (batch ${mapping.batchSize}, retries ${mapping.maximumRetryAttempts}, on failure ${mapping.onFailureDestination ?? '—'})`,
    );
  }

  // 4. a reader of every output topic, counting this run's records
  const tally: Tally = {
    processed: new Map(),
    processedRecords: 0,
    dlqRecords: 0,
    dlqOriginals: new Set(),
    republished: 0,
    parked: new Map(),
    parkedRecords: 0,
    framed: 0,
  };
  const client = new KafkaClient({ clientId: 'demo', brokers: stack.KAFKA_BROKERS.split(',') });
  const reader = client.raw.consumer({ groupId: `demo-reader-${run}`, readUncommitted: false });
  await reader.connect();
  const topics = {
    orders: 'orders',
    processed: 'orders.processed',
    dlq: 'orders.dlq',
    parking: 'orders.parking-lot',
  };
  await reader.subscribe({
    topics: [topics.processed, topics.dlq, topics.parking, topics.orders],
    fromBeginning: true,
  });
  const mine = (key: string | undefined) => key?.startsWith(`demo-${run}-`) ?? false;
  const header = (h: Record<string, unknown> | undefined, name: string) => {
    const v = h?.[name];
    return v === undefined ? undefined : String(Array.isArray(v) ? v[v.length - 1] : v);
  };
  await reader.run({
    eachMessage: async ({ topic, message }) => {
      const key = message.key?.toString();
      if (!mine(key)) return;
      const attempts = header(message.headers, 'x-dlq-attempts');
      if (topic === topics.processed) {
        tally.processedRecords++;
        const r = JSON.parse(message.value!.toString()) as { orderId: string; status: string };
        tally.processed.set(r.orderId, { status: r.status, at: Number(message.timestamp) });
      } else if (topic === topics.dlq) {
        tally.dlqRecords++;
        tally.dlqOriginals.add(key!);
      } else if (topic === topics.parking) {
        tally.parkedRecords++;
        tally.parked.set(key!, header(message.headers, 'x-dlq-error-code') ?? '?');
      } else if (topic === topics.orders && attempts !== undefined) {
        tally.republished++;
      } else if (topic === topics.orders && message.value && unframeGlue(message.value)) {
        tally.framed++;
      }
    },
  });

  // 5. the stream: orders through produceOrders, poison straight onto the topic
  const sentAt = new Map<string, number>();
  let emitted = 0;
  let rejectedRequests = 0;
  let rejectedOrders = 0;
  let overLimit = 0;
  const progress = () => {
    const accepted = [...tally.processed.values()].filter((r) => r.status === 'accepted').length;
    const text = `produced ${emitted}/${ORDERS}  processed ${tally.processed.size} (accepted ${accepted})  dead letters ${tally.dlqRecords}  republished ${tally.republished}  parked ${tally.parked.size}/${POISON}`;
    if (isTty) display(`\r${text}   `);
    return text;
  };
  const ticker = setInterval(
    () => {
      const text = progress();
      if (!isTty) line(text);
    },
    isTty ? 250 : 5_000,
  );

  const order = (i: number) => {
    const id = `demo-${run}-${String(i).padStart(6, '0')}`;
    const big = i % OVER_LIMIT_EVERY === 7;
    if (big) overLimit++;
    return {
      orderId: id,
      customerId: `cust-${i % 97}`,
      currency: i % 3 === 0 ? 'JPY' : 'EUR',
      createdAt: new Date().toISOString(),
      items: [
        {
          sku: `SKU-${i % 13}`,
          quantity: 1 + (i % 4),
          unitPrice:
            i % 3 === 0 ? String(100 + i) : `${10 + (i % 90)}.${String(i % 100).padStart(2, '0')}`,
        },
        ...(big ? [{ sku: 'SKU-YACHT', quantity: 3, unitPriceMinor: 99_999_999_999 }] : []),
      ],
    };
  };

  const produceStart = Date.now();
  for (let first = 0, request = 0; first < ORDERS; first += BATCH, request++) {
    const orders = Array.from({ length: Math.min(BATCH, ORDERS - first) }, (_, k) =>
      order(first + k),
    );
    if (request % INVALID_EVERY === INVALID_EVERY - 1) {
      // a client bug: one order with a float price makes the whole request invalid
      const bad = { ...orders[0]!, items: [{ sku: 'SKU-X', quantity: 1, unitPrice: 12.5 }] };
      try {
        await produce({
          idempotencyKey: `demo-${run}-bad-${request}`,
          orders: [bad, ...orders.slice(1)],
        } as never);
      } catch (error) {
        if ((error as { code?: string }).code !== 'INVALID_REQUEST') throw error;
        rejectedRequests++;
      }
    }
    const now = Date.now();
    for (const o of orders) sentAt.set(o.orderId, now);
    const result = (await produce({
      idempotencyKey: `demo-${run}-${request}`,
      orders,
    } as never)) as {
      orders: unknown[];
    };
    // a retry of the same request (as a client would after a timeout) emits nothing again
    if (request % 10 === 0)
      await produce({ idempotencyKey: `demo-${run}-${request}`, orders } as never);
    emitted += result.orders.length;
  }
  rejectedOrders = rejectedRequests * BATCH;
  const producer = client.transactionalProducer(`demo-${run}-bad-upstream`).producer;
  const poison = Array.from({ length: POISON }, (_, i) => ({
    topic: topics.orders,
    key: `demo-${run}-poison-${i}`,
    value:
      i % 3 === 0 ? 'not json at all' : i % 3 === 1 ? JSON.stringify({ orderId: `p-${i}` }) : null,
  }));
  await producer.write(poison);
  const produceMs = Date.now() - produceStart;

  // 6. drained: every valid order has a result, every poison record is parked
  const deadline = Date.now() + TIMEOUT_MS;
  while ((tally.processed.size < emitted || tally.parked.size < POISON) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
  }
  await Promise.all(running.map((m) => m.idle({ timeoutMs: 30_000 }).catch(() => {})));
  await new Promise((r) => setTimeout(r, 1_000)); // late duplicates would show up here
  clearInterval(ticker);
  // the last progress line: the same counts as the summary below, at the same moment
  const final = progress();
  if (isTty) display('\n');
  else line(final);
  const lastResultAt = Math.max(
    produceStart + 1,
    ...[...tally.processed.values()].map((r) => r.at),
  );
  const drainedMs = lastResultAt - produceStart;

  // 7. the summary
  const latencies = [...tally.processed.entries()]
    .map(([id, r]) => r.at - (sentAt.get(id) ?? r.at))
    .sort((a, b) => a - b);
  const accepted = [...tally.processed.values()].filter((r) => r.status === 'accepted').length;
  const rejected = tally.processed.size - accepted;
  const duplicates =
    tally.processedRecords - tally.processed.size + (tally.parkedRecords - tally.parked.size);
  const lost = emitted - tally.processed.size + (POISON - tally.parked.size);
  const balanced =
    lost === 0 && duplicates === 0 && rejected === overLimit && registryFailures.length === 0;

  line('');
  line('┌──────────────────────────────────────────────────────────────');
  line(`│ orders sent              ${ORDERS}`);
  line(
    `│   requests rejected      ${rejectedRequests} (one invalid order made each emit nothing: ${rejectedOrders} orders, sent again fixed)`,
  );
  line(
    `│ orders produced          ${emitted} (one Kafka transaction per request, idempotent per key)`,
  );
  line(
    `│ results processed        ${tally.processed.size}  (accepted ${accepted}, rejected by rules ${rejected}; expected ${overLimit} rejected)`,
  );
  line(`│ poison records           ${POISON}`);
  line(
    `│   dead letters written   ${tally.dlqRecords} (${tally.dlqOriginals.size} records, attempts 1–3 each)`,
  );
  line(`│   republished            ${tally.republished}`);
  line(
    `│   parked                 ${tally.parked.size}  (${[...new Set(tally.parked.values())].join(', ')})`,
  );
  if (FORMAT)
    line(
      `│ registry step            ${FORMAT} in ${RECORD_FORMAT} form; failures ${registryFailures.length}${registryFailures.length > 0 ? ` (${[...new Set(registryFailures)].join(', ')})` : ''}; orders Glue-framed by produceOrders ${tally.framed}`,
    );
  line(`│ duplicates               ${duplicates}`);
  line(`│ lost                     ${lost}`);
  line(
    `│ throughput               ${Math.round((emitted / drainedMs) * 1000)} orders/s from first send to last result (${Math.round((emitted / produceMs) * 1000)} orders/s produced)`,
  );
  line(
    `│ latency produce→result   p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms, p99 ${percentile(latencies, 99)} ms`,
  );
  line(
    `│ invocations              ${running.map((m, i) => `${mappings.filter((x) => handlers[x.functionName])[i]?.functionName} ${m.stats.invocations}`).join(', ')}`,
  );
  line(`│ wall time                ${((Date.now() - started) / 1000).toFixed(1)} s`);
  line(`│ handler logs             ${relative(process.cwd(), logFile) || logFile}`);
  line(
    `└ ${balanced ? 'BALANCED: every valid order exactly once, every poison record parked once' : 'NOT BALANCED'}`,
  );

  await reader.disconnect();
  await Promise.all(running.map((m) => m.stop()));
  await client.close();
  glue?.destroy();
  return balanced ? 0 : 1;
};

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    displayError(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
