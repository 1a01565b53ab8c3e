import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKafkaEvent, toHeaderMap } from '../../../src/lib/events/decode.ts';
import {
  buildOnFailureEnvelope,
  isOnFailureEnvelope,
  type OnFailureEnvelope,
  parseOnFailureEnvelope,
} from '../../../src/lib/events/onFailureEnvelope.ts';
import { b64, eventRecord, mskEvent } from './eventFactory.ts';

// The example of the AWS page "Using a Kafka topic as an on-failure destination",
// section "Record format for a Kafka destination".
const awsExample = {
  requestContext: {
    requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
    functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST',
    condition: 'RetriesExhausted',
    approximateInvokeCount: 3,
  },
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
  version: '1.0',
  timestamp: '2019-11-14T18:16:05.568Z',
  KafkaBatchInfo: {
    batchSize: 1,
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/my-cluster/abc123',
    bootstrapServers: 'b-1.mycluster.abc123.kafka.us-east-1.amazonaws.com:9098',
    payloadSize: 1162,
    recordInfo: {
      offset: '49601189658422359378836298521827638475320189012309704722',
      timestamp: '2019-11-14T18:16:04.835Z',
    },
  },
  payload: {
    bootstrapServers: 'b-1.mycluster.abc123.kafka.us-east-1.amazonaws.com:9098',
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/my-cluster/abc123',
    records: {
      'my-topic-0': [
        {
          headers: [],
          key: 'dGVzdC1rZXk=',
          offset: 100,
          partition: 0,
          timestamp: 1749116692330,
          timestampType: 'CREATE_TIME',
          topic: 'my-topic',
          value: 'dGVzdC12YWx1ZQ==',
        },
      ],
    },
  },
};

const asMessage = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

const functionArn = 'arn:aws:lambda:us-east-1:000000000000:function:msk-orders-dev-processOrders';

describe('parseOnFailureEnvelope', () => {
  it("reads the AWS documentation's example", () => {
    // Prepare
    const message = asMessage(awsExample);

    // Act
    const parsed = parseOnFailureEnvelope(message);

    // Assess
    expect(parsed).toMatchObject({
      condition: 'RetriesExhausted',
      approximateInvokeCount: 3,
      timestamp: '2019-11-14T18:16:05.568Z',
      requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
      functionArn: awsExample.requestContext.functionArn,
      functionError: 'Unhandled',
      original: { topic: 'my-topic', partition: 0, offset: 100, timestampType: 'CREATE_TIME' },
    });
    expect(parsed?.original.key?.toString()).toBe('test-key');
    expect(parsed?.original.value?.toString()).toBe('test-value');
  });

  it.each(['RetryAttemptsExhausted', 'MaximumPayloadSizeExceeded', 'SomethingNew'])(
    'accepts and keeps the condition %s',
    (condition) => {
      // Prepare
      const message = asMessage({
        ...awsExample,
        requestContext: { ...awsExample.requestContext, condition },
        responseContext: null,
      });

      // Act
      const parsed = parseOnFailureEnvelope(message);

      // Assess
      expect(parsed?.condition).toBe(condition);
      expect(parsed?.functionError).toBeUndefined();
    },
  );

  it('decodes the carried record with the same decoder: a bad value is flagged, not thrown', () => {
    // Prepare
    const payload = mskEvent({ 'orders-0': [eventRecord({ value: 'not base64!' })] });
    const message = asMessage({ ...awsExample, payload });

    // Act
    const parsed = parseOnFailureEnvelope(message);

    // Assess
    expect(parsed?.original.decodeError?.code).toBe('INVALID_BASE64');
    expect(parsed?.original.rawValue).toBe('not base64!');
  });

  it('recognises an envelope without payload, but gives no record for it', () => {
    // Prepare: what a MaximumPayloadSizeExceeded failure could look like
    const { payload: _, ...withoutPayload } = awsExample;
    const message = asMessage({
      ...withoutPayload,
      requestContext: { ...awsExample.requestContext, condition: 'MaximumPayloadSizeExceeded' },
      responseContext: null,
    });

    // Act
    const parsed = parseOnFailureEnvelope(message);

    // Assess
    expect(isOnFailureEnvelope(message)).toBe(true);
    expect(parsed).toBeUndefined();
  });

  it('gives undefined for an envelope whose payload carries no record', () => {
    // Prepare
    const message = asMessage({ ...awsExample, payload: { ...awsExample.payload, records: {} } });

    // Act
    const parsed = parseOnFailureEnvelope(message);

    // Assess
    expect(isOnFailureEnvelope(message)).toBe(true);
    expect(parsed).toBeUndefined();
  });
});

describe('isOnFailureEnvelope', () => {
  it.each([
    ['null', null],
    ['an empty value', Buffer.alloc(0)],
    ['an order written as a dead letter', asMessage({ orderId: 'o-1', total: 3 })],
    ['text that is not JSON', Buffer.from('{"requestContext" "payload" but not JSON')],
    ['JSON without a payload', asMessage({ requestContext: { condition: 'RetriesExhausted' } })],
    ['an envelope without a condition', asMessage({ ...awsExample, requestContext: {} })],
    ['a JSON array', asMessage([awsExample])],
    ['bytes that are not UTF-8', Buffer.from([0xff, 0xfe, 0x7b])],
  ])('is false for %s', (_, value) => {
    // Prepare: the value alone

    // Act
    const result = isOnFailureEnvelope(value);

    // Assess
    expect(result).toBe(false);
  });

  it('is true for an envelope, with or without leading whitespace', () => {
    // Prepare
    const pretty = Buffer.from(`\n  ${JSON.stringify(awsExample, null, 2)}`);

    // Act
    const results = [isOnFailureEnvelope(asMessage(awsExample)), isOnFailureEnvelope(pretty)];

    // Assess
    expect(results).toEqual([true, true]);
  });
});

describe('buildOnFailureEnvelope', () => {
  it("produces AWS's shape for a failed record", () => {
    // Prepare
    const [batch] = decodeKafkaEvent(
      mskEvent({ 'orders.v1-3': [eventRecord({ topic: 'orders.v1', partition: 3, offset: 77 })] }),
    );
    const record = batch!.records[0]!;

    // Act
    const envelope = buildOnFailureEnvelope({
      record,
      eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/local/abc',
      bootstrapServers: 'localhost:9092',
      requestId: 'req-1',
      functionArn,
      approximateInvokeCount: 4,
      now: new Date('2026-01-02T03:04:05.678Z'),
    });

    // Assess
    const json: OnFailureEnvelope = JSON.parse(JSON.stringify(envelope));
    expect(Object.keys(json).sort()).toEqual(Object.keys(awsExample).sort());
    expect(Object.keys(json.KafkaBatchInfo).sort()).toEqual(
      Object.keys(awsExample.KafkaBatchInfo).sort(),
    );
    expect(json).toMatchObject({
      requestContext: {
        requestId: 'req-1',
        functionArn,
        condition: 'RetriesExhausted',
        approximateInvokeCount: 4,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-01-02T03:04:05.678Z',
      KafkaBatchInfo: {
        batchSize: 1,
        eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/local/abc',
        bootstrapServers: 'localhost:9092',
        payloadSize: Buffer.byteLength(JSON.stringify(envelope.payload)),
        recordInfo: { offset: '77', timestamp: new Date(record.timestamp).toISOString() },
      },
      payload: { eventSource: 'aws:kafka', bootstrapServers: 'localhost:9092' },
    });
    expect(json.payload.records).toEqual({
      'orders.v1-3': [eventRecord({ topic: 'orders.v1', partition: 3, offset: 77 })],
    });
  });

  it('leaves the cluster ARN out for self-managed Kafka', () => {
    // Prepare
    const record = { topic: 'orders', partition: 0, offset: 1, value: 'v' };

    // Act
    const envelope = buildOnFailureEnvelope({
      record,
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'kafka:9092',
      requestId: 'r',
      functionArn,
      approximateInvokeCount: 1,
      condition: 'RetryAttemptsExhausted',
    });

    // Assess
    expect(envelope.payload).not.toHaveProperty('eventSourceArn');
    expect(envelope.KafkaBatchInfo).not.toHaveProperty('eventSourceArn');
    expect(envelope.payload.eventSource).toBe('SelfManagedKafka');
    expect(envelope.requestContext.condition).toBe('RetryAttemptsExhausted');
  });

  it('keeps the raw value of a record that failed to decode', () => {
    // Prepare
    const [batch] = decodeKafkaEvent(mskEvent({ 'orders-0': [eventRecord({ value: '%%%' })] }));

    // Act
    const envelope = buildOnFailureEnvelope({
      record: batch!.records[0]!,
      bootstrapServers: 'b',
      requestId: 'r',
      functionArn,
      approximateInvokeCount: 1,
    });

    // Assess
    expect(envelope.payload.records['orders-0']?.[0]?.value).toBe('%%%');
  });

  it('round-trips any record through build, JSON bytes and parse', () => {
    const bytes = fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(
        fc.record({
          topic: fc.stringMatching(/^[a-zA-Z0-9._-]{1,30}$/),
          partition: fc.nat({ max: 100 }),
          offset: fc.nat({ max: 2 ** 40 }),
          timestamp: fc.integer({ min: 0, max: 4_000_000_000_000 }),
          key: fc.option(bytes, { nil: null }),
          value: fc.option(bytes, { nil: null }),
          headers: fc.dictionary(
            fc.string({ maxLength: 8 }),
            fc.array(bytes, { minLength: 1, maxLength: 3 }),
          ),
        }),
        fc.constantFrom('RetriesExhausted', 'RetryAttemptsExhausted'),
        fc.integer({ min: 1, max: 11 }),
        (input, condition, approximateInvokeCount) => {
          // Prepare
          const headers = toHeaderMap(input.headers);
          const record = { ...input, headers };

          // Act
          const message = asMessage(
            buildOnFailureEnvelope({
              record,
              eventSourceArn: 'arn:aws:kafka:us-east-1:000000000000:cluster/local/abc',
              bootstrapServers: 'localhost:9092',
              requestId: 'r',
              functionArn,
              approximateInvokeCount,
              condition,
            }),
          );
          const parsed = parseOnFailureEnvelope(message);

          // Assess
          expect(isOnFailureEnvelope(message)).toBe(true);
          expect(parsed?.condition).toBe(condition);
          expect(parsed?.approximateInvokeCount).toBe(approximateInvokeCount);
          expect(parsed?.original).toMatchObject({
            topic: input.topic,
            partition: input.partition,
            offset: input.offset,
            timestamp: input.timestamp,
            key: input.key,
            value: input.value,
          });
          expect(parsed?.original.headers).toEqual(headers);
          expect(parsed?.original.decodeError).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('an envelope carrying a keyless record', () => {
  it('decodes to a null key', () => {
    // Prepare
    const record = eventRecord({ value: b64('x') });
    delete record.key;
    const message = asMessage({ ...awsExample, payload: mskEvent({ 'orders-0': [record] }) });

    // Act
    const parsed = parseOnFailureEnvelope(message);

    // Assess
    expect(parsed?.original.key).toBeNull();
  });
});
