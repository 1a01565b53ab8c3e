import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  ScanCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PipelineConfig, readPipelineConfig } from '../../src/lib/config.ts';
import {
  InvalidRequestError,
  PipelineError,
  RequestInProgressError,
} from '../../src/lib/errors.ts';
import {
  type IdempotencySettings,
  readIdempotencySettings,
} from '../../src/lib/intake/idempotency.ts';
import { createProduceOrdersHandler } from '../../src/lib/intake/produceOrders.ts';
import type { ProduceOrdersResult } from '../../src/lib/intake/request.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { httpEvent, orderFixture } from '../support/fixtures.ts';
import { type KcatRecord, kcatRead } from '../support/kcat.ts';
import { awsEndpoint, kafkaBrokers, uniqueName } from '../support/stackEnv.ts';

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;
const AWS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
};

const run = uniqueName('produce');
const table = `${run}-idempotency`;
let kafka: KafkaClient;
let dynamodb: DynamoDBClient;
let idempotency: IdempotencySettings;

/** Orders numbered from `from`, with ids unique to this test run. */
const orders = (n: number, from: number, options: { items?: number } = {}) =>
  Array.from({ length: n }, (_, i) => ({
    ...orderFixture(from + i, options),
    orderId: `${run}-${from + i}`,
  }));

/** A topic of its own and a handler (one "container") producing to it. */
const topicConfig = async (
  name: string,
  options: { create?: boolean; topicConfig?: Record<string, string> } = {},
): Promise<PipelineConfig> => {
  const topic = `${run}.${name}`;
  if (options.create ?? true)
    await kafka.ensureTopics([{ topic, partitions: 3, config: options.topicConfig ?? {} }]);
  return readPipelineConfig({ SERVICE_NAME: run, STAGE: 'test', TOPIC_ORDERS: topic });
};

const newHandler = (config: PipelineConfig) =>
  createProduceOrdersHandler({ config, kafka: async () => kafka, idempotency });

const recordsOf = (records: KcatRecord[], ids: string[]) =>
  records.filter((r) => r.key !== null && ids.includes(r.key));

const placements = (result: ProduceOrdersResult) =>
  result.orders.map((o) => `${o.orderId}@${o.partition}:${o.offset}`).sort();

beforeAll(async () => {
  kafka = new KafkaClient({ clientId: 'produce-orders-test', brokers: kafkaBrokers().split(',') });
  dynamodb = new DynamoDBClient({ endpoint: awsEndpoint(), ...AWS });
  // The table Powertools documents: partition key `id`, TTL on `expiration`.
  await dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30 }, { TableName: table });
  const settings = readIdempotencySettings({
    IDEMPOTENCY_TABLE: table,
    AWS_ENDPOINT_URL: awsEndpoint(),
  });
  idempotency = { ...settings, clientConfig: { ...settings.clientConfig, ...AWS } };
});

afterAll(async () => {
  await kafka?.close();
  await dynamodb?.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
  dynamodb?.destroy();
});

describe('produceOrders against a real broker and DynamoDB (moto)', () => {
  it('lands a valid request exactly once, at the offsets it returns, with a traceparent on each order', async () => {
    // Prepare
    const config = await topicConfig('valid');
    const handler = newHandler(config);
    const input = orders(6, 0);
    const ids = input.map((o) => o.orderId);

    // Act
    const result = await handler({ idempotencyKey: `${run}-valid`, orders: input });

    // Assess
    const seen = recordsOf(await kcatRead(config.topics.orders), ids);
    expect(seen.map((r) => r.key).sort()).toEqual([...ids].sort());
    expect(seen.map((r) => `${r.key}@${r.partition}:${r.offset}`).sort()).toEqual(
      placements(result),
    );
    for (const r of seen) {
      expect(r.header.traceparent).toMatch(TRACEPARENT);
      expect(JSON.parse(r.value!).orderId).toBe(r.key);
    }
    expect(new Set(seen.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it('returns the first result for a repeated key and emits nothing again (direct and HTTP)', async () => {
    // Prepare
    const config = await topicConfig('repeat');
    const input = orders(4, 100);
    const ids = input.map((o) => o.orderId);
    const key = `${run}-repeat`;
    const first = await newHandler(config)({ idempotencyKey: key, orders: input });

    // Act: the repeats arrive at other containers, as they would behind a load balancer
    const again = await newHandler(config)({ idempotencyKey: key, orders: structuredClone(input) });
    const overHttp = await newHandler(config)(
      httpEvent({ orders: input }, { headers: { 'idempotency-key': key } }),
    );

    // Assess
    expect(again).toEqual(first);
    expect(overHttp.statusCode).toBe(200);
    expect(overHttp.headers?.['idempotent-replayed']).toBe('true');
    expect(JSON.parse(overHttp.body!)).toEqual(first);
    const seen = recordsOf(
      await kcatRead(config.topics.orders, { isolation: 'read_uncommitted' }),
      ids,
    );
    expect(seen).toHaveLength(4);
    const { Items } = await dynamodb.send(new ScanCommand({ TableName: table }));
    const stored = (Items ?? []).filter((i) => i.id?.S?.startsWith(`${run}-test-produceOrders#`));
    expect(stored.some((i) => i.status?.S === 'COMPLETED' && i.data?.M !== undefined)).toBe(true);
  });

  it('lets one of two concurrent duplicates emit; the other gets an in-progress error', async () => {
    // Prepare
    const config = await topicConfig('concurrent');
    const input = orders(5, 200);
    const ids = input.map((o) => o.orderId);
    const request = { idempotencyKey: `${run}-concurrent`, orders: input };
    const containers = [newHandler(config), newHandler(config)];

    // Act
    const outcomes = await Promise.allSettled(containers.map((h) => h(structuredClone(request))));

    // Assess
    const fulfilled = outcomes.filter((o) => o.status === 'fulfilled');
    const rejected = outcomes.filter((o) => o.status === 'rejected');
    expect(fulfilled).toHaveLength(1);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.reason).toBeInstanceOf(RequestInProgressError);
    expect((rejected[0]!.reason as PipelineError).retriable).toBe(true);
    const seen = recordsOf(
      await kcatRead(config.topics.orders, { isolation: 'read_uncommitted' }),
      ids,
    );
    expect(seen.map((r) => r.key).sort()).toEqual([...ids].sort());
    // the loser's retry, once the first is done, gets the first result
    const retried = await containers[1]!(structuredClone(request));
    expect(retried).toEqual(fulfilled[0]!.value);
  });

  it('emits nothing of a request with one invalid order, and stores nothing for its key', async () => {
    // Prepare
    const config = await topicConfig('invalid');
    const handler = newHandler(config);
    const input: unknown[] = orders(4, 300);
    const ids = orders(4, 300).map((o) => o.orderId);
    input[3] = { ...(input[3] as object), createdAt: 'not a date' };
    const key = `${run}-invalid`;

    // Act
    const error = await handler({ idempotencyKey: key, orders: input }).catch((e: unknown) => e);
    const fixed = await handler({ idempotencyKey: key, orders: orders(4, 300) });

    // Assess
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).issues).toEqual([
      { index: 3, orderId: ids[3], message: expect.stringContaining('createdAt') },
    ]);
    // read_uncommitted: nothing of the rejected request even reached the log
    const seen = recordsOf(
      await kcatRead(config.topics.orders, { isolation: 'read_uncommitted' }),
      ids,
    );
    expect(seen.map((r) => `${r.key}@${r.partition}:${r.offset}`).sort()).toEqual(
      placements(fixed),
    );
  });

  it('fails retriably when the topic does not exist, stores nothing, and the same key succeeds later', async () => {
    // Prepare
    const config = await topicConfig('missing', { create: false });
    const handler = newHandler(config);
    const input = orders(3, 400);
    const ids = input.map((o) => o.orderId);
    const request = { idempotencyKey: `${run}-missing`, orders: input };

    // Act
    const error = await handler(request).catch((e: unknown) => e);
    await kafka.ensureTopics([{ topic: config.topics.orders, partitions: 3 }]);
    const retried = await handler(structuredClone(request));

    // Assess
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).retriable).toBe(true);
    const seen = recordsOf(await kcatRead(config.topics.orders), ids);
    expect(seen.map((r) => `${r.key}@${r.partition}:${r.offset}`).sort()).toEqual(
      placements(retried),
    );
  });

  it('leaves nothing of an aborted transaction visible to read_committed, and the key can be retried', async () => {
    // Prepare: the broker refuses the record batch of the big order's partition
    // while it appends the others, so the transaction has data in the log when it aborts.
    const config = await topicConfig('aborted', { topicConfig: { 'max.message.bytes': '3000' } });
    const handler = newHandler(config);
    const input = [...orders(8, 500), ...orders(1, 508, { items: 80 })];
    const ids = input.map((o) => o.orderId);
    const request = { idempotencyKey: `${run}-aborted`, orders: input };

    // Act
    const error = await handler(request).catch((e: unknown) => e);
    const afterAbort = {
      committed: recordsOf(await kcatRead(config.topics.orders), ids),
      uncommitted: recordsOf(
        await kcatRead(config.topics.orders, { isolation: 'read_uncommitted' }),
        ids,
      ),
    };
    const admin = kafka.raw.admin();
    await admin.connect();
    await admin.alterConfigs({
      validateOnly: false,
      // 2 = ConfigResourceTypes.TOPIC
      resources: [
        {
          type: 2,
          name: config.topics.orders,
          configEntries: [{ name: 'max.message.bytes', value: '1048588' }],
        },
      ],
    });
    await admin.disconnect();
    const retried = await handler(structuredClone(request));

    // Assess
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).retriable).toBe(true);
    expect(afterAbort.uncommitted.length).toBeGreaterThan(0);
    expect(afterAbort.committed).toEqual([]);
    const seen = recordsOf(await kcatRead(config.topics.orders), ids);
    expect(seen.map((r) => `${r.key}@${r.partition}:${r.offset}`).sort()).toEqual(
      placements(retried),
    );
  });
});
