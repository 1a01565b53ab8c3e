/**
 * A black-box check of processOrders' exactly-once with Kafka's own tools
 * (`org.apache.kafka:kafka-tools`, the broker's version), after Kafka's transactions
 * system test (`transactions_test.py`): Kafka's console producer (idempotent, `acks=all`)
 * seeds an isolated `orders` topic with valid orders read from a file, Kafka's
 * VerifiableProducer adds bare integers that processOrders must dead-letter; processOrders
 * runs behind the local event-source mapping of serverless.yml while the broker is killed
 * (SIGKILL) and restarted mid-stream, and crashes twice after a commit (before the kill and
 * after the restart); then Kafka's console consumer reads
 * `orders.processed` and `orders.dlq` `read_committed`. Pass: every input offset exactly
 * once across the two topics, no duplicates, and per-partition order in each output
 * partition (checked per input partition, since results are keyed by order id).
 *
 * It kills the shared broker: run it alone (CI runs integration files one at a time).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Context } from 'aws-lambda';
import { afterAll, describe, expect, it } from 'vitest';
import { killBroker, startBroker } from '../../scripts/stack.ts';
import { functionPrefix } from '../../src/lib/config.ts';
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import type { KafkaBatchResponse } from '../../src/lib/events/types.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import type { OrderResult } from '../../src/lib/orders/rules.ts';
import {
  type LocalMapping,
  type LocalMappingHandle,
  readMappings,
  startLocalMapping,
} from '../../src/local/esm/index.ts';
import {
  type CheckedInput,
  type CheckedOutput,
  checkExactlyOnce,
} from '../support/exactlyOnceCheck.ts';
import { orderFixture, overLimitOrderFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import {
  type ConsoleRecord,
  consoleConsume,
  consoleProduce,
  kafkaToolsWorkdir,
  stopKafkaTools,
  verifiableProduce,
} from '../support/kafkaTools.ts';
import { kafkaBrokers } from '../support/stackEnv.ts';

/** Valid orders per console-producer run; one run before the kill, one after the restart. */
const ORDERS_PER_RUN = 2_000;
/** Integers per VerifiableProducer run, beside each console-producer run. */
const POISON_PER_RUN = 200;
/** The broker is killed once this many results are committed (of the first runs' 2,000). */
const KILL_AFTER_RESULTS = 800;
/**
 * processOrders crashes after its 4th partition commit and after the 3rd one following the
 * restart, before its response (a Lambda that dies after the commit): the mapping delivers
 * the committed batch again, to a new container, which must skip it.
 */
const CRASH_AFTER_COMMIT = 4;
const CRASH_AFTER_RESTART_COMMITS = 3;
const BUDGET_MS = 150_000;

type Handler = (event: unknown, context?: Partial<Context>) => Promise<KafkaBatchResponse>;

const clients: KafkaClient[] = [];
const newClient = (clientId: string) => {
  const c = new KafkaClient({ clientId, brokers: kafkaBrokers().split(',') });
  clients.push(c);
  return c;
};
let mapping: LocalMappingHandle | undefined;
let brokerDown = false;

afterAll(async () => {
  stopKafkaTools();
  // a failure during the outage must not leave the shared stack without its broker
  if (brokerDown) await startBroker();
  await mapping?.stop().catch(() => {});
  await Promise.allSettled(clients.map((c) => c.close()));
}, 120_000);

const waitFor = async (what: string, done: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
};

/** A file of orders `from` to `from + count - 1`, one `<orderId>\t<order JSON>` line each. */
const ordersFile = (name: string, from: number, count: number) => {
  const file = join(kafkaToolsWorkdir(), name);
  const lines = Array.from({ length: count }, (_, k) => {
    const i = from + k;
    // every 50th over the limit: a rejection is a result, not a dead letter
    const order = i % 50 === 49 ? overLimitOrderFixture(i) : orderFixture(i);
    return `${order.orderId}\t${JSON.stringify(order)}\n`;
  });
  writeFileSync(file, lines.join(''));
  return file;
};

const isBareInteger = (value: string | null) => value !== null && /^\d+$/.test(value);

describe("exactly once, as Kafka's own tools see it", () => {
  it('passes the transactions system test criteria through a broker kill', async () => {
    const started = Date.now();
    const left = () => Math.max(1_000, started + BUDGET_MS - Date.now());

    // Prepare: isolated topics and processOrders in one warm container, replaced after a crash
    const config = isolatedPipelineConfig('kafkatools');
    const { topics } = config;
    await createPipelineTopics(newClient('kafkatools-admin'), config);
    const counts = { results: 0, deadLetters: 0, containers: 0, crashes: 0, commits: 0 };
    const crashAfter = new Set([CRASH_AFTER_COMMIT]);
    let warm: { client: KafkaClient; handler: Handler } | undefined;
    const handler: Handler = async (event, context) => {
      if (!warm) {
        const client = newClient(`kafkatools-processOrders-${++counts.containers}`);
        const created = createProcessOrdersHandler({
          config,
          kafka: async () => client,
          onOutcome: (outcome) => {
            if (outcome.kind === 'ok') counts.results++;
            if (outcome.kind === 'poison') counts.deadLetters++;
          },
          afterCommit: () => {
            if (crashAfter.has(++counts.commits))
              throw new Error(`injected: crash after commit ${counts.commits}`);
          },
        });
        warm = { client, handler: created };
      }
      const container = warm;
      try {
        return await container.handler(event, context);
      } catch (error) {
        // the process is gone: its connections with it, the next invocation starts cold
        counts.crashes++;
        warm = undefined;
        void container.client.close();
        throw error;
      }
    };
    const deployed = readMappings(
      fileURLToPath(new URL('../../serverless.yml', import.meta.url)),
    ).find((m) => m.functionName === 'processOrders');
    if (!deployed) throw new Error('serverless.yml has no mapping for processOrders');
    const local: LocalMapping = {
      ...deployed,
      environment: {},
      topic: topics.orders,
      consumerGroupId: functionPrefix(config, 'processOrders'),
      // Retries until the broker is back, without the on-failure destination: no
      // republishDlq runs here to bring an AWS envelope back, and the check is of
      // processOrders' own transactions (the fault suite covers that path)
      maximumRetryAttempts: -1,
      onFailureDestination: undefined,
      timeoutSeconds: 30,
    };
    const tools = { consoleMs: 0, verifiableMs: 0, consumerMs: 0 };
    const seed = async (run: number) => {
      const file = ordersFile(`orders-${run}.txt`, run * ORDERS_PER_RUN, ORDERS_PER_RUN);
      const [consoleRun, verifiable] = await Promise.all([
        consoleProduce(topics.orders, file),
        verifiableProduce(topics.orders, POISON_PER_RUN),
      ]);
      tools.consoleMs += consoleRun.ms;
      tools.verifiableMs += verifiable.run.ms;
      return verifiable.acked.length;
    };

    // Act 1: both producers seed the first half, then the mapping starts
    let acked = await seed(0);
    mapping = await startLocalMapping({
      mapping: local,
      handler,
      brokers: kafkaBrokers(),
      retryBackoff: { initialMs: 50, maxMs: 2_000 },
    });

    // Act 2: SIGKILL mid-stream, then the broker comes back with its data
    await waitFor(
      `${KILL_AFTER_RESULTS} results before the kill`,
      () => counts.results >= KILL_AFTER_RESULTS,
      left(),
    );
    const resultsAtKill = counts.results;
    brokerDown = true;
    const downAt = Date.now();
    if (!(await killBroker()))
      throw new Error('the kill needs the broker of scripts/stack.ts (no KAFKA_BROKERS)');
    await sleep(1_000);
    await startBroker();
    brokerDown = false;
    const outageMs = Date.now() - downAt;
    crashAfter.add(counts.commits + CRASH_AFTER_RESTART_COMMITS);

    // Act 3: the second half, produced after the restart, then until caught up
    acked += await seed(1);
    const expected = 2 * (ORDERS_PER_RUN + POISON_PER_RUN);
    await waitFor(
      'every input committed',
      () => counts.results + counts.deadLetters >= expected,
      left(),
    );
    await mapping.idle({ timeoutMs: left() });
    await mapping.stop();
    const stats = { ...mapping.stats };

    // Assess: Kafka's console consumer reads the three topics
    const read = async (topic: string, isolation?: 'read_uncommitted') => {
      const { records, run } = await consoleConsume(topic, { isolation, timeoutMs: left() });
      tools.consumerMs = Math.max(tools.consumerMs, run.ms);
      return records;
    };
    const [orders, processed, dlq, processedUncommitted] = await Promise.all([
      read(topics.orders),
      read(topics.processed),
      read(topics.dlq),
      // what aborted transactions left in the log, filtered by read_committed
      read(topics.processed, 'read_uncommitted'),
    ]);

    // the inputs are what the topic holds: order JSON (keyed by its id) or a bare integer
    const inputs: CheckedInput[] = orders.map((r) =>
      isBareInteger(r.value)
        ? { ...r, expect: topics.dlq }
        : { ...r, expect: topics.processed, id: r.key ?? '' },
    );
    const result = (r: ConsoleRecord): CheckedOutput => {
      const value = JSON.parse(r.value ?? 'null') as OrderResult;
      return { ...r, source: value.source!, id: value.orderId };
    };
    const deadLetter = (r: ConsoleRecord): CheckedOutput => ({
      ...r,
      source: {
        topic: r.header[DLQ_HEADERS.originalTopic] ?? '',
        partition: Number(r.header[DLQ_HEADERS.originalPartition]),
        offset: Number(r.header[DLQ_HEADERS.originalOffset]),
      },
    });
    const findings = checkExactlyOnce(inputs, [...processed.map(result), ...dlq.map(deadLetter)]);
    const errorCodes = Object.groupBy(dlq, (r) => r.header[DLQ_HEADERS.errorCode] ?? 'none');
    const orderIds = new Set(inputs.flatMap((i) => (i.id ? [i.id] : [])));

    console.log(
      [
        `kafka-tools check ${config.service}: ${((Date.now() - started) / 1_000).toFixed(1)} s`,
        `  inputs        ConsoleProducer ${orderIds.size} orders (2 runs, ${tools.consoleMs} ms), VerifiableProducer ${acked} integers (2 runs, ${tools.verifiableMs} ms); topic ${orders.length}`,
        `  faults        broker SIGKILL 1 (outage ${outageMs} ms, at ${resultsAtKill} results), crash after commit 2`,
        `  mapping       ${stats.invocations} invocations, ${stats.partialFailures} partial, ${stats.failedInvocations} failed; containers ${counts.containers}, crashes ${counts.crashes} (after commits ${[...crashAfter].join(' and ')} of ${counts.commits})`,
        `  read back     ConsoleConsumer read_committed (slowest ${tools.consumerMs} ms): results ${processed.length}, dead letters ${dlq.length} (${Object.entries(
          errorCodes,
        )
          .map(([code, list]) => `${code} ${list?.length}`)
          .join(
            ', ',
          )}); read_uncommitted ${processedUncommitted.length} results (aborted ${processedUncommitted.length - processed.length})`,
        `  check         duplicates ${findings.duplicates.length}, lost ${findings.lost.length}, order violations ${findings.orderViolations.length}, misplaced ${findings.misplaced.length}`,
        ...[
          ...findings.lost,
          ...findings.duplicates,
          ...findings.orderViolations,
          ...findings.misplaced,
        ]
          .slice(0, 10)
          .map((line) => `    ${line}`),
      ].join('\n'),
    );

    // the seed is what the producers were asked to write, each once
    expect(orderIds.size).toBe(2 * ORDERS_PER_RUN);
    expect(inputs.filter((i) => i.expect === topics.processed)).toHaveLength(2 * ORDERS_PER_RUN);
    expect(inputs.filter((i) => i.expect === topics.dlq)).toHaveLength(acked);
    expect(acked).toBe(2 * POISON_PER_RUN);
    // the transactions system test's criteria
    expect(findings.lost.slice(0, 5)).toEqual([]);
    expect(findings.duplicates.slice(0, 5)).toEqual([]);
    expect(findings.orderViolations.slice(0, 5)).toEqual([]);
    expect(findings.misplaced.slice(0, 5)).toEqual([]);
    expect(processed).toHaveLength(2 * ORDERS_PER_RUN);
    expect(dlq).toHaveLength(2 * POISON_PER_RUN);
    // a bare integer is JSON, but no order
    expect(Object.keys(errorCodes)).toEqual(['SCHEMA_VIOLATION']);
    // the kill hit the stream (partial batches), the crashes happened (failed invocations)
    expect(stats.partialFailures).toBeGreaterThan(0);
    expect(counts.crashes).toBe(2);
  }, 170_000);
});
