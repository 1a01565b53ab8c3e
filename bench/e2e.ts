/**
 * `e2e`: orders per second and latency from a transactional produce to the result's
 * arrival in `orders.processed` (read `read_committed`), through the local
 * event-source mapping (`src/local/esm`, configured as `serverless.yml` configures
 * processOrders' mapping) and processOrders, on a topic set of its own.
 * Two phases: a burst (throughput; latency there is mostly queueing), then a light
 * paced load (latency as one order sees it). No baseline: the fault suite guards
 * correctness; this reports.
 */
import { join } from 'node:path';
import { readPipelineConfig } from '../src/lib/config.ts';
import { createProcessOrdersHandler } from '../src/lib/delivery/processOrders.ts';
import type { KafkaBatchResponse, MSKEvent } from '../src/lib/events/types.ts';
import type { OutboundMessage } from '../src/lib/kafka/types.ts';
import { readMappings, startLocalMapping } from '../src/local/esm/index.ts';
import type { LambdaHandler, LocalMappingEvent } from '../src/local/esm/types.ts';
import { orderFixture, traceparentFixture } from '../test/support/fixtures.ts';
import { benchBrokers, benchClient, createBenchTopics } from './broker.ts';
import { ROOT } from './init.ts';
import { percentileSorted, round, runId } from './stats.ts';

export interface E2eResult {
  /** Burst: orders / (last arrival − first produce). */
  recordsPerSec: number;
  /**
   * Burst latency: arrival in `orders.processed` − the moment its produce transaction
   * started. Under a burst this is mostly time queued behind earlier orders.
   */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The same latency at a light, steady load (after the burst drained). */
  paced: { orders: number; perSecond: number; p50Ms: number; p99Ms: number };
  orders: number;
  /** Results read more than once (must be 0: exactly-once effects). */
  duplicates: number;
  /** Which processOrders ran behind the mapping. */
  handler: string;
  mapping: { batchSize: number; maximumBatchingWindowInSeconds: number };
  invocations: number;
  /** Orders per produce transaction. */
  produceChunk: number;
  /** How long producing all orders took. */
  produceMs: number;
}

const emptyEvent = (): MSKEvent => ({
  eventSource: 'aws:kafka',
  eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/bench/0',
  bootstrapServers: benchBrokers().join(','),
  records: {},
});

/**
 * The handler module when it works (it reads its configuration from the environment
 * set here), else the same core built from the library, said so in the report.
 */
const loadHandler = async (
  env: Record<string, string>,
  log: (line: string) => void,
): Promise<{ handler: LambdaHandler; name: string; close: () => Promise<void> }> => {
  Object.assign(process.env, env);
  try {
    const mod = await import('../src/handlers/processOrders.ts');
    await mod.handler(emptyEvent() as never, {} as never);
    return {
      handler: mod.handler as LambdaHandler,
      name: 'src/handlers/processOrders.ts',
      close: async () => {},
    };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    log(`e2e: src/handlers/processOrders.ts cannot run (${why}); using createProcessOrdersHandler`);
  }
  const client = benchClient(`${env.SERVICE_NAME}-fn`);
  const handler = createProcessOrdersHandler({
    config: readPipelineConfig(env),
    kafka: async () => client,
  });
  return {
    handler: handler as (event: unknown) => Promise<KafkaBatchResponse>,
    name: 'createProcessOrdersHandler (src/lib/delivery/processOrders.ts)',
    close: () => client.close(),
  };
};

/**
 * Measures `e2e`: produces `orders` valid orders in transactions of `chunk`, as fast
 * as they commit, then a paced trickle, while the mapping feeds processOrders and a
 * `read_committed` consumer timestamps each result's arrival.
 */
export const measureE2e = async (options: {
  quick: boolean;
  log: (line: string) => void;
}): Promise<E2eResult> => {
  const orders = options.quick ? 2_000 : 20_000;
  const chunk = options.quick ? 200 : 500;
  const timeoutMs = options.quick ? 30_000 : 120_000;
  const paced = options.quick ? { orders: 300, perSecond: 200 } : { orders: 1_000, perSecond: 200 };
  const id = `bench-e2e-${runId()}`;
  const topics = {
    TOPIC_ORDERS: `${id}.orders`,
    TOPIC_PROCESSED: `${id}.processed`,
    TOPIC_DLQ: `${id}.dlq`,
    TOPIC_PARKING_LOT: `${id}.parking-lot`,
    TOPIC_CHECKPOINTS: `${id}.checkpoints`,
  };
  const env: Record<string, string> = {
    ...topics,
    SERVICE_NAME: id,
    STAGE: 'bench',
    KAFKA_BROKERS: benchBrokers().join(','),
    KAFKA_AUTH: 'none',
    KAFKA_TLS: 'false',
  };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));

  const client = benchClient(id);
  const dropTopics = await createBenchTopics(
    client,
    Object.values(topics).map((topic) => ({
      topic,
      partitions: 3,
      ...(topic === topics.TOPIC_CHECKPOINTS && { config: { 'cleanup.policy': 'compact' } }),
    })),
  );
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    const fn = await loadHandler(env, options.log);
    cleanups.push(fn.close);

    const template = readMappings(join(ROOT, 'serverless.yml')).find(
      (m) => m.functionName === 'processOrders',
    );
    if (!template) throw new Error('serverless.yml has no Kafka mapping for processOrders');
    const mapping = {
      ...template,
      topic: topics.TOPIC_ORDERS,
      consumerGroupId: `${id}-esm`,
      onFailureDestination: topics.TOPIC_DLQ,
      environment: env,
    };
    const problems: string[] = [];
    const onEvent = (event: LocalMappingEvent) => {
      if (event.type === 'invocation' && event.outcome !== 'ok')
        problems.push(`${event.outcome}: ${event.error ?? JSON.stringify(event.failures)}`);
      else if (event.type !== 'invocation')
        problems.push(`${event.type}: ${JSON.stringify(event)}`);
    };

    // Results: read_committed, timestamped on arrival.
    const sentAt = new Map<string, number>();
    const arrivedAt = new Map<string, number>();
    let duplicates = 0;
    let waiting: { count: number; resolve: () => void } | undefined;
    const reader = client.raw.consumer({
      groupId: `${id}-reader`,
      readUncommitted: false,
      maxWaitTimeInMs: 100,
    });
    const readerJoined = new Promise<void>((resolve) =>
      reader.on(reader.events.GROUP_JOIN, () => resolve()),
    );
    cleanups.push(() => reader.disconnect());
    await reader.connect();
    await reader.subscribe({ topic: topics.TOPIC_PROCESSED, fromBeginning: true });
    await reader.run({
      eachBatch: async ({ batch }) => {
        const now = performance.now();
        for (const message of batch.messages) {
          const key = message.key?.toString('utf8') ?? '';
          if (arrivedAt.has(key)) duplicates++;
          else arrivedAt.set(key, now);
        }
        if (waiting && arrivedAt.size >= waiting.count) waiting.resolve();
      },
    });

    const esm = await startLocalMapping({
      mapping,
      handler: fn.handler,
      brokers: benchBrokers(),
      clientId: `${id}-esm`,
      onEvent,
    });
    cleanups.unshift(() => esm.stop());
    await readerJoined;

    const { producer } = client.transactionalProducer(`${id}-producer`);
    await producer.init();
    /** Produces orders `from` to `to` in transactions of `size`, `gapMs` apart (0: back to back). */
    const produce = async (from: number, to: number, size: number, gapMs: number) => {
      for (let start = from; start < to; start += size) {
        const began = performance.now();
        const messages: OutboundMessage[] = [];
        for (let i = start; i < Math.min(to, start + size); i++) {
          const order = orderFixture(i);
          messages.push({
            topic: topics.TOPIC_ORDERS,
            key: order.orderId,
            value: JSON.stringify(order),
            headers: { traceparent: traceparentFixture(i) },
          });
        }
        const now = performance.now();
        for (const m of messages) sentAt.set(m.key as string, now);
        await producer.write(messages);
        const rest = gapMs - (performance.now() - began);
        if (rest > 0) await new Promise((r) => setTimeout(r, rest));
      }
    };
    const arrivalOf = async (count: number) => {
      let timer: NodeJS.Timeout | undefined;
      const all = new Promise<void>((resolve) => {
        waiting = { count, resolve };
        if (arrivedAt.size >= count) resolve();
      });
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const outcome = await Promise.race([all, timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout')
        throw new Error(
          `e2e: ${arrivedAt.size} of ${count} results arrived within ${timeoutMs} ms; mapping ${JSON.stringify(esm.stats)}; ${problems.slice(0, 3).join(' | ')}`,
        );
    };
    const latencies = (from: number, to: number) => {
      const out: number[] = [];
      let last = 0;
      for (let i = from; i < to; i++) {
        const key = orderFixture(i).orderId;
        const arrived = arrivedAt.get(key)!;
        out.push(arrived - sentAt.get(key)!);
        last = Math.max(last, arrived);
      }
      return { sorted: out.sort((a, b) => a - b), last };
    };

    options.log(
      `e2e: burst of ${orders} orders in transactions of ${chunk}, then ${paced.orders} paced at ${paced.perSecond}/s → mapping (batch ${mapping.batchSize}, window ${mapping.maximumBatchingWindowInSeconds} s) → ${fn.name}`,
    );
    const firstSent = performance.now();
    await produce(0, orders, chunk, 0);
    const produceMs = performance.now() - firstSent;
    await arrivalOf(orders);
    const burst = latencies(0, orders);

    const pacedChunk = Math.max(1, Math.round(paced.perSecond / 10));
    await produce(orders, orders + paced.orders, pacedChunk, 100);
    await arrivalOf(orders + paced.orders);
    const light = latencies(orders, orders + paced.orders);
    if (problems.length > 0)
      options.log(`e2e: the mapping reported ${problems.length} problem(s): ${problems[0]}`);

    return {
      recordsPerSec: Math.round((orders / (burst.last - firstSent)) * 1000),
      p50Ms: round(percentileSorted(burst.sorted, 50)),
      p99Ms: round(percentileSorted(burst.sorted, 99)),
      maxMs: round(burst.sorted[burst.sorted.length - 1]!),
      paced: {
        orders: paced.orders,
        perSecond: paced.perSecond,
        p50Ms: round(percentileSorted(light.sorted, 50)),
        p99Ms: round(percentileSorted(light.sorted, 99)),
      },
      orders,
      duplicates,
      handler: fn.name,
      mapping: {
        batchSize: mapping.batchSize,
        maximumBatchingWindowInSeconds: mapping.maximumBatchingWindowInSeconds,
      },
      invocations: esm.stats.invocations,
      produceChunk: chunk,
      produceMs: round(produceMs),
    };
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => {});
    await client.close();
    await dropTopics();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
};
