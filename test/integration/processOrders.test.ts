import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../src/lib/config.ts';
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { RetriableError } from '../../src/lib/errors.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { orderFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatRead } from '../support/kcat.ts';
import { mskEvent, type RecordSpec } from '../support/mskEvent.ts';
import { kafkaBrokers } from '../support/stackEnv.ts';

const clients: KafkaClient[] = [];
const newClient = () => {
  const c = new KafkaClient({
    clientId: 'process-orders-test',
    brokers: kafkaBrokers().split(','),
  });
  clients.push(c);
  return c;
};

/** A fresh set of topics and a service name no other test shares. */
const isolatedConfig = async (): Promise<PipelineConfig> => {
  const config = isolatedPipelineConfig('po');
  await createPipelineTopics(newClient(), config);
  return config;
};

const order = (i: number) => Buffer.from(JSON.stringify(orderFixture(i)));
const sourceOf = (value: string | null) => {
  const r = JSON.parse(value!) as { source: { partition: number; offset: number } };
  return `${r.source.partition}:${r.source.offset}`;
};

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

describe('processOrders against a real broker', () => {
  let config: PipelineConfig;
  let specs: RecordSpec[];
  const failAt = { partition: 0, offset: 3 };

  beforeAll(async () => {
    config = await isolatedConfig();
    const t = config.topics.orders;
    specs = [
      {
        topic: t,
        partition: 0,
        offset: 0,
        key: 'o-0',
        value: order(0),
        headers: { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` },
      },
      { topic: t, partition: 0, offset: 1, key: 'o-1', value: 'this is not json' },
      { topic: t, partition: 0, offset: 2, key: 'o-2', value: order(2) },
      { topic: t, partition: 0, offset: 3, key: 'o-3', value: order(3) },
      { topic: t, partition: 0, offset: 4, key: 'o-4', value: order(4) },
      { topic: t, partition: 1, offset: 0, key: 'o-5', value: order(5) },
      { topic: t, partition: 1, offset: 1, key: 'o-6', value: null },
      { topic: t, partition: 1, offset: 2, key: 'o-7', value: { raw: '!!not*base64!!' } },
      {
        topic: t,
        partition: 1,
        offset: 3,
        key: 'o-8',
        value: JSON.stringify({ orderId: 'o-8' }),
        headers: { 'x-tenant': 'acme' },
      },
      { topic: t, partition: 1, offset: 4, value: order(9) },
    ];
  });

  it('commits results and dead letters, and stops a partition at its first retriable failure', async () => {
    // Prepare
    const handler = createProcessOrdersHandler({
      config,
      kafka: async () => newClient(),
      beforeRecord: (r) => {
        if (r.partition === failAt.partition && r.offset === failAt.offset)
          throw new RetriableError('TRANSIENT', 'injected: downstream unavailable');
      },
    });

    // Act
    const response = await handler(mskEvent(specs));

    // Assess
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: `${config.topics.orders}-0`, offset: 3 } },
      ],
    });
    const processed = await kcatRead(config.topics.processed);
    expect(processed.map((r) => sourceOf(r.value)).sort()).toEqual(['0:0', '0:2', '1:0', '1:4']);
    expect(processed.find((r) => sourceOf(r.value) === '0:0')?.header.traceparent).toBe(
      specs[0]!.headers!.traceparent,
    );

    const dlq = await kcatRead(config.topics.dlq);
    const byOrigin = new Map(
      dlq.map((r) => [
        `${r.header[DLQ_HEADERS.originalPartition]}:${r.header[DLQ_HEADERS.originalOffset]}`,
        r,
      ]),
    );
    expect([...byOrigin.keys()].sort()).toEqual(['0:1', '1:1', '1:2', '1:3']);
    expect(byOrigin.get('0:1')?.header[DLQ_HEADERS.errorCode]).toBe('NOT_JSON');
    expect(byOrigin.get('1:1')?.header[DLQ_HEADERS.errorCode]).toBe('VALUE_NULL');
    expect(byOrigin.get('1:2')?.header[DLQ_HEADERS.errorCode]).toBe('INVALID_BASE64');
    expect(byOrigin.get('1:3')?.header[DLQ_HEADERS.errorCode]).toBe('SCHEMA_VIOLATION');
    for (const r of dlq) {
      for (const name of Object.values(DLQ_HEADERS).filter((n) => n !== DLQ_HEADERS.valueEncoding))
        expect(r.header[name], `${name} on ${r.offset}`).toBeDefined();
      expect(r.header[DLQ_HEADERS.originalTopic]).toBe(config.topics.orders);
      expect(r.header[DLQ_HEADERS.attempts]).toBe('1');
      expect(r.header[DLQ_HEADERS.source]).toBe('handler');
      expect(new Date(r.header[DLQ_HEADERS.failedAt]!).toISOString()).toBe(
        r.header[DLQ_HEADERS.failedAt],
      );
      expect(r.header[DLQ_HEADERS.errorMessage]!.length).toBeLessThanOrEqual(256);
    }
    // the dead letter keeps the original key, value and headers
    expect(byOrigin.get('0:1')?.key).toBe('o-1');
    expect(byOrigin.get('0:1')?.value).toBe('this is not json');
    expect(byOrigin.get('1:3')?.header['x-tenant']).toBe('acme');
    expect(byOrigin.get('1:2')?.value).toBe('!!not*base64!!');

    // nothing lost: inputs = results + dead letters + records at or after the reported failure
    const atOrAfterFailure = specs.filter(
      (s) => s.partition === failAt.partition && s.offset >= failAt.offset,
    ).length;
    expect(processed.length + dlq.length + atOrAfterFailure).toBe(specs.length);
  });

  it('redelivers the same batch, warm and cold, without a duplicate', async () => {
    // Prepare: the batch of the first test committed everything before offset 0:3
    const warmClient = newClient();
    const warm = createProcessOrdersHandler({ config, kafka: async () => warmClient });
    const cold = createProcessOrdersHandler({ config, kafka: async () => newClient() });

    // Act: Lambda resumes partition 0 from offset 3 but delivers the whole batch again
    const first = await warm(mskEvent(specs));
    const again = await warm(mskEvent(specs));
    const coldAgain = await cold(mskEvent(specs));

    // Assess
    expect(first.batchItemFailures).toEqual([]);
    expect(again.batchItemFailures).toEqual([]);
    expect(coldAgain.batchItemFailures).toEqual([]);
    const processed = await kcatRead(config.topics.processed);
    const sources = processed.map((r) => sourceOf(r.value));
    expect(new Set(sources).size).toBe(sources.length);
    expect(sources.sort()).toEqual(['0:0', '0:2', '0:3', '0:4', '1:0', '1:4']);
    expect(await kcatRead(config.topics.dlq)).toHaveLength(4);
  });
});

describe('two containers racing for one partition', () => {
  it('fences the older one: its output never becomes visible', async () => {
    // Prepare
    const config = await isolatedConfig();
    const t = config.topics.orders;
    const specs: RecordSpec[] = [0, 1, 2, 3].map((i) => ({
      topic: t,
      partition: 2,
      offset: i,
      key: `o-${i}`,
      value: order(i),
    }));
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const blocked = new Promise<void>((r) => {
      entered = r;
    });
    const older = createProcessOrdersHandler({
      config,
      kafka: async () => newClient(),
      beforeRecord: async (r) => {
        if (r.offset === 2) {
          entered();
          await gate; // the older container stalls mid-batch, as a timed-out invocation would
        }
      },
    });
    const newer = createProcessOrdersHandler({ config, kafka: async () => newClient() });

    // Act
    const olderRun = older(mskEvent(specs));
    await blocked;
    const newerResponse = await newer(mskEvent(specs));
    release();
    const olderResponse = await olderRun;

    // Assess
    expect(newerResponse.batchItemFailures).toEqual([]);
    expect(olderResponse.batchItemFailures).toEqual([
      { itemIdentifier: { partition: `${t}-2`, offset: 0 } },
    ]);
    const processed = await kcatRead(config.topics.processed);
    expect(processed.map((r) => sourceOf(r.value)).sort()).toEqual(['2:0', '2:1', '2:2', '2:3']);
  });
});
