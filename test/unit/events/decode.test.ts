import { describe, expect, it, vi } from 'vitest';
import { deadLetter } from '../../../src/lib/delivery/deadLetter.ts';
import { PipelineError, PoisonRecordError } from '../../../src/lib/errors.ts';
import {
  buildKafkaEvent,
  type DecodeIssue,
  decodeKafkaEvent,
  encodeHeaders,
  parsePartitionKey,
  toEventHeaders,
  toHeaderMap,
} from '../../../src/lib/events/decode.ts';
import { lastHeaderText } from '../../../src/lib/events/headers.ts';
import { b64, eventRecord, header, mskEvent, selfManagedEvent } from './eventFactory.ts';

describe('decodeKafkaEvent', () => {
  it('takes a timestamp beyond what a Date holds as none, so its dead letter can still be written', () => {
    // Prepare
    const event = mskEvent({ 'orders-0': [eventRecord({ offset: 1, timestamp: 1e20 })] });

    // Act
    const record = decodeKafkaEvent(event)[0]!.records[0]!;
    const letter = () =>
      deadLetter(record, new PoisonRecordError('NOT_JSON', 'x'), {
        topic: 'orders.dlq',
        now: new Date(0),
      });

    // Assess
    expect(record.timestamp).toBe(-1);
    expect(letter).not.toThrow();
  });

  it('decodes an MSK event into one batch per partition with Buffers and fields', () => {
    // Prepare
    const event = mskEvent({
      'orders-0': [eventRecord({ offset: 15 }), eventRecord({ offset: 16, value: b64('{"n":2}') })],
      'orders-1': [eventRecord({ partition: 1, offset: 3 })],
    });

    // Act
    const batches = decodeKafkaEvent(event);

    // Assess
    expect(batches.map((b) => [b.key, b.topic, b.partition, b.records.length])).toEqual([
      ['orders-0', 'orders', 0, 2],
      ['orders-1', 'orders', 1, 1],
    ]);
    const first = batches[0]!.records[0]!;
    expect(first).toMatchObject({
      topic: 'orders',
      partition: 0,
      offset: 15,
      timestamp: 1_545_084_650_987,
      timestampType: 'CREATE_TIME',
      rawValue: b64('{"orderId":"order-1"}'),
    });
    expect(first.key?.toString()).toBe('order-1');
    expect(first.value?.toString()).toBe('{"orderId":"order-1"}');
    expect(first.decodeError).toBeUndefined();
    expect(batches[0]!.records[1]!.value?.toString()).toBe('{"n":2}');
  });

  it('decodes a self-managed Kafka event the same way', () => {
    // Prepare
    const event = selfManagedEvent({ 'orders-0': [eventRecord()] });

    // Act
    const [batch] = decodeKafkaEvent(event);

    // Assess
    expect(batch?.key).toBe('orders-0');
    expect(batch?.records[0]?.value?.toString()).toBe('{"orderId":"order-1"}');
  });

  it('gives a null key when the key is absent or null', () => {
    // Prepare
    const absent = eventRecord({ offset: 1 });
    delete absent.key;
    const event = mskEvent({ 'orders-0': [absent, eventRecord({ offset: 2, key: null })] });

    // Act
    const [batch] = decodeKafkaEvent(event);

    // Assess
    expect(batch?.records.map((r) => r.key)).toEqual([null, null]);
    expect(batch?.records.every((r) => r.decodeError === undefined)).toBe(true);
  });

  it('gives a null value (not an error) when the value is null: the handler decides', () => {
    // Prepare
    const event = mskEvent({ 'orders-0': [eventRecord({ value: null })] });

    // Act
    const record = decodeKafkaEvent(event)[0]!.records[0]!;

    // Assess
    expect(record.value).toBeNull();
    expect(record.rawValue).toBeNull();
    expect(record.decodeError).toBeUndefined();
  });

  it.each([
    ['missing padding', 'aGk'],
    ['a character outside the alphabet', 'a$k='],
    ['the URL-safe alphabet', 'ab-_'],
    ['a line break', 'aGk=\n'],
    ['padding in the middle', 'aG=k'],
    ['non-canonical trailing bits', 'aGl='],
    ['plain text', 'not base64 at all!'],
  ])('flags a value with %s as INVALID_BASE64 and keeps it raw', (_, raw) => {
    // Prepare: Node's own decoder accepts these without a word
    expect(() => Buffer.from(raw, 'base64')).not.toThrow();
    const event = mskEvent({ 'orders-0': [eventRecord({ value: raw })] });

    // Act
    const record = decodeKafkaEvent(event)[0]!.records[0]!;

    // Assess
    expect(record.decodeError?.code).toBe('INVALID_BASE64');
    expect(record.value).toBeNull();
    expect(record.rawValue).toBe(raw);
    expect(record.key?.toString()).toBe('order-1');
  });

  it('flags an invalid key and keeps its raw text as the key bytes', () => {
    // Prepare
    const event = mskEvent({ 'orders-0': [eventRecord({ key: 'k€y!' })] });

    // Act
    const record = decodeKafkaEvent(event)[0]!.records[0]!;

    // Assess
    expect(record.decodeError?.code).toBe('INVALID_BASE64');
    expect(record.decodeError?.message).toMatch(/key/);
    expect(record.key?.toString('utf8')).toBe('k€y!');
    expect(record.value?.toString()).toBe('{"orderId":"order-1"}');
  });

  it('flags a value that is not a string and keeps its JSON text', () => {
    // Prepare
    const event = mskEvent({ 'orders-0': [{ ...eventRecord(), value: 42 }] });

    // Act
    const record = decodeKafkaEvent(event)[0]!.records[0]!;

    // Assess
    expect(record.decodeError?.code).toBe('INVALID_BASE64');
    expect(record.rawValue).toBe('42');
  });

  it('accepts an empty value as zero bytes', () => {
    // Prepare
    const event = mskEvent({ 'orders-0': [eventRecord({ value: '' })] });

    // Act
    const record = decodeKafkaEvent(event)[0]!.records[0]!;

    // Assess
    expect(record.value).toEqual(Buffer.alloc(0));
    expect(record.decodeError).toBeUndefined();
  });

  it('keeps repeated headers in order and reads the last value as text', () => {
    // Prepare
    const event = mskEvent({
      'orders-0': [
        eventRecord({
          headers: [header('tag', 'a'), header('traceparent', 'tp'), header('tag', 'b')],
        }),
      ],
    });

    // Act
    const { headers } = decodeKafkaEvent(event)[0]!.records[0]!;

    // Assess
    expect(headers.get('tag')?.map((v) => v.toString())).toEqual(['a', 'b']);
    expect(lastHeaderText(headers, 'tag')).toBe('b');
    expect(lastHeaderText(headers, 'traceparent')).toBe('tp');
    expect(lastHeaderText(headers, 'absent')).toBeUndefined();
  });

  it('drops malformed headers, keeps the good ones and reports each drop', () => {
    // Prepare
    const issues: DecodeIssue[] = [];
    const event = mskEvent({
      'orders-0': [
        eventRecord({
          offset: 7,
          headers: [
            header('good', 'yes'),
            { bad: [256] },
            { fraction: [1.5] },
            { text: 'abc' as unknown as number[] },
            null as unknown as Record<string, number[]>,
            { empty: null as unknown as number[] },
            header('good', 'again'),
          ],
        }),
      ],
    });

    // Act
    const record = decodeKafkaEvent(event, { onIssue: (i) => issues.push(i) })[0]!.records[0]!;

    // Assess
    expect([...record.headers.keys()]).toEqual(['good', 'empty']);
    expect(record.headers.get('good')?.map(String)).toEqual(['yes', 'again']);
    expect(record.headers.get('empty')).toEqual([Buffer.alloc(0)]);
    expect(record.decodeError).toBeUndefined();
    expect(issues.map((i) => [i.kind, i.partitionKey, i.offset])).toEqual([
      ['MALFORMED_HEADER', 'orders-0', 7],
      ['MALFORMED_HEADER', 'orders-0', 7],
      ['MALFORMED_HEADER', 'orders-0', 7],
      ['MALFORMED_HEADER', 'orders-0', 7],
    ]);
  });

  it('reads headers that are not an array as none, and reports it', () => {
    // Prepare
    const onIssue = vi.fn();
    const event = mskEvent({ 'orders-0': [{ ...eventRecord(), headers: { a: [1] } }] });

    // Act
    const record = decodeKafkaEvent(event, { onIssue })[0]!.records[0]!;

    // Assess
    expect(record.headers.size).toBe(0);
    expect(onIssue).toHaveBeenCalledOnce();
  });

  it('splits dashed and dotted topic keys at the last dash and keeps the key exact', () => {
    // Prepare
    const topic = 'my.topic-with-dashes';
    const event = mskEvent({
      'my.topic-with-dashes-12': [eventRecord({ topic, partition: 12 })],
    });

    // Act
    const [batch] = decodeKafkaEvent(event);

    // Assess
    expect(batch).toMatchObject({ key: 'my.topic-with-dashes-12', topic, partition: 12 });
    expect(batch?.records[0]).toMatchObject({ topic, partition: 12 });
  });

  it("prefers the record's own topic and partition, and falls back to the key", () => {
    // Prepare
    const incomplete = { ...eventRecord(), topic: undefined, partition: 'x' };
    const event = mskEvent({
      'a-b.c-3': [incomplete],
      odd_key: [eventRecord({ topic: 'real.topic', partition: 4 })],
    });

    // Act
    const [fromKey, fromRecord] = decodeKafkaEvent(event);

    // Assess
    expect(fromKey).toMatchObject({ key: 'a-b.c-3', topic: 'a-b.c', partition: 3 });
    expect(fromKey?.records[0]).toMatchObject({ topic: 'a-b.c', partition: 3 });
    expect(fromRecord).toMatchObject({ key: 'odd_key', topic: 'real.topic', partition: 4 });
  });

  it('keeps schema registry metadata', () => {
    // Prepare
    const keySchemaMetadata = { dataFormat: 'AVRO', schemaId: '1234' };
    const valueSchemaMetadata = { dataFormat: 'JSON', schemaId: '5678' };
    const event = mskEvent({
      'orders-0': [eventRecord({ keySchemaMetadata, valueSchemaMetadata })],
    });

    // Act
    const record = decodeKafkaEvent(event)[0]!.records[0]!;

    // Assess
    expect(record.keySchemaMetadata).toEqual(keySchemaMetadata);
    expect(record.valueSchemaMetadata).toEqual(valueSchemaMetadata);
  });

  it('sorts the records of a partition by offset', () => {
    // Prepare
    const event = mskEvent({
      'orders-0': [12, 10, 11, 9].map((offset) => eventRecord({ offset })),
    });

    // Act
    const [batch] = decodeKafkaEvent(event);

    // Assess
    expect(batch?.records.map((r) => r.offset)).toEqual([9, 10, 11, 12]);
  });

  it('flags records above maxRecordBytes as RECORD_TOO_LARGE and still decodes them', () => {
    // Prepare: key 3 + value 10 + header name 1 + header value 2 = 16 bytes
    const record = eventRecord({
      key: b64('abc'),
      value: b64('0123456789'),
      headers: [header('h', 'xy')],
    });
    const event = mskEvent({ 'orders-0': [record] });

    // Act
    const atLimit = decodeKafkaEvent(event, { maxRecordBytes: 16 })[0]!.records[0]!;
    const over = decodeKafkaEvent(event, { maxRecordBytes: 15 })[0]!.records[0]!;

    // Assess
    expect(atLimit.decodeError).toBeUndefined();
    expect(over.decodeError?.code).toBe('RECORD_TOO_LARGE');
    expect(over.decodeError?.message).toMatch(/16 bytes/);
    expect(over.value?.toString()).toBe('0123456789');
  });

  it('keeps a record that is not an object, flagged, with offset -1', () => {
    // Prepare
    const event = mskEvent({ 'orders-2': [eventRecord({ partition: 2 }), 'garbage'] });

    // Act
    const [batch] = decodeKafkaEvent(event);

    // Assess
    expect(batch?.records).toHaveLength(2);
    expect(batch?.records[0]).toMatchObject({
      offset: -1,
      topic: 'orders',
      partition: 2,
      rawValue: 'garbage',
      decodeError: { code: 'INVALID_BASE64' },
    });
  });

  it('gives an empty batch, and reports it, for a partition that is not an array', () => {
    // Prepare
    const onIssue = vi.fn();
    const event = mskEvent({ 'orders-0': { not: 'an array' } });

    // Act
    const batches = decodeKafkaEvent(event, { onIssue });

    // Assess
    expect(batches).toEqual([{ key: 'orders-0', topic: 'orders', partition: 0, records: [] }]);
    expect(onIssue).toHaveBeenCalledWith(
      expect.objectContaining({ kind: 'MALFORMED_PARTITION', partitionKey: 'orders-0' }),
    );
  });

  it('gives no batches for an event with no records', () => {
    // Prepare
    const event = mskEvent({});

    // Act
    const batches = decodeKafkaEvent(event);

    // Assess
    expect(batches).toEqual([]);
  });

  it.each([
    ['null', null],
    ['a string', 'aws:kafka'],
    ['an array', []],
    ['an SQS event', { eventSource: 'aws:sqs', records: {} }],
    ['an event without eventSource', { records: {} }],
    ['an event without records', { eventSource: 'aws:kafka' }],
    ['an event whose records is an array', { eventSource: 'SelfManagedKafka', records: [] }],
  ])('throws INVALID_REQUEST for %s', (_, event) => {
    // Prepare
    let thrown: unknown;

    // Act
    try {
      decodeKafkaEvent(event);
    } catch (error) {
      thrown = error;
    }

    // Assess
    expect(thrown).toBeInstanceOf(PipelineError);
    expect(thrown).toMatchObject({ code: 'INVALID_REQUEST', retriable: false });
    expect((thrown as Error).message).toMatch(/^not a Kafka event/);
  });
});

describe('parsePartitionKey', () => {
  it.each([
    ['orders-0', { topic: 'orders', partition: 0 }],
    ['my.topic-with-dashes-12', { topic: 'my.topic-with-dashes', partition: 12 }],
    ['a-1-2', { topic: 'a-1', partition: 2 }],
    ['orders', undefined],
    ['orders-', undefined],
    ['-3', undefined],
    ['orders-1a', undefined],
    ['orders--1', { topic: 'orders-', partition: 1 }],
    ['orders-99999999999999999999', undefined],
  ])('parses %j', (key, expected) => {
    // Prepare: the key alone

    // Act
    const parsed = parsePartitionKey(key);

    // Assess
    expect(parsed).toEqual(expected);
  });
});

describe('header helpers', () => {
  it('turn a header map back into the event byte-array shape, repeated names in order', () => {
    // Prepare
    const headers = toHeaderMap({ tag: ['a', 'b'], bin: Buffer.from([0, 255]) });

    // Act
    const eventHeaders = toEventHeaders(headers);

    // Assess
    expect(eventHeaders).toEqual([{ tag: [97] }, { tag: [98] }, { bin: [0, 255] }]);
  });

  it('encode kafkajs-like headers, skipping undefined values', () => {
    // Prepare
    const kafkajsHeaders = { traceparent: '00-x-01', skipped: undefined, raw: new Uint8Array([1]) };

    // Act
    const eventHeaders = encodeHeaders(kafkajsHeaders);

    // Assess
    expect(eventHeaders).toEqual([
      { traceparent: Array.from(Buffer.from('00-x-01')) },
      { raw: [1] },
    ]);
  });

  it('round-trip through an event built with buildKafkaEvent', () => {
    // Prepare
    const headers = toHeaderMap({ 'x-dlq-attempts': '2', tag: ['a', 'b'] });
    const event = buildKafkaEvent({
      eventSource: 'SelfManagedKafka',
      records: [
        { topic: 'orders.dlq', partition: 1, offset: 5, key: 'k', value: 'v', headers },
        { topic: 'orders.dlq', partition: 1, offset: 6, value: null },
      ],
    });

    // Act
    const [batch] = decodeKafkaEvent(event);

    // Assess
    expect(event.eventSource).toBe('SelfManagedKafka');
    expect('key' in event.records['orders.dlq-1']![1]!).toBe(false);
    expect(batch?.key).toBe('orders.dlq-1');
    expect(batch?.records[0]?.headers).toEqual(headers);
    expect(batch?.records[0]?.key?.toString()).toBe('k');
    expect(batch?.records[1]).toMatchObject({ key: null, value: null });
  });
});
