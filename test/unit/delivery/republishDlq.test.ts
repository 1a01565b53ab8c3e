import { describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../../src/lib/config.ts';
import { encodeCheckpoint } from '../../../src/lib/delivery/checkpoint.ts';
import { DLQ_HEADERS, deadLetter } from '../../../src/lib/delivery/deadLetter.ts';
import type {
  DeliveryKafka,
  DeliveryTelemetry,
  PartitionResult,
  PartitionWriter,
  RecordOutcome,
} from '../../../src/lib/delivery/processBatch.ts';
import {
  backoffStep,
  type RepublishDecision,
  type RepublishOptions,
  republishDecision,
} from '../../../src/lib/delivery/republishDecision.ts';
import {
  createRepublishDlqHandler,
  type RepublishOutcomeDetail,
} from '../../../src/lib/delivery/republishDlq.ts';
import { PoisonRecordError } from '../../../src/lib/errors.ts';
import { buildKafkaEvent } from '../../../src/lib/events/decode.ts';
import { buildOnFailureEnvelope } from '../../../src/lib/events/onFailureEnvelope.ts';
import type { DecodedRecord } from '../../../src/lib/events/types.ts';
import type {
  CommittedCheckpoint,
  OutboundHeaders,
  OutboundMessage,
} from '../../../src/lib/kafka/types.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const ORDER = '{"orderId":"ord-000007"}';

const options = (overrides: Partial<RepublishOptions> = {}): RepublishOptions => ({
  now: NOW,
  maxAttempts: 3,
  parkingLotTopic: 'orders.parking-lot',
  republishTopics: new Set(['orders']),
  backoff: { baseMs: 0, maxMs: 0 },
  ...overrides,
});

/** A record of `orders` as processOrders receives it. */
const orderRecord = (
  offset: number,
  headers: Map<string, Buffer[]> = new Map(),
): DecodedRecord => ({
  topic: 'orders',
  partition: 1,
  offset,
  timestamp: NOW.getTime() - 60_000,
  timestampType: 'CREATE_TIME',
  key: Buffer.from('ord-000007'),
  value: Buffer.from(ORDER),
  headers,
  rawValue: Buffer.from(ORDER).toString('base64'),
});

const toHeaderMap = (headers: OutboundHeaders = {}) =>
  new Map(
    Object.entries(headers).map(([name, v]) => [
      name,
      (Array.isArray(v) ? v : [v]).map((x) => (typeof x === 'string' ? Buffer.from(x) : x)),
    ]),
  );

/** A written message as the next consumer (processOrders or republishDlq) reads it. */
const asRead = (message: OutboundMessage, partition: number, offset: number): DecodedRecord => {
  const value = message.value === null ? null : Buffer.from(message.value);
  return {
    topic: message.topic,
    partition,
    offset,
    timestamp: NOW.getTime(),
    timestampType: 'CREATE_TIME',
    key: message.key === null ? null : Buffer.from(message.key),
    value,
    headers: toHeaderMap(message.headers),
    rawValue: value === null ? null : value.toString('base64'),
  };
};

const firstDeadLetter = (overrides: { now?: Date; backoffMs?: number } = {}) =>
  asRead(
    deadLetter(
      orderRecord(
        7,
        new Map([
          ['traceparent', [Buffer.from(TRACEPARENT)]],
          ['x-tenant', [Buffer.from('acme')]],
        ]),
      ),
      new PoisonRecordError('SCHEMA_VIOLATION', 'currency must be an active ISO 4217 code'),
      {
        topic: 'orders.dlq',
        now: overrides.now ?? new Date(NOW.getTime() - 1_000),
        backoff: { baseMs: overrides.backoffMs ?? 0, maxMs: 300_000 },
      },
    ),
    0,
    40,
  );

const header = (message: OutboundMessage, name: string): string | undefined => {
  const v = message.headers?.[name];
  const last = Array.isArray(v) ? v[v.length - 1] : v;
  return last === undefined ? undefined : last.toString();
};

const headerValues = (message: OutboundMessage, name: string): string[] => {
  const v = message.headers?.[name];
  return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
};

const expectAction = <A extends RepublishDecision['action']>(
  decision: RepublishDecision,
  action: A,
): Extract<RepublishDecision, { action: A }> => {
  expect(decision.action).toBe(action);
  return decision as Extract<RepublishDecision, { action: A }>;
};

describe('republishDecision: dead letters written by processOrders', () => {
  it('republishes to the original topic with attempts + 1 and everything else unchanged', () => {
    // Prepare
    const letter = firstDeadLetter();

    // Act
    const decision = republishDecision(letter, options());

    // Assess
    const { message, attempts, source } = expectAction(decision, 'republish');
    expect(attempts).toBe(2);
    expect(source).toBe('handler');
    expect(message.topic).toBe('orders');
    expect(message.partition).toBeUndefined();
    expect(String(message.key)).toBe('ord-000007');
    expect(String(message.value)).toBe(ORDER);
    expect(header(message, DLQ_HEADERS.attempts)).toBe('2');
    expect(header(message, 'traceparent')).toBe(TRACEPARENT);
    expect(header(message, 'x-tenant')).toBe('acme');
    for (const [name, values] of letter.headers) {
      if (name === DLQ_HEADERS.attempts) continue;
      expect(headerValues(message, name), name).toEqual(values.map(String));
    }
  });

  it('parks a dead letter whose attempts reached the maximum, with every header', () => {
    // Prepare
    const letter = firstDeadLetter();
    letter.headers.set(DLQ_HEADERS.attempts, [Buffer.from('3')]);

    // Act
    const decision = republishDecision(letter, options({ maxAttempts: 3 }));

    // Assess
    const { message, reason, attempts } = expectAction(decision, 'park');
    expect(reason).toBe('ATTEMPTS_EXHAUSTED');
    expect(attempts).toBe(3);
    expect(message.topic).toBe('orders.parking-lot');
    expect(String(message.key)).toBe('ord-000007');
    expect(String(message.value)).toBe(ORDER);
    for (const [name, values] of letter.headers)
      expect(headerValues(message, name), name).toEqual(values.map(String));
  });

  it('runs orders → dlq (1) → orders (2) → dlq (2) → orders (3) → dlq (3) → parking lot', () => {
    // Prepare
    let record = orderRecord(7, new Map([['traceparent', [Buffer.from(TRACEPARENT)]]]));
    const trail: string[] = [];
    let parked: OutboundMessage | undefined;

    // Act: processOrders fails the record every time, republishDlq sends it back
    for (let pass = 0; pass < 5 && !parked; pass++) {
      const dead = deadLetter(record, new PoisonRecordError('SCHEMA_VIOLATION', 'bad'), {
        topic: 'orders.dlq',
        now: NOW,
        backoff: { baseMs: 0, maxMs: 0 },
      });
      trail.push(`dlq(${header(dead, DLQ_HEADERS.attempts)})`);
      const decision = republishDecision(asRead(dead, 0, pass), options());
      if (decision.action === 'park') parked = decision.message;
      else if (decision.action === 'republish') {
        trail.push(`orders(${header(decision.message, DLQ_HEADERS.attempts)})`);
        record = asRead(decision.message, 1, 100 + pass);
      } else throw new Error('unexpected wait');
    }

    // Assess
    expect(trail).toEqual(['dlq(1)', 'orders(2)', 'dlq(2)', 'orders(3)', 'dlq(3)']);
    expect(parked?.topic).toBe('orders.parking-lot');
    expect(header(parked!, DLQ_HEADERS.attempts)).toBe('3');
    expect(header(parked!, DLQ_HEADERS.originalOffset)).toBe('7');
    expect(header(parked!, 'traceparent')).toBe(TRACEPARENT);
    const history = headerValues(parked!, DLQ_HEADERS.history).map((h) => JSON.parse(h));
    expect(history.map((h) => [h.attempt, h.code, h.topic, h.offset])).toEqual([
      [1, 'SCHEMA_VIOLATION', 'orders', 7],
      [2, 'SCHEMA_VIOLATION', 'orders', 100],
      [3, 'SCHEMA_VIOLATION', 'orders', 101],
    ]);
  });

  it('waits while x-dlq-not-before lies in the future', () => {
    // Prepare
    const letter = firstDeadLetter({ now: NOW, backoffMs: 4_000 });

    // Act
    const early = republishDecision(letter, options());
    const due = republishDecision(letter, options({ now: new Date(NOW.getTime() + 4_000) }));

    // Assess
    const wait = expectAction(early, 'wait');
    expect(wait.waitMs).toBe(4_000);
    expect(wait.notBefore.toISOString()).toBe('2026-03-01T12:00:04.000Z');
    expect(due.action).toBe('republish');
  });

  it('parks at the maximum without waiting for the back-off', () => {
    // Prepare
    const letter = firstDeadLetter({ now: NOW, backoffMs: 60_000 });

    // Act
    const decision = republishDecision(letter, options({ maxAttempts: 1 }));

    // Assess
    expect(expectAction(decision, 'park').reason).toBe('ATTEMPTS_EXHAUSTED');
  });

  it('does not let an unreadable x-dlq-not-before hold the record back', () => {
    // Prepare
    const letter = firstDeadLetter();
    letter.headers.set(DLQ_HEADERS.notBefore, [Buffer.from('soon')]);

    // Act
    const decision = republishDecision(letter, options());

    // Assess
    expect(decision.action).toBe('republish');
  });

  it('parks a dead letter naming a topic it may not write to', () => {
    // Prepare
    const letter = firstDeadLetter();
    letter.headers.set(DLQ_HEADERS.originalTopic, [Buffer.from('payments')]);

    // Act
    const decision = republishDecision(letter, options());

    // Assess
    const { reason, message } = expectAction(decision, 'park');
    expect(reason).toBe('NOT_REPUBLISHABLE');
    expect(message.topic).toBe('orders.parking-lot');
  });

  it('parks a dead letter whose value is the raw text of an undecodable event value', () => {
    // Prepare
    const bad = { ...orderRecord(3), rawValue: '!!not*base64!!', value: null };
    bad.decodeError = { code: 'INVALID_BASE64', message: 'value is not valid base64' };
    const letter = asRead(
      deadLetter(bad, new PoisonRecordError('INVALID_BASE64', 'bad base64'), {
        topic: 'orders.dlq',
        now: NOW,
        backoff: { baseMs: 0, maxMs: 0 },
      }),
      0,
      9,
    );

    // Act
    const decision = republishDecision(letter, options());

    // Assess
    const { reason, message } = expectAction(decision, 'park');
    expect(reason).toBe('NOT_REPUBLISHABLE');
    expect(String(message.value)).toBe('!!not*base64!!');
    expect(header(message, DLQ_HEADERS.errorCode)).toBe('INVALID_BASE64');
  });
});

/** A DLQ record holding AWS's on-failure envelope of `original`. */
const envelopeRecord = (
  condition: string,
  original: DecodedRecord = orderRecord(12, new Map([['traceparent', [Buffer.from(TRACEPARENT)]]])),
  at: Date = new Date(NOW.getTime() - 5_000),
): DecodedRecord => {
  const envelope = buildOnFailureEnvelope({
    record: original,
    bootstrapServers: 'localhost:9092',
    requestId: 'req-1',
    functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:svc-dev-processOrders',
    approximateInvokeCount: 4,
    condition,
    now: at,
  });
  return {
    topic: 'orders.dlq',
    partition: 2,
    offset: 30,
    timestamp: at.getTime(),
    timestampType: 'CREATE_TIME',
    key: original.key,
    value: Buffer.from(JSON.stringify(envelope)),
    headers: new Map(),
    rawValue: null,
  };
};

describe('republishDecision: AWS on-failure envelopes', () => {
  it.each(['RetriesExhausted', 'RetryAttemptsExhausted'])(
    'republishes the record of a %s envelope with its own key, value and headers',
    (condition) => {
      // Prepare
      const record = envelopeRecord(condition);

      // Act
      const decision = republishDecision(record, options());

      // Assess
      const { message, attempts, source } = expectAction(decision, 'republish');
      expect([attempts, source]).toEqual([2, 'esm-on-failure']);
      expect(message.topic).toBe('orders');
      expect(String(message.key)).toBe('ord-000007');
      expect(String(message.value)).toBe(ORDER);
      expect(header(message, 'traceparent')).toBe(TRACEPARENT);
      expect(header(message, DLQ_HEADERS.source)).toBe('esm-on-failure');
      expect(header(message, DLQ_HEADERS.errorCode)).toBe('RETRIES_EXHAUSTED');
      expect(header(message, DLQ_HEADERS.errorMessage)).toContain(condition);
      expect(header(message, DLQ_HEADERS.attempts)).toBe('2');
      expect(header(message, DLQ_HEADERS.originalTopic)).toBe('orders');
      expect(header(message, DLQ_HEADERS.originalPartition)).toBe('1');
      expect(header(message, DLQ_HEADERS.originalOffset)).toBe('12');
      expect(header(message, DLQ_HEADERS.failedAt)).toBe('2026-03-01T11:59:55.000Z');
      const history = headerValues(message, DLQ_HEADERS.history).map((h) => JSON.parse(h));
      expect(history).toEqual([expect.objectContaining({ attempt: 1, source: 'esm-on-failure' })]);
    },
  );

  it.each(['SCHEMA_NOT_FOUND', 'DESERIALIZATION_ERROR'])(
    'parks the record the registry step refused (%s): never dropped, never asked of a checkpoint',
    (condition) => {
      // Act
      const decision = republishDecision(envelopeRecord(condition), options());

      // Assess
      const { message, reason } = expectAction(decision, 'park');
      expect(reason).toBe('NOT_REPUBLISHABLE');
      expect(message.topic).toBe('orders.parking-lot');
      expect(String(message.value)).toBe(ORDER);
      expect(header(message, DLQ_HEADERS.errorMessage)).toContain(condition);
    },
  );

  it('frames a SOURCE-form registry record again before republishing it', () => {
    // Prepare: Lambda removed the Glue framing and named the schema version in the metadata
    const schemaId = '0f2e8ad4-7c3b-4d6e-9a1f-5b8c2d4e6f70';
    const bare = Buffer.from([0x14, 0x6f, 0x72, 0x64, 0x2d, 0x30]);
    const avro: DecodedRecord = {
      ...orderRecord(12),
      value: bare,
      valueSchemaMetadata: { dataFormat: 'AVRO', schemaId },
    };
    const json: DecodedRecord = {
      ...orderRecord(13),
      valueSchemaMetadata: { dataFormat: 'AVRO', schemaId },
    };

    // Act
    const framed = expectAction(
      republishDecision(envelopeRecord('RetriesExhausted', avro), options()),
      'republish',
    ).message.value as Buffer;
    const asJson = expectAction(
      republishDecision(envelopeRecord('RetriesExhausted', json), options()),
      'republish',
    ).message.value;

    // Assess: header version 3, no compression, the 16 id bytes, then the payload
    expect(framed.subarray(0, 2)).toEqual(Buffer.from([3, 0]));
    expect(framed.subarray(2, 18).toString('hex')).toBe(schemaId.replaceAll('-', ''));
    expect(framed.subarray(18)).toEqual(bare);
    // a JSON-form value is the order's JSON: republished as it is
    expect(String(asJson)).toBe(ORDER);
  });

  it('counts on from a record that had already been republished', () => {
    // Prepare: attempt 2 of the record failed retriably until the mapping gave up
    const republished = republishDecision(firstDeadLetter(), options());
    const inOrders = asRead(expectAction(republished, 'republish').message, 1, 50);

    // Act
    const second = republishDecision(envelopeRecord('RetriesExhausted', inOrders), options());
    const third = republishDecision(
      envelopeRecord('RetriesExhausted', inOrders),
      options({ maxAttempts: 2 }),
    );

    // Assess
    const { message } = expectAction(second, 'republish');
    expect(header(message, DLQ_HEADERS.attempts)).toBe('3');
    expect(header(message, DLQ_HEADERS.originalOffset)).toBe('7');
    expect(headerValues(message, DLQ_HEADERS.history)).toHaveLength(2);
    expect(expectAction(third, 'park').reason).toBe('ATTEMPTS_EXHAUSTED');
  });

  it('parks a MaximumPayloadSizeExceeded envelope: Lambda can never deliver that record', () => {
    // Prepare
    const record = envelopeRecord('MaximumPayloadSizeExceeded');

    // Act
    const decision = republishDecision(record, options());

    // Assess
    const { message, reason } = expectAction(decision, 'park');
    expect(reason).toBe('NOT_REPUBLISHABLE');
    expect(message.topic).toBe('orders.parking-lot');
    expect(String(message.value)).toBe(ORDER);
    expect(header(message, DLQ_HEADERS.errorCode)).toBe('RECORD_TOO_LARGE');
  });

  it('honours the back-off from the envelope time', () => {
    // Prepare
    const record = envelopeRecord('RetriesExhausted', undefined, new Date(NOW.getTime() - 1_000));

    // Act
    const decision = republishDecision(
      record,
      options({ backoff: { baseMs: 3_000, maxMs: 60_000 } }),
    );

    // Assess
    expect(expectAction(decision, 'wait').waitMs).toBe(2_000);
  });
});

describe('republishDecision: records it cannot understand', () => {
  const garbage = (value: string | null, headers: Array<[string, string]> = []): DecodedRecord => ({
    topic: 'orders.dlq',
    partition: 0,
    offset: 77,
    timestamp: NOW.getTime(),
    timestampType: 'CREATE_TIME',
    key: Buffer.from('k-77'),
    value: value === null ? null : Buffer.from(value),
    headers: new Map(headers.map(([n, v]) => [n, [Buffer.from(v)]])),
    rawValue: null,
  });

  it.each([
    ['text without headers', garbage('garbage!')],
    ['a null value', garbage(null)],
    ['an order without x-dlq headers', garbage(ORDER)],
    ['envelope-looking JSON', garbage('{"requestContext":{"condition":1},"payload":{}}')],
    ['a partial x-dlq set', garbage(ORDER, [[DLQ_HEADERS.originalTopic, 'orders']])],
    [
      'a bad attempt count',
      garbage(ORDER, [
        [DLQ_HEADERS.originalTopic, 'orders'],
        [DLQ_HEADERS.attempts, 'two'],
      ]),
    ],
    [
      'an invalid topic name',
      garbage(ORDER, [
        [DLQ_HEADERS.originalTopic, 'no such/topic'],
        [DLQ_HEADERS.attempts, '1'],
      ]),
    ],
  ])('parks %s as UNDECODABLE_DEAD_LETTER, keeping key, value and headers', (_, record) => {
    // Act
    const decision = republishDecision(record, options());

    // Assess
    const { message, reason } = expectAction(decision, 'park');
    expect(reason).toBe('UNDECODABLE');
    expect(message.topic).toBe('orders.parking-lot');
    expect(String(message.key)).toBe('k-77');
    expect(message.value === null ? null : String(message.value)).toBe(
      record.value === null ? null : String(record.value),
    );
    expect(header(message, DLQ_HEADERS.errorCode)).toBe('UNDECODABLE_DEAD_LETTER');
    for (const name of Object.values(DLQ_HEADERS).filter((n) => n !== DLQ_HEADERS.valueEncoding))
      expect(header(message, name), name).toBeTypeOf('string');
  });
});

describe('backoffStep', () => {
  it.each([
    [1_500, 60_000, {}, { action: 'sleep', ms: 1_500 }],
    [1_500, undefined, {}, { action: 'sleep', ms: 1_500 }],
    [10_001, 60_000, {}, { action: 'stop' }],
    [1_500, 6_000, {}, { action: 'stop' }],
    [1_500, 6_500, {}, { action: 'sleep', ms: 1_500 }],
    [30_000, 120_000, { maxWaitMs: 60_000 }, { action: 'sleep', ms: 30_000 }],
    [1_500, 2_000, { marginMs: 0 }, { action: 'sleep', ms: 1_500 }],
  ] as const)('waits %i ms with %s ms left and %o: %o', (wait, remaining, limits, expected) => {
    expect(backoffStep(wait, remaining, limits)).toEqual(expected);
  });
});

/** An in-memory transactional writer: each write is one commit. */
class MemoryKafka implements DeliveryKafka {
  commits: Array<{ id: string; messages: OutboundMessage[] }> = [];
  offsets = new Map<string, CommittedCheckpoint>();

  transactionalProducer(id: string) {
    const producer: PartitionWriter = {
      usable: true,
      init: async () => {},
      write: async (messages, checkpoint) => {
        this.commits.push({ id, messages });
        if (checkpoint)
          this.offsets.set(`${checkpoint.groupId}/${checkpoint.topic}/${checkpoint.partition}`, {
            nextOffset: checkpoint.nextOffset,
            metadata: checkpoint.metadata,
          });
      },
    };
    return { producer, fresh: true };
  }

  async committedCheckpoints(groupId: string, topic: string) {
    const out = new Map<number, CommittedCheckpoint>();
    for (const [k, v] of this.offsets) {
      const [g, t, p] = k.split('/');
      if (g === groupId && t === topic) out.set(Number(p), v);
    }
    return out;
  }

  written(topic: string) {
    return this.commits.flatMap((c) => c.messages.filter((m) => m.topic === topic));
  }
}

describe('createRepublishDlqHandler', () => {
  const config = readPipelineConfig({ SERVICE_NAME: 'svc', STAGE: 'test' });
  const dlqRecords = () => {
    const due = firstDeadLetter();
    const later = firstDeadLetter({ now: NOW, backoffMs: 30_000 });
    return [
      { ...due, offset: 0 },
      { ...later, offset: 1 },
      { ...due, offset: 2 },
    ];
  };

  it('stops a partition at a record whose back-off does not fit, holding back later ones', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    const sleeps: number[] = [];
    const handler = createRepublishDlqHandler({
      config,
      kafka: async () => kafka,
      now: () => NOW,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    });

    // Act
    const response = await handler(buildKafkaEvent({ records: dlqRecords() }), {
      getRemainingTimeInMillis: () => 60_000,
    });

    // Assess
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders.dlq-0', offset: 1 } },
    ]);
    expect(sleeps).toEqual([]);
    expect(kafka.written('orders')).toHaveLength(1);
  });

  it('waits in-process when the back-off fits the invocation, then republishes', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    let clock = NOW.getTime();
    const handler = createRepublishDlqHandler({
      config,
      kafka: async () => kafka,
      now: () => new Date(clock),
      backoffLimits: { maxWaitMs: 60_000 },
      sleep: async (ms) => {
        clock += ms;
      },
    });

    // Act
    const response = await handler(buildKafkaEvent({ records: dlqRecords() }), {
      getRemainingTimeInMillis: () => 120_000,
    });

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(clock - NOW.getTime()).toBe(30_000);
    expect(kafka.written('orders').map((m) => header(m, DLQ_HEADERS.attempts))).toEqual([
      '2',
      '2',
      '2',
    ]);
  });

  it('stops rather than loop when the clock has not reached not-before after the wait', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    const handler = createRepublishDlqHandler({
      config,
      kafka: async () => kafka,
      now: () => NOW,
      backoffLimits: { maxWaitMs: 60_000 },
      sleep: async () => {},
    });

    // Act
    const response = await handler(buildKafkaEvent({ records: dlqRecords() }));

    // Assess
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders.dlq-0', offset: 1 } },
    ]);
  });

  it('parks what the decoder cannot read and what it cannot understand; the batch goes on', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    const handler = createRepublishDlqHandler({ config, kafka: async () => kafka, now: () => NOW });
    const event = buildKafkaEvent({
      records: [
        { topic: 'orders.dlq', partition: 0, offset: 0, value: 'garbage' },
        { ...firstDeadLetter(), offset: 1 },
      ],
    });
    event.records['orders.dlq-0']!.push({
      ...event.records['orders.dlq-0']![0]!,
      offset: 2,
      value: '!!not*base64!!',
    });

    // Act
    const response = await handler(event);

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    const parked = kafka.written('orders.parking-lot');
    expect(parked.map((m) => header(m, DLQ_HEADERS.errorCode))).toEqual([
      'UNDECODABLE_DEAD_LETTER',
      'INVALID_BASE64',
    ]);
    expect(kafka.written('orders')).toHaveLength(1);
  });

  it('reports republished and parked records with their detail only once committed', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    const outcomes: RecordOutcome<RepublishOutcomeDetail>[] = [];
    const decisions: string[] = [];
    const handler = createRepublishDlqHandler({
      config: readPipelineConfig({ SERVICE_NAME: 'svc', STAGE: 'test', DLQ_MAX_ATTEMPTS: '2' }),
      kafka: async () => kafka,
      now: () => NOW,
      onDecision: (_r, d) => decisions.push(d.action),
      onOutcome: (o) => outcomes.push(o),
    });
    const due = firstDeadLetter();
    const spent = { ...due, headers: new Map(due.headers) };
    spent.headers.set(DLQ_HEADERS.attempts, [Buffer.from('2')]);
    const event = buildKafkaEvent({
      records: [
        { ...due, offset: 0 },
        { ...spent, offset: 1 },
      ],
    });
    const write = kafka.transactionalProducer.bind(kafka);
    let fail = true;
    kafka.transactionalProducer = (id: string) => {
      const { producer, fresh } = write(id);
      const failing: PartitionWriter = {
        usable: true,
        init: producer.init,
        write: async (messages, checkpoint) => {
          if (fail) {
            fail = false;
            throw new Error('broker gone');
          }
          return producer.write(messages, checkpoint);
        },
      };
      return { producer: failing, fresh };
    };

    // Act: the first delivery's commit fails, the second commits
    const failed = await handler(event);
    const afterFailure = outcomes.length;
    const committed = await handler(event);

    // Assess
    expect(failed.batchItemFailures).toHaveLength(1);
    expect(decisions).toEqual(['republish', 'park', 'republish', 'park']);
    expect(afterFailure).toBe(0);
    expect(committed.batchItemFailures).toEqual([]);
    expect(outcomes.map((o) => (o.kind === 'ok' ? o.detail : o.kind))).toEqual([
      { action: 'republish', attempts: 2, topic: 'orders', source: 'handler' },
      { action: 'park', reason: 'ATTEMPTS_EXHAUSTED', attempts: 2 },
    ]);
  });

  it('traces through the telemetry seam: one span per partition, its context on every write', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    const started: string[] = [];
    const ended: PartitionResult[] = [];
    const propagation = { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' };
    const telemetry: DeliveryTelemetry = {
      startPartition: (batch) => {
        started.push(batch.key);
        return { propagation, end: (result) => ended.push(result) };
      },
    };
    const handler = createRepublishDlqHandler({
      config,
      kafka: async () => kafka,
      now: () => NOW,
      telemetry,
    });

    // Act
    await handler(buildKafkaEvent({ records: [{ ...firstDeadLetter(), offset: 0 }] }));

    // Assess
    expect(started).toEqual(['orders.dlq-0']);
    expect(ended.map((r) => r.ok)).toEqual([1]);
    const [republished] = kafka.written('orders');
    expect(header(republished!, 'traceparent')).toBe(propagation.traceparent);
    expect(header(republished!, DLQ_HEADERS.attempts)).toBe('2');
  });
});

describe('republishDlq: an on-failure envelope of a record whose result committed', () => {
  const config = readPipelineConfig({ SERVICE_NAME: 'svc', STAGE: 'test' });
  const group = 'svc-test-processOrders.checkpoints';
  const handlerWith = (kafka: MemoryKafka) =>
    createRepublishDlqHandler({ config, kafka: async () => kafka, now: () => NOW });
  const envelopeAt = (offset: number, dlqOffset: number) => ({
    ...envelopeRecord('RetriesExhausted', orderRecord(offset)),
    partition: 0,
    offset: dlqOffset,
  });

  it('drops the copy of a processed record and republishes a skipped one', async () => {
    // Prepare: processOrders committed orders-1 up to 200; the mapping moved past 120..124
    const kafka = new MemoryKafka();
    kafka.offsets.set(`${group}/orders/1`, {
      nextOffset: 200,
      metadata: encodeCheckpoint({ nextOffset: 200, horizon: 0, gaps: [[120, 125]] }),
    });
    const outcomes: RecordOutcome<RepublishOutcomeDetail>[] = [];
    const handler = createRepublishDlqHandler({
      config,
      kafka: async () => kafka,
      now: () => NOW,
      onOutcome: (o) => outcomes.push(o),
    });

    // Act: envelopes for a processed record (100), a skipped one (122), one not reached (250)
    const response = await handler(
      buildKafkaEvent({ records: [envelopeAt(100, 0), envelopeAt(122, 1), envelopeAt(250, 2)] }),
    );

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(outcomes.map((o) => (o.kind === 'ok' ? o.detail : o.kind))).toEqual([
      {
        action: 'drop',
        reason: 'ALREADY_PROCESSED',
        attempts: 1,
        gaveUpOn: { topic: 'orders', partition: 1, offset: 100 },
      },
      {
        action: 'republish',
        attempts: 2,
        topic: 'orders',
        source: 'esm-on-failure',
        checkpoint: 'skipped',
      },
      {
        action: 'republish',
        attempts: 2,
        topic: 'orders',
        source: 'esm-on-failure',
        checkpoint: 'unprocessed',
      },
    ]);
    expect(kafka.written('orders')).toHaveLength(2);
  });

  it('republishes when the checkpoint cannot tell (below its horizon, or no metadata)', async () => {
    // Prepare: a checkpoint written without gap metadata knows nothing below itself
    const kafka = new MemoryKafka();
    kafka.offsets.set(`${group}/orders/1`, { nextOffset: 200 });

    // Act
    const response = await handlerWith(kafka)(buildKafkaEvent({ records: [envelopeAt(100, 0)] }));

    // Assess: at-least-once as before, never lost
    expect(response.batchItemFailures).toEqual([]);
    expect(kafka.written('orders')).toHaveLength(1);
  });
});
