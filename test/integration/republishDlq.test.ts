import { afterAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../src/lib/config.ts';
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { createRepublishDlqHandler } from '../../src/lib/delivery/republishDlq.ts';
import { PoisonRecordError } from '../../src/lib/errors.ts';
import { buildOnFailureEnvelope } from '../../src/lib/events/onFailureEnvelope.ts';
import type { KafkaBatchResponse } from '../../src/lib/events/types.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { orderFixture, traceparentFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { type KcatRecord, kcatRead, kcatWrite } from '../support/kcat.ts';
import { mskEventFromKcat } from '../support/mskEvent.ts';
import { kafkaBrokers } from '../support/stackEnv.ts';

const clients: KafkaClient[] = [];
const newClient = () => {
  const c = new KafkaClient({
    clientId: 'republish-dlq-test',
    brokers: kafkaBrokers().split(','),
  });
  clients.push(c);
  return c;
};

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

/** Fresh topics and a service name no other test shares; no back-off unless asked. */
const isolatedConfig = async (
  env: Record<string, string> = {},
  partitions = { dlq: 3 },
): Promise<PipelineConfig> => {
  const config = isolatedPipelineConfig('rd', {
    DLQ_MAX_ATTEMPTS: '3',
    DLQ_BACKOFF_BASE_MS: '0',
    ...env,
  });
  await createPipelineTopics(newClient(), config, { dlq: partitions.dlq, parkingLot: 1 });
  return config;
};

const POISON = orderFixture(1);
const GOOD = orderFixture(2);
const TRACEPARENT = traceparentFixture(1);

/** processOrders whose business code rejects one order id as a schema violation. */
const processOrders = (config: PipelineConfig, client = newClient()) =>
  createProcessOrdersHandler({
    config,
    kafka: async () => client,
    beforeRecord: (record) => {
      const order = JSON.parse(record.value?.toString() ?? 'null') as { orderId?: string } | null;
      if (order?.orderId === POISON.orderId)
        throw new PoisonRecordError('SCHEMA_VIOLATION', `injected: ${POISON.orderId} is invalid`);
    },
  });

type Handler = (
  event: unknown,
  context?: { getRemainingTimeInMillis: () => number },
) => Promise<KafkaBatchResponse>;

/**
 * Delivers what is new in `topic` (read back with kcat, read_committed) to a handler,
 * as the event-source mapping would: `seen` holds the next offset per partition.
 */
const deliverNew = async (
  topic: string,
  handler: Handler,
  seen: Map<number, number>,
  context?: { getRemainingTimeInMillis: () => number },
) => {
  const fresh = (await kcatRead(topic)).filter((r) => r.offset >= (seen.get(r.partition) ?? 0));
  if (fresh.length === 0) throw new Error(`nothing new in ${topic}`);
  const response = await handler(mskEventFromKcat(fresh), context);
  for (const r of fresh) {
    const failed = response.batchItemFailures.find(
      (f) => f.itemIdentifier.partition === `${topic}-${r.partition}`,
    );
    if (!failed || r.offset < failed.itemIdentifier.offset)
      seen.set(r.partition, Math.max(seen.get(r.partition) ?? 0, r.offset + 1));
  }
  return { response, delivered: fresh };
};

const all = (record: KcatRecord, name: string) =>
  record.headers.filter(([n]) => n === name).map(([, v]) => v);
const ofOrder = (records: KcatRecord[], orderId: string) =>
  records.filter((r) => r.key === orderId);

describe('republishDlq against a real broker', () => {
  it('runs orders → dlq (1) → orders (2) → dlq (2) → orders (3) → dlq (3) → parking lot', async () => {
    // Prepare
    const config = await isolatedConfig();
    const { orders, dlq, parkingLot, processed } = config.topics;
    const headers = { traceparent: TRACEPARENT, 'x-tenant': 'acme' };
    await kcatWrite(orders, JSON.stringify(POISON), { key: POISON.orderId, headers });
    await kcatWrite(orders, JSON.stringify(GOOD), { key: GOOD.orderId, headers });
    const process = processOrders(config);
    const republish = createRepublishDlqHandler({ config, kafka: async () => newClient() });
    const ordersSeen = new Map<number, number>();
    const dlqSeen = new Map<number, number>();
    const responses: KafkaBatchResponse[] = [];

    // Act: the two mappings, one after the other, until the parking lot holds the order
    for (let pass = 1; pass <= 3; pass++) {
      responses.push((await deliverNew(orders, process, ordersSeen)).response);
      responses.push((await deliverNew(dlq, republish, dlqSeen)).response);
    }

    // Assess
    for (const response of responses) expect(response.batchItemFailures).toEqual([]);
    // partitions may differ between passes (kcat and kafkajs partition differently)
    const attemptOf = (r: KcatRecord) => Number(r.header[DLQ_HEADERS.attempts] ?? '1');
    const inOrders = ofOrder(await kcatRead(orders), POISON.orderId).sort(
      (a, b) => attemptOf(a) - attemptOf(b),
    );
    const inDlq = ofOrder(await kcatRead(dlq), POISON.orderId);
    const parked = await kcatRead(parkingLot);
    expect(inOrders.map((r) => r.header[DLQ_HEADERS.attempts])).toEqual([undefined, '2', '3']);
    expect(inDlq.map((r) => r.header[DLQ_HEADERS.attempts]).sort()).toEqual(['1', '2', '3']);
    expect(parked).toHaveLength(1);
    const [last] = parked;
    // the original key, value and headers travelled the whole way
    for (const r of [...inOrders, ...inDlq, last!]) {
      expect(r.key).toBe(POISON.orderId);
      expect(r.value).toBe(JSON.stringify(POISON));
      expect(r.header.traceparent).toBe(TRACEPARENT);
      expect(r.header['x-tenant']).toBe('acme');
    }
    // and so did its story
    const first = inOrders[0]!;
    expect(last!.header[DLQ_HEADERS.attempts]).toBe('3');
    expect(last!.header[DLQ_HEADERS.errorCode]).toBe('SCHEMA_VIOLATION');
    expect(last!.header[DLQ_HEADERS.originalTopic]).toBe(orders);
    expect(last!.header[DLQ_HEADERS.originalPartition]).toBe(String(first.partition));
    expect(last!.header[DLQ_HEADERS.originalOffset]).toBe(String(first.offset));
    expect(last!.header[DLQ_HEADERS.source]).toBe('handler');
    const history = all(last!, DLQ_HEADERS.history).map((h) => JSON.parse(h));
    expect(history.map((h) => [h.attempt, h.code, h.topic, `${h.partition}:${h.offset}`])).toEqual(
      inOrders.map((r, i) => [i + 1, 'SCHEMA_VIOLATION', orders, `${r.partition}:${r.offset}`]),
    );
    expect(last!.header[DLQ_HEADERS.firstFailedAt]).toBe(history[0].failedAt);
    expect(last!.header[DLQ_HEADERS.failedAt]).toBe(history[2].failedAt);
    // the valid order was processed once, and never dead-lettered
    const results = await kcatRead(processed);
    expect(results.map((r) => r.key)).toEqual([GOOD.orderId]);
  });

  it('delivers the same DLQ batch again, warm and cold, without republishing anything twice', async () => {
    // Prepare
    const config = await isolatedConfig();
    const { orders, dlq, parkingLot } = config.topics;
    await kcatWrite(orders, JSON.stringify(POISON), { key: POISON.orderId });
    await kcatWrite(dlq, 'garbage', { key: 'g-1' });
    await deliverNew(orders, processOrders(config), new Map());
    const batch = mskEventFromKcat(await kcatRead(dlq));
    const warmClient = newClient();
    const warm = createRepublishDlqHandler({ config, kafka: async () => warmClient });
    const cold = createRepublishDlqHandler({ config, kafka: async () => newClient() });

    // Act
    const responses = [await warm(batch), await warm(batch), await cold(batch)];

    // Assess
    for (const response of responses) expect(response.batchItemFailures).toEqual([]);
    const republished = (await kcatRead(orders)).filter((r) => r.header[DLQ_HEADERS.attempts]);
    expect(republished.map((r) => r.header[DLQ_HEADERS.attempts])).toEqual(['2']);
    expect((await kcatRead(parkingLot)).map((r) => r.key)).toEqual(['g-1']);
  });

  it('republishes the record of an AWS on-failure envelope with its original key, value and headers', async () => {
    // Prepare
    const config = await isolatedConfig();
    const { orders, dlq, processed } = config.topics;
    const order = orderFixture(3);
    const envelope = buildOnFailureEnvelope({
      record: {
        topic: orders,
        partition: 2,
        offset: 41,
        key: order.orderId,
        value: JSON.stringify(order),
        headers: { traceparent: traceparentFixture(3), 'x-tenant': 'acme' },
      },
      bootstrapServers: kafkaBrokers(),
      requestId: 'c0ffee00-0000-4000-8000-000000000001',
      functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${config.service}-test-processOrders`,
      approximateInvokeCount: 11,
      condition: 'RetryAttemptsExhausted',
    });
    await kcatWrite(dlq, JSON.stringify(envelope), { key: order.orderId });
    const republish = createRepublishDlqHandler({ config, kafka: async () => newClient() });

    // Act
    const response = (await deliverNew(dlq, republish, new Map())).response;
    // the republished order now goes through processOrders like any other
    await deliverNew(orders, processOrders(config), new Map());

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const [again, ...more] = await kcatRead(orders);
    expect(more).toEqual([]);
    expect(again!.key).toBe(order.orderId);
    expect(again!.value).toBe(JSON.stringify(order));
    expect(again!.header.traceparent).toBe(traceparentFixture(3));
    expect(again!.header['x-tenant']).toBe('acme');
    expect(again!.header[DLQ_HEADERS.source]).toBe('esm-on-failure');
    expect(again!.header[DLQ_HEADERS.errorCode]).toBe('RETRIES_EXHAUSTED');
    expect(again!.header[DLQ_HEADERS.errorMessage]).toContain('RetryAttemptsExhausted');
    expect(again!.header[DLQ_HEADERS.attempts]).toBe('2');
    expect(again!.header[DLQ_HEADERS.originalTopic]).toBe(orders);
    expect(again!.header[DLQ_HEADERS.originalPartition]).toBe('2');
    expect(again!.header[DLQ_HEADERS.originalOffset]).toBe('41');
    expect(again!.header[DLQ_HEADERS.failedAt]).toBe(envelope.timestamp);
    expect((await kcatRead(processed)).map((r) => r.key)).toEqual([order.orderId]);
  });

  it('parks what it cannot understand, never dropping it, and the batch goes on', async () => {
    // Prepare
    const config = await isolatedConfig({}, { dlq: 1 });
    const { orders, dlq, parkingLot } = config.topics;
    await kcatWrite(dlq, 'garbage', { key: 'g-1' });
    await kcatWrite(dlq, JSON.stringify(GOOD), {
      key: 'g-2',
      headers: { [DLQ_HEADERS.originalTopic]: orders, 'x-tenant': 'acme' },
    });
    await kcatWrite(dlq, '{"requestContext":{"condition":"RetriesExhausted"},"payload":{}}', {
      key: 'g-3',
    });
    const republish = createRepublishDlqHandler({ config, kafka: async () => newClient() });

    // Act
    const { response, delivered } = await deliverNew(dlq, republish, new Map());

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const parked = await kcatRead(parkingLot);
    expect(parked.map((r) => [r.key, r.value])).toEqual(delivered.map((r) => [r.key, r.value]));
    for (const r of parked) {
      expect(r.header[DLQ_HEADERS.errorCode]).toBe('UNDECODABLE_DEAD_LETTER');
      for (const name of Object.values(DLQ_HEADERS).filter((n) => n !== DLQ_HEADERS.valueEncoding))
        expect(r.header[name], `${name} of ${r.key}`).toBeTruthy();
    }
    expect(parked[1]!.header['x-tenant']).toBe('acme');
    expect(await kcatRead(orders)).toEqual([]);
  });

  it('honours x-dlq-not-before: stops when the wait does not fit, waits in-process when it does', async () => {
    // Prepare: one DLQ partition, so the second dead letter queues behind the first
    const config = await isolatedConfig({ DLQ_BACKOFF_BASE_MS: '4000' }, { dlq: 1 });
    const { orders, dlq } = config.topics;
    await kcatWrite(orders, JSON.stringify(POISON), { key: POISON.orderId, partition: 0 });
    await kcatWrite(orders, JSON.stringify({ ...POISON, note: 'second' }), {
      key: POISON.orderId,
      partition: 0,
    });
    await deliverNew(orders, processOrders(config), new Map());
    const letters = await kcatRead(dlq);
    const notBefore = letters.map((r) => Date.parse(r.header[DLQ_HEADERS.notBefore]!));
    const republish = createRepublishDlqHandler({ config, kafka: async () => newClient() });
    const dlqSeen = new Map<number, number>();

    // Act
    const short = await deliverNew(dlq, republish, dlqSeen, {
      getRemainingTimeInMillis: () => 4_000,
    });
    const afterShort = await kcatRead(orders);
    const long = await deliverNew(dlq, republish, dlqSeen, {
      getRemainingTimeInMillis: () => 60_000,
    });
    const finishedAt = Date.now();

    // Assess
    expect(letters).toHaveLength(2);
    expect(notBefore[0]! - Date.parse(letters[0]!.header[DLQ_HEADERS.failedAt]!)).toBe(4_000);
    expect(short.response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: `${dlq}-0`, offset: letters[0]!.offset } },
    ]);
    expect(afterShort).toHaveLength(2); // nothing republished, the later letter held back too
    expect(long.response.batchItemFailures).toEqual([]);
    expect(finishedAt).toBeGreaterThanOrEqual(Math.max(...notBefore));
    const republished = (await kcatRead(orders)).filter((r) => r.header[DLQ_HEADERS.attempts]);
    expect(republished.map((r) => r.header[DLQ_HEADERS.attempts])).toEqual(['2', '2']);
  });
});
