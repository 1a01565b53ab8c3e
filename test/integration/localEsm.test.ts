import { setTimeout as sleep } from 'node:timers/promises';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeKafkaEvent } from '../../src/lib/events/decode.ts';
import { parseOnFailureEnvelope } from '../../src/lib/events/onFailureEnvelope.ts';
import type { KafkaEvent } from '../../src/lib/events/types.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import type { OutboundMessage } from '../../src/lib/kafka/types.ts';
import {
  type LocalMapping,
  type LocalMappingEvent,
  type LocalMappingHandle,
  MAX_PAYLOAD_BYTES,
  startLocalMapping,
} from '../../src/local/esm/index.ts';
import { kcatRead } from '../support/kcat.ts';
import { kafkaBrokers, uniqueName } from '../support/stackEnv.ts';

// The local event-source mapping against the real broker, driving FAKE handlers written
// here: what is checked is the mapping's behaviour (Lambda's), not any product handler.

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const bytes = (text: string) => [...Buffer.from(text)];

let client: KafkaClient;
const running: LocalMappingHandle[] = [];

beforeAll(() => {
  client = new KafkaClient({ clientId: 'local-esm-test', brokers: kafkaBrokers().split(',') });
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop()));
});
afterAll(async () => {
  await client.close();
});

const newTopic = async (partitions: number, config?: Record<string, string>) => {
  const topic = uniqueName('esm');
  await client.ensureTopics([{ topic, partitions, ...(config ? { config } : {}) }]);
  return topic;
};

const mappingFor = (topic: string, overrides: Partial<LocalMapping> = {}): LocalMapping => ({
  functionName: 'fakeFn',
  deployedFunctionName: 'esm-test-fakeFn',
  handlerPath: 'test/fake.handler',
  logicalId: 'FakeFnEventSourceMappingMSKLocalTopic',
  eventSource: 'aws:kafka',
  topic,
  batchSize: 100,
  maximumBatchingWindowInSeconds: 0,
  startingPosition: 'TRIM_HORIZON',
  consumerGroupId: uniqueName('esm-group'),
  enabled: true,
  reportBatchItemFailures: true,
  maximumRetryAttempts: -1,
  maximumRecordAgeInSeconds: -1,
  bisectBatchOnFunctionError: false,
  timeoutSeconds: 10,
  memorySize: 1024,
  region: 'us-east-1',
  service: 'esm-test',
  stage: 'test',
  environment: {},
  warnings: [],
  ...overrides,
});

interface Call {
  event: KafkaEvent;
  context: Context;
  /** `"<topic>-<partition>@<offset>"` of every record, in event order. */
  ids: string[];
  startedAt: number;
  endedAt: number;
}

/** A fake handler that records each call and answers what `answer` says. */
const fakeHandler = (answer: (event: KafkaEvent, call: number) => unknown = () => undefined) => {
  const calls: Call[] = [];
  const handler = async (event: KafkaEvent, context: Context) => {
    const ids = Object.entries(event.records).flatMap(([key, records]) =>
      records.map((r) => `${key}@${r.offset}`),
    );
    const call: Call = { event, context, ids, startedAt: Date.now(), endedAt: 0 };
    calls.push(call);
    try {
      return await answer(event, calls.length);
    } finally {
      call.endedAt = Date.now();
    }
  };
  return { calls, handler };
};

const start = async (
  mapping: LocalMapping,
  handler: (event: KafkaEvent, context: Context) => Promise<unknown>,
  extra: { timeoutMs?: number } = {},
) => {
  const events: LocalMappingEvent[] = [];
  const handle = await startLocalMapping({
    mapping,
    handler,
    brokers: kafkaBrokers(),
    retryBackoff: { initialMs: 40, maxMs: 400 },
    onEvent: (e) => events.push(e),
    ...extra,
  });
  running.push(handle);
  return { handle, events };
};

const produce = (topic: string, messages: Array<Omit<OutboundMessage, 'topic'>>) =>
  client.writeIdempotent(messages.map((m) => ({ topic, ...m })));

const values = (partition: number, n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    partition,
    key: `k${from + i}`,
    value: `${partition}:${from + i}`,
  }));

const range = (key: string, from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => `${key}@${from + i}`);

const committed = async (mapping: LocalMapping) =>
  Object.fromEntries(
    [...(await client.committedCheckpoints(mapping.consumerGroupId, mapping.topic))].map(
      ([partition, { nextOffset }]) => [partition, nextOffset],
    ),
  );

const failAt = (partition: string, ...offsets: number[]) => ({
  batchItemFailures: offsets.map((offset) => ({ itemIdentifier: { partition, offset } })),
});

describe('local event-source mapping: events', () => {
  it('builds events exactly in the MSK shape, records of several partitions in one event', async () => {
    // Prepare
    const topic = await newTopic(2);
    const t = 1_764_000_000_123;
    const traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    await produce(topic, [
      {
        partition: 0,
        key: 'k-1',
        value: '{"a":1}',
        timestamp: String(t),
        headers: { traceparent, 'x-multi': ['a', 'b'] },
      },
      { partition: 0, key: null, value: 'no key', timestamp: String(t + 1) },
      { partition: 0, key: 'tomb', value: null, timestamp: String(t + 2) },
      { partition: 1, key: 'k-2', value: Buffer.from([0, 255, 1]), timestamp: String(t + 3) },
    ]);
    const arn =
      'arn:aws:kafka:eu-west-1:123456789012:cluster/orders/11111111-2222-3333-4444-555555555555-1';
    const { calls, handler } = fakeHandler();
    const mapping = mappingFor(topic, { maximumBatchingWindowInSeconds: 1, eventSourceArn: arn });

    // Act
    const { handle, events } = await start(mapping, handler);
    await handle.idle();

    // Assess
    expect(calls).toHaveLength(1);
    const { event, context } = calls[0]!;
    const common = { topic, timestampType: 'CREATE_TIME' };
    expect(event).toStrictEqual({
      eventSource: 'aws:kafka',
      eventSourceArn: arn,
      bootstrapServers: kafkaBrokers(),
      records: {
        [`${topic}-0`]: [
          {
            ...common,
            partition: 0,
            offset: 0,
            timestamp: t,
            key: b64('k-1'),
            value: b64('{"a":1}'),
            headers: [
              { traceparent: bytes(traceparent) },
              { 'x-multi': bytes('a') },
              { 'x-multi': bytes('b') },
            ],
          },
          {
            ...common,
            partition: 0,
            offset: 1,
            timestamp: t + 1,
            value: b64('no key'),
            headers: [],
          },
          {
            ...common,
            partition: 0,
            offset: 2,
            timestamp: t + 2,
            key: b64('tomb'),
            value: null,
            headers: [],
          },
        ],
        [`${topic}-1`]: [
          {
            ...common,
            partition: 1,
            offset: 0,
            timestamp: t + 3,
            key: b64('k-2'),
            value: Buffer.from([0, 255, 1]).toString('base64'),
            headers: [],
          },
        ],
      },
    });
    expect(Object.keys(event.records[`${topic}-0`]![1]!)).not.toContain('key');
    // the product's own decoder reads it back to the bytes written
    const [p0] = decodeKafkaEvent(event);
    expect(p0!.records.map((r) => r.value?.toString() ?? null)).toEqual([
      '{"a":1}',
      'no key',
      null,
    ]);
    // a Lambda-like context
    expect(context.awsRequestId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    expect(context).toMatchObject({
      functionName: 'esm-test-fakeFn',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:esm-test-fakeFn',
      memoryLimitInMB: '1024',
      logGroupName: '/aws/lambda/esm-test-fakeFn',
    });
    const remaining = context.getRemainingTimeInMillis();
    expect(remaining).toBeGreaterThan(0);
    expect(remaining).toBeLessThanOrEqual(10_000);
    const report = events.find((e) => e.type === 'invocation');
    expect(report).toMatchObject({ requestId: context.awsRequestId, records: 4, outcome: 'ok' });
    expect(report?.type === 'invocation' && report.payloadBytes).toBe(
      Buffer.byteLength(JSON.stringify(event)),
    );
    expect(await committed(mapping)).toEqual({ 0: 3, 1: 1 });
  });

  it('honours the batch size: 25 records of a partition come as 10, 10 and 5, in order', async () => {
    // Prepare
    const topic = await newTopic(1);
    await produce(topic, values(0, 25));
    const key = `${topic}-0`;
    const { calls, handler } = fakeHandler();
    const mapping = mappingFor(topic, { batchSize: 10, maximumBatchingWindowInSeconds: 1 });

    // Act
    const { handle } = await start(mapping, handler);
    await handle.idle();

    // Assess
    expect(calls.map((c) => c.ids)).toEqual([
      range(key, 0, 9),
      range(key, 10, 19),
      range(key, 20, 24),
    ]);
    expect(await committed(mapping)).toEqual({ 0: 25 });
  });

  it('fills an event from several partitions up to the batch size', async () => {
    // Prepare
    const topic = await newTopic(3);
    await produce(topic, [...values(0, 25), ...values(1, 4), ...values(2, 3)]);
    const { calls, handler } = fakeHandler();
    const mapping = mappingFor(topic, { batchSize: 10, maximumBatchingWindowInSeconds: 1 });

    // Act
    const { handle } = await start(mapping, handler);
    await handle.idle();

    // Assess
    const sizes = calls.map((c) => c.ids.length);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
    expect(sizes).toHaveLength(4); // 32 records: three full events and the rest
    expect(calls.some((c) => Object.keys(c.event.records).length > 1)).toBe(true);
    expect(calls.flatMap((c) => c.ids).sort()).toEqual(
      [
        ...range(`${topic}-0`, 0, 24),
        ...range(`${topic}-1`, 0, 3),
        ...range(`${topic}-2`, 0, 2),
      ].sort(),
    );
    expect(await committed(mapping)).toEqual({ 0: 25, 1: 4, 2: 3 });
  });

  it('keeps every event within the 6 MB invocation payload limit', async () => {
    // Prepare
    const topic = await newTopic(1, { 'max.message.bytes': String(2 * 1024 * 1024) });
    const key = `${topic}-0`;
    for (let i = 0; i < 6; i++) {
      await produce(topic, [{ partition: 0, key: `k${i}`, value: 'x'.repeat(900_000) }]);
    }
    const { calls, handler } = fakeHandler();
    const mapping = mappingFor(topic, { maximumBatchingWindowInSeconds: 1 });

    // Act
    const { handle, events } = await start(mapping, handler);
    await handle.idle();

    // Assess: 5 records of 1.2 MB base64 fit in 6 MiB, a sixth would not
    expect(calls.map((c) => c.ids)).toEqual([range(key, 0, 4), [`${key}@5`]]);
    const payloads = calls.map((c) => Buffer.byteLength(JSON.stringify(c.event)));
    expect(Math.max(...payloads)).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    const sixth = Buffer.byteLength(JSON.stringify(calls[1]!.event.records[key]![0]));
    expect(payloads[0]! + 1 + sixth).toBeGreaterThan(MAX_PAYLOAD_BYTES);
    expect(events.flatMap((e) => (e.type === 'invocation' ? [e.payloadBytes] : []))).toEqual(
      payloads,
    );
  });

  it('delivers each partition in order, one invocation at a time per partition, partitions in parallel', async () => {
    // Prepare
    const topic = await newTopic(3);
    await produce(
      topic,
      [0, 1, 2].flatMap((p) => values(p, 20)),
    );
    const active = new Map<string, number>();
    let maxPerPartition = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const seen = new Map<string, string[]>();
    const { handler } = fakeHandler(async (event) => {
      const keys = Object.keys(event.records);
      for (const k of keys) {
        active.set(k, (active.get(k) ?? 0) + 1);
        maxPerPartition = Math.max(maxPerPartition, active.get(k)!);
      }
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      for (const [k, records] of Object.entries(event.records)) {
        const texts = records.map((r) => Buffer.from(r.value!, 'base64').toString());
        seen.set(k, [...(seen.get(k) ?? []), ...texts]);
      }
      await sleep(15); // some work, so invocations overlap
      for (const k of keys) active.set(k, active.get(k)! - 1);
      inFlight--;
    });
    const mapping = mappingFor(topic, { batchSize: 3 });

    // Act
    const { handle } = await start(mapping, handler);
    await handle.idle();

    // Assess
    expect(maxPerPartition).toBe(1);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(handle.stats.maxInFlight).toBe(maxInFlight);
    for (const p of [0, 1, 2]) {
      expect(seen.get(`${topic}-${p}`)).toEqual(values(p, 20).map((v) => v.value));
    }
    expect(await committed(mapping)).toEqual({ 0: 20, 1: 20, 2: 20 });
  });
});

describe('local event-source mapping: positions', () => {
  it('starts a new group at LATEST, and a restarted mapping resumes from its commits', async () => {
    // Prepare
    const topic = await newTopic(2);
    const key = `${topic}-0`;
    await produce(topic, values(0, 3)); // before the mapping exists: not delivered
    const mapping = mappingFor(topic, { startingPosition: 'LATEST' });
    const first = fakeHandler();

    // Act
    const run1 = await start(mapping, first.handler);
    await produce(topic, values(0, 2, 3));
    await run1.handle.idle();
    await run1.handle.stop();
    await produce(topic, values(0, 2, 5)); // while stopped
    const second = fakeHandler();
    const run2 = await start(mapping, second.handler);
    await run2.handle.idle();

    // Assess
    expect(first.calls.flatMap((c) => c.ids)).toEqual(range(key, 3, 4));
    expect(second.calls.flatMap((c) => c.ids)).toEqual(range(key, 5, 6));
    expect(await committed(mapping)).toEqual({ 0: 7, 1: 0 });
  });
});

describe('local event-source mapping: batch responses and retries', () => {
  it('resumes a failed partition at its lowest reported offset and commits the others whole', async () => {
    // Prepare
    const topic = await newTopic(2);
    await produce(topic, [...values(0, 10), ...values(1, 5)]);
    const [p0, p1] = [`${topic}-0`, `${topic}-1`];
    const mapping = mappingFor(topic, { maximumBatchingWindowInSeconds: 1 });
    let committedBeforeRetry: Record<number, number> | undefined;
    const { calls, handler } = fakeHandler(async (_, call) => {
      if (call === 1) return failAt(p0, 7, 4);
      committedBeforeRetry ??= await committed(mapping);
      return { batchItemFailures: [] };
    });

    // Act
    const { handle, events } = await start(mapping, handler);
    await handle.idle();

    // Assess
    expect(calls.map((c) => c.ids)).toEqual([
      [...range(p0, 0, 9), ...range(p1, 0, 4)],
      range(p0, 4, 9), // 0..3 are not delivered again, 4 and everything after it are
    ]);
    expect(committedBeforeRetry).toEqual({ 0: 4, 1: 5 });
    expect(await committed(mapping)).toEqual({ 0: 10, 1: 5 });
    expect(events[0]).toMatchObject({
      type: 'invocation',
      outcome: 'partial',
      failures: [{ partition: p0, offset: 4 }],
      next: 'retry',
    });
  });

  it('retries the whole batch when an identifier names nothing in the event or is malformed', async () => {
    // Prepare
    const topic = await newTopic(1);
    await produce(topic, values(0, 5));
    const key = `${topic}-0`;
    const mapping = mappingFor(topic, { maximumBatchingWindowInSeconds: 0.5 });
    const answers: unknown[] = [
      failAt(key, 999), // an offset not in the event
      failAt(`${topic}-7`, 0), // a partition not in the event
      { batchItemFailures: [{ itemIdentifier: `${key}@2` }] }, // a string, not an object
      undefined,
    ];
    const { calls, handler } = fakeHandler((_, call) => answers[call - 1]);

    // Act
    const { handle, events } = await start(mapping, handler);
    await handle.idle();

    // Assess
    expect(calls.map((c) => c.ids)).toEqual(Array.from({ length: 4 }, () => range(key, 0, 4)));
    expect(events.flatMap((e) => (e.type === 'invocation' ? [e.outcome] : []))).toEqual([
      'invalid-response',
      'invalid-response',
      'invalid-response',
      'ok',
    ]);
    expect(await committed(mapping)).toEqual({ 0: 5 });
  });

  it('retries exactly the same batch after a thrown error, after a growing back-off', async () => {
    // Prepare
    const topic = await newTopic(2);
    await produce(topic, [...values(0, 3), ...values(1, 3)]);
    const mapping = mappingFor(topic, { maximumBatchingWindowInSeconds: 1 });
    const { calls, handler } = fakeHandler((_, call) => {
      if (call <= 2) throw new Error(`boom ${call}`);
    });

    // Act
    const { handle, events } = await start(mapping, handler);
    await handle.idle();

    // Assess
    expect(calls).toHaveLength(3);
    expect(Object.keys(calls[0]!.event.records)).toHaveLength(2);
    expect(calls[1]!.event.records).toStrictEqual(calls[0]!.event.records);
    expect(calls[2]!.event.records).toStrictEqual(calls[0]!.event.records);
    // back-off of 40 ms, then 80 ms (a timer may fire a millisecond early)
    expect(calls[1]!.startedAt - calls[0]!.endedAt).toBeGreaterThanOrEqual(38);
    expect(calls[2]!.startedAt - calls[1]!.endedAt).toBeGreaterThanOrEqual(78);
    expect(
      events.flatMap((e) => (e.type === 'invocation' ? [[e.outcome, e.attempt, e.error]] : [])),
    ).toEqual([
      ['error', 1, 'boom 1'],
      ['error', 2, 'boom 2'],
      ['ok', 3, undefined],
    ]);
    expect(await committed(mapping)).toEqual({ 0: 3, 1: 3 });
  });

  it('counts a handler running past the timeout as failed, and waits for it before delivering again', async () => {
    // Prepare
    const topic = await newTopic(1);
    await produce(topic, values(0, 2));
    const mapping = mappingFor(topic, { maximumBatchingWindowInSeconds: 0.5 });
    const { calls, handler } = fakeHandler(async (_, call) => {
      if (call === 1) await sleep(400);
    });

    // Act
    const { handle, events } = await start(mapping, handler, { timeoutMs: 100 });
    await handle.idle();

    // Assess
    expect(calls).toHaveLength(2);
    expect(calls[1]!.ids).toEqual(calls[0]!.ids);
    expect(calls[1]!.startedAt).toBeGreaterThanOrEqual(calls[0]!.endedAt);
    expect(events.find((e) => e.type === 'invocation')).toMatchObject({
      outcome: 'timeout',
      error: 'Task timed out after 0.10 seconds',
      next: 'retry',
    });
  });
});

const LOCAL_ARN =
  'arn:aws:kafka:us-east-1:000000000000:cluster/local/00000000-0000-0000-0000-000000000000-1';
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('local event-source mapping: retries exhausted', () => {
  it('writes one AWS on-failure envelope per record of a batch that keeps failing, then goes on', async () => {
    // Prepare
    const [topic, dlq] = [await newTopic(1), await newTopic(1)];
    await produce(topic, values(0, 3));
    const key = `${topic}-0`;
    const mapping = mappingFor(topic, {
      maximumRetryAttempts: 1,
      onFailureDestination: dlq,
      maximumBatchingWindowInSeconds: 0.5,
    });
    const { calls, handler } = fakeHandler((event) => {
      if (event.records[key]?.some((r) => r.offset < 3)) throw new Error('poison batch');
    });

    // Act
    const { handle } = await start(mapping, handler);
    await handle.idle();
    await produce(topic, values(0, 2, 3)); // consumption goes on after the failed batch
    await handle.idle();

    // Assess
    expect(calls.map((c) => c.ids)).toEqual([range(key, 0, 2), range(key, 0, 2), range(key, 3, 4)]);
    expect(await committed(mapping)).toEqual({ 0: 5 });
    const dead = await kcatRead(dlq);
    expect(dead.map((r) => r.key)).toEqual(['k0', 'k1', 'k2']); // the record's key is kept
    const original = calls[0]!.event.records[key]![0]!;
    expect(JSON.parse(dead[0]!.value!)).toStrictEqual({
      requestContext: {
        requestId: calls[1]!.context.awsRequestId,
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:esm-test-fakeFn',
        condition: 'RetriesExhausted',
        approximateInvokeCount: 2,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: expect.stringMatching(ISO),
      KafkaBatchInfo: {
        batchSize: 1,
        eventSourceArn: LOCAL_ARN,
        bootstrapServers: kafkaBrokers(),
        payloadSize: expect.any(Number),
        recordInfo: { offset: '0', timestamp: new Date(original.timestamp).toISOString() },
      },
      payload: {
        eventSource: 'aws:kafka',
        eventSourceArn: LOCAL_ARN,
        bootstrapServers: kafkaBrokers(),
        records: { [key]: [original] },
      },
    });
    expect(parseOnFailureEnvelope(Buffer.from(dead[2]!.value!))).toMatchObject({
      condition: 'RetriesExhausted',
      approximateInvokeCount: 2,
      original: { topic, partition: 0, offset: 2, value: Buffer.from('0:2') },
    });
    expect(handle.stats).toMatchObject({ onFailureRecords: 3, failedInvocations: 2 });
  });

  it('after the retries of a reported failure, sends that record on and delivers the rest of the partition', async () => {
    // Prepare
    const [topic, dlq] = [await newTopic(1), await newTopic(1)];
    await produce(topic, values(0, 6));
    const key = `${topic}-0`;
    const mapping = mappingFor(topic, {
      maximumRetryAttempts: 2,
      onFailureDestination: dlq,
      maximumBatchingWindowInSeconds: 0.5,
    });
    const { calls, handler } = fakeHandler((event) =>
      event.records[key]?.some((r) => r.offset === 3) ? failAt(key, 3) : undefined,
    );

    // Act
    const { handle } = await start(mapping, handler);
    await handle.idle();

    // Assess: the first delivery and 2 retries of offset 3, then 3 is sent on and 4.. go on
    expect(calls.map((c) => c.ids)).toEqual([
      range(key, 0, 5),
      range(key, 3, 5),
      range(key, 3, 5),
      range(key, 4, 5),
    ]);
    const dead = await kcatRead(dlq);
    expect(dead.map((r) => r.key)).toEqual(['k3']);
    expect(JSON.parse(dead[0]!.value!)).toMatchObject({
      requestContext: { condition: 'RetriesExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      KafkaBatchInfo: { recordInfo: { offset: '3' } },
    });
    expect(await committed(mapping)).toEqual({ 0: 6 });
  });

  it('bisects a failing batch down to the record that fails and sends only that one on', async () => {
    // Prepare
    const [topic, dlq] = [await newTopic(1), await newTopic(1)];
    await produce(topic, values(0, 8));
    const key = `${topic}-0`;
    const mapping = mappingFor(topic, {
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: 0,
      onFailureDestination: dlq,
      maximumBatchingWindowInSeconds: 0.5,
    });
    const { calls, handler } = fakeHandler((event) => {
      if (event.records[key]?.some((r) => r.offset === 5)) throw new Error('offset 5 is poison');
    });

    // Act
    const { handle } = await start(mapping, handler);
    await handle.idle();

    // Assess
    expect(calls.map((c) => c.ids)).toEqual([
      range(key, 0, 7),
      range(key, 0, 3),
      range(key, 4, 7),
      range(key, 4, 5),
      [`${key}@4`],
      [`${key}@5`],
      range(key, 6, 7),
    ]);
    const dead = await kcatRead(dlq);
    expect(dead.map((r) => r.key)).toEqual(['k5']);
    expect(JSON.parse(dead[0]!.value!).requestContext.approximateInvokeCount).toBe(1);
    expect(handle.stats).toMatchObject({ bisections: 3, onFailureRecords: 1 });
    expect(await committed(mapping)).toEqual({ 0: 8 });
  });
});
