/**
 * Building Kafka events from records (the inverse of decoding): for tests, fixtures
 * and the local event-source mapping, which must hand handlers exactly what Lambda would.
 */
import type {
  DecodedRecord,
  HeaderMap,
  KafkaEvent,
  KafkaEventHeader,
  KafkaEventRecord,
  KafkaEventRecords,
  SchemaMetadata,
} from './types.ts';

/**
 * A {@link HeaderMap} in the event's shape: one one-key object per value, values as
 * byte-number arrays, repeated names in order (grouped by name, as the map keeps them).
 *
 * @example
 * toEventHeaders(new Map([['a', [Buffer.from('1')]]])) // [{ a: [49] }]
 */
export const toEventHeaders = (headers: HeaderMap): KafkaEventHeader[] => {
  const out: KafkaEventHeader[] = [];
  for (const [name, values] of headers) {
    for (const value of values) out.push({ [name]: Array.from(value) });
  }
  return out;
};

/** One header value as callers hold it: text (UTF-8) or bytes. */
export type HeaderInputValue = string | Uint8Array;

/**
 * Headers as callers hold them: a {@link HeaderMap}, or an object like kafkajs'
 * `IHeaders` (`{name: value | value[] | undefined}`).
 */
export type HeaderInput =
  | HeaderMap
  | ReadonlyMap<string, HeaderInputValue | readonly HeaderInputValue[]>
  | Readonly<Record<string, HeaderInputValue | readonly HeaderInputValue[] | undefined>>;

const toBuffer = (value: HeaderInputValue): Buffer =>
  typeof value === 'string'
    ? Buffer.from(value, 'utf8')
    : Buffer.isBuffer(value)
      ? value
      : Buffer.from(value.buffer, value.byteOffset, value.byteLength);

/**
 * Builds a {@link HeaderMap} from friendlier input (text or bytes, single or repeated).
 *
 * @example
 * toHeaderMap({ 'x-attempt': '2', tag: ['a', 'b'] }).get('tag') // [<Buffer 61>, <Buffer 62>]
 */
export const toHeaderMap = (headers: HeaderInput | undefined): HeaderMap => {
  const map: HeaderMap = new Map();
  if (!headers) return map;
  const entries = headers instanceof Map ? headers.entries() : Object.entries(headers);
  for (const [name, value] of entries as Iterable<
    [string, HeaderInputValue | readonly HeaderInputValue[] | undefined]
  >) {
    if (value === undefined) continue;
    const list = Array.isArray(value)
      ? (value as readonly HeaderInputValue[])
      : [value as HeaderInputValue];
    map.set(name, list.map(toBuffer));
  }
  return map;
};

/**
 * Headers in the event's byte-array shape from a {@link HeaderMap} or kafkajs-like
 * headers: what the local event-source mapping and fixtures put in an event.
 *
 * @example
 * encodeHeaders({ traceparent: '00-…-01' }) // [{ traceparent: [48, 48, 45, …] }]
 */
export const encodeHeaders = (headers: HeaderInput | undefined): KafkaEventHeader[] =>
  toEventHeaders(toHeaderMap(headers));

/** A record to put in an event: key/value as bytes, text (UTF-8) or absent. */
export interface EventRecordInput {
  topic: string;
  partition: number;
  offset: number;
  timestamp?: number;
  timestampType?: string;
  key?: HeaderInputValue | null;
  value: HeaderInputValue | null;
  headers?: HeaderInput;
  keySchemaMetadata?: SchemaMetadata;
  valueSchemaMetadata?: SchemaMetadata;
}

/**
 * One record in the event's shape. A {@link DecodedRecord} that failed to decode gives
 * back its `rawValue`, so re-encoding never loses what was received. An absent key is
 * left out, as Lambda does.
 *
 * @example
 * toEventRecord({ topic: 't', partition: 0, offset: 1, value: '{"a":1}' }).value // 'eyJhIjoxfQ=='
 */
export const toEventRecord = (record: EventRecordInput | DecodedRecord): KafkaEventRecord => {
  const decodeFailed = 'rawValue' in record && record.decodeError?.code === 'INVALID_BASE64';
  const value =
    decodeFailed && record.value === null
      ? record.rawValue
      : record.value === null
        ? null
        : toBuffer(record.value).toString('base64');
  const out: KafkaEventRecord = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp ?? Date.now(),
    timestampType: record.timestampType ?? 'CREATE_TIME',
    value,
    headers: encodeHeaders(record.headers),
  };
  if (record.key !== undefined && record.key !== null)
    out.key = toBuffer(record.key).toString('base64');
  if (record.keySchemaMetadata) out.keySchemaMetadata = record.keySchemaMetadata;
  if (record.valueSchemaMetadata) out.valueSchemaMetadata = record.valueSchemaMetadata;
  return out;
};

export interface BuildKafkaEventInput {
  /** Default `aws:kafka`. */
  eventSource?: KafkaEvent['eventSource'];
  /** MSK only; a made-up cluster ARN when absent. */
  eventSourceArn?: string;
  bootstrapServers?: string;
  records: ReadonlyArray<EventRecordInput | DecodedRecord>;
}

/**
 * An MSK or self-managed event holding `records`, keyed `"<topic>-<partition>"` in
 * the order partitions first appear: what Lambda would deliver.
 *
 * @example
 * const event = buildKafkaEvent({ records: [{ topic: 'orders', partition: 0, offset: 0, value: '{}' }] });
 * Object.keys(event.records) // ['orders-0']
 */
export const buildKafkaEvent = (input: BuildKafkaEventInput): KafkaEvent => {
  const byPartition = new Map<string, KafkaEventRecord[]>();
  for (const record of input.records) {
    const key = `${record.topic}-${record.partition}`;
    const list = byPartition.get(key);
    if (list) list.push(toEventRecord(record));
    else byPartition.set(key, [toEventRecord(record)]);
  }
  const records: KafkaEventRecords = Object.fromEntries(byPartition);
  const bootstrapServers = input.bootstrapServers ?? 'localhost:9092';
  if (input.eventSource === 'SelfManagedKafka') {
    return { eventSource: 'SelfManagedKafka', bootstrapServers, records };
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      input.eventSourceArn ??
      'arn:aws:kafka:us-east-1:000000000000:cluster/local/00000000-0000-0000-0000-000000000000-1',
    bootstrapServers,
    records,
  };
};
