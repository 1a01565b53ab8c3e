/**
 * The one way in for Kafka events: turns an MSK or self-managed Kafka event into
 * typed records grouped by partition. Turning records back into the event shape (for
 * tests, fixtures and the local event-source mapping) lives in `encode.ts`.
 *
 * Event shape: https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
import { PipelineError } from '../errors.ts';
import {
  type DecodeOptions,
  decodeHeaders,
  decodeKafkaRecord,
  isRecordObject,
  NO_OFFSET,
  type PartitionHint,
  rawText,
  recordOffset,
  recordPartition,
  recordTopic,
} from './decodeRecord.ts';
import { readKafkaRecord } from './eventRecord.ts';
import type { DecodedRecord, HeaderMap, KafkaEvent, PartitionBatch } from './types.ts';

export type { DecodeIssue, DecodeOptions, PartitionHint } from './decodeRecord.ts';
export { decodeHeaders, decodeKafkaRecord } from './decodeRecord.ts';
export type {
  BuildKafkaEventInput,
  EventRecordInput,
  HeaderInput,
  HeaderInputValue,
} from './encode.ts';
export {
  buildKafkaEvent,
  encodeHeaders,
  toEventHeaders,
  toEventRecord,
  toHeaderMap,
} from './encode.ts';
export { EventRecord, headerBytes, readKafkaRecord } from './eventRecord.ts';

/** Kafka event sources Lambda delivers, and how this module names them. */
const EVENT_SOURCES = {
  'aws:kafka': 'msk',
  SelfManagedKafka: 'self-managed',
} as const satisfies Record<KafkaEvent['eventSource'], string>;

/**
 * Splits a partition key `"<topic>-<partition>"` at its last `-` (topic names may
 * contain `-` and `.`, partitions are digits).
 *
 * @returns `undefined` when the key does not end in `-<digits>` after a non-empty topic.
 * @example
 * parsePartitionKey('my.topic-with-dashes-12') // { topic: 'my.topic-with-dashes', partition: 12 }
 * parsePartitionKey('no-partition-') // undefined
 */
export const parsePartitionKey = (
  key: string,
): { topic: string; partition: number } | undefined => {
  const dash = key.lastIndexOf('-');
  if (dash < 1 || dash === key.length - 1) return undefined;
  for (let i = dash + 1; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const partition = Number(key.slice(dash + 1));
  if (!Number.isSafeInteger(partition)) return undefined;
  return { topic: key.slice(0, dash), partition };
};

/** The offset {@link decodeKafkaRecord} reads from a record, without decoding it. */
const offsetOf = (raw: unknown): number => (isRecordObject(raw) ? recordOffset(raw) : NO_OFFSET);

const kindOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;

// The last partition made, kept until the next one, so a full GC between invocations
// does not collect what the code optimized for it depends on (see _lastMade in
// delivery/resultBytes.ts). It keeps the last event alive until the next one arrives.
let _lastMade: EventPartition | undefined;

/**
 * One partition of an event whose records are decoded when they are reached, not
 * all at once: `recordAt(i)` decodes the `i`-th record (in offset order) each time it
 * is asked, so a loop that lets go of each record keeps nothing of it alive. `records`
 * is the whole partition decoded, once, for callers that want the array.
 */
export class EventPartition implements PartitionBatch {
  readonly key: string;
  readonly topic: string;
  readonly partition: number;
  readonly #entries: readonly unknown[];
  readonly #offsets: readonly number[];
  readonly #hint: PartitionHint;
  readonly #options: DecodeOptions;
  #records: DecodedRecord[] | undefined;

  constructor(hint: PartitionHint, entries: readonly unknown[], options: DecodeOptions) {
    this.key = hint.partitionKey;
    this.topic = hint.topic;
    this.partition = hint.partition;
    this.#hint = hint;
    this.#options = options;
    let offsets = entries.map(offsetOf);
    let sorted = true;
    for (let i = 1; i < offsets.length && sorted; i++) sorted = offsets[i - 1]! <= offsets[i]!;
    if (!sorted) {
      // a stable sort by offset, as the decoded records were always sorted
      const order = offsets.map((_, i) => i).sort((x, y) => offsets[x]! - offsets[y]!);
      entries = order.map((i) => entries[i]);
      offsets = order.map((i) => offsets[i]!);
    }
    this.#entries = entries;
    this.#offsets = offsets;
    _lastMade = this;
  }

  /** Number of records. */
  get length(): number {
    return this.#entries.length;
  }

  /** Offset of the `i`-th record (-1 when the record has none), without decoding it. */
  offsetAt(i: number): number {
    return this.#offsets[i]!;
  }

  /**
   * The `i`-th record, decoded now (or taken from `records` once that was asked for);
   * its key and headers are decoded when first read (an `EventRecord`, events/eventRecord.ts).
   */
  recordAt(i: number): DecodedRecord {
    return this.#records?.[i] ?? readKafkaRecord(this.#entries[i], this.#hint, this.#options);
  }

  /**
   * The `i`-th record's headers, without decoding its key or value (or taken from
   * `records` once that was asked for): what a tracer reads of every record of a batch.
   */
  headersAt(i: number): HeaderMap {
    const decoded = this.#records?.[i];
    if (decoded) return decoded.headers;
    const entry = this.#entries[i];
    return isRecordObject(entry) ? decodeHeaders(entry.headers) : new Map();
  }

  /** Every record, decoded once and kept. */
  get records(): DecodedRecord[] {
    this.#records ??= this.#entries.map((entry) =>
      decodeKafkaRecord(entry, this.#hint, this.#options),
    );
    return this.#records;
  }
}

/**
 * Reads an MSK (`eventSource: "aws:kafka"`) or self-managed Kafka
 * (`"SelfManagedKafka"`) event into one {@link EventPartition} per event key, records
 * in offset order and decoded only when asked for.
 *
 * Throws a `PipelineError('INVALID_REQUEST')` only when the event as a whole is not a
 * Kafka event (not an object, unknown `eventSource`, no `records` object). Records
 * never make it throw: see {@link decodeKafkaRecord}.
 *
 * @example
 * for (const partition of readKafkaEvent(event, { maxRecordBytes: 1_000_000 }))
 *   for (let i = 0; i < partition.length; i++) process(partition.recordAt(i));
 */
export const readKafkaEvent = (event: unknown, options: DecodeOptions = {}): EventPartition[] => {
  if (!isRecordObject(event)) {
    throw new PipelineError('INVALID_REQUEST', `not a Kafka event: got ${kindOf(event)}`);
  }
  const source = event.eventSource;
  if (typeof source !== 'string' || !Object.hasOwn(EVENT_SOURCES, source)) {
    throw new PipelineError(
      'INVALID_REQUEST',
      `not a Kafka event: eventSource ${rawText(source ?? null).slice(0, 64)} is not one of ${Object.keys(EVENT_SOURCES).join(', ')}`,
    );
  }
  const records = event.records;
  if (!isRecordObject(records)) {
    throw new PipelineError(
      'INVALID_REQUEST',
      `not a Kafka event: records is ${kindOf(records)}, expected an object keyed "<topic>-<partition>"`,
    );
  }

  const partitions: EventPartition[] = [];
  for (const [partitionKey, entries] of Object.entries(records)) {
    const parsed = parsePartitionKey(partitionKey);
    const first: unknown = Array.isArray(entries) ? entries[0] : undefined;
    // The record's own fields are preferred; the key is the fallback (and the identity).
    const topic = recordTopic(isRecordObject(first) ? first : {}, parsed?.topic ?? partitionKey);
    const partition = recordPartition(isRecordObject(first) ? first : {}, parsed?.partition ?? -1);
    const hint: PartitionHint = { partitionKey, topic, partition };

    if (!Array.isArray(entries)) {
      options.onIssue?.({
        kind: 'MALFORMED_PARTITION',
        partitionKey,
        message: `records of ${partitionKey.slice(0, 128)} is ${kindOf(entries)}, not an array: no records`,
      });
      partitions.push(new EventPartition(hint, [], options));
      continue;
    }
    partitions.push(new EventPartition(hint, entries, options));
  }
  return partitions;
};

/**
 * Decodes an MSK (`eventSource: "aws:kafka"`) or self-managed Kafka
 * (`"SelfManagedKafka"`) event into one {@link PartitionBatch} per event key, every
 * record decoded, in offset order. Throws as {@link readKafkaEvent} does.
 *
 * @example
 * const batches = decodeKafkaEvent(event, { maxRecordBytes: 1_000_000 });
 * for (const batch of batches) {
 *   for (const record of batch.records) {
 *     if (record.decodeError) deadLetter(record);
 *     else process(record);
 *   }
 * }
 */
export const decodeKafkaEvent = (event: unknown, options: DecodeOptions = {}): PartitionBatch[] =>
  readKafkaEvent(event, options).map((p) => ({
    key: p.key,
    topic: p.topic,
    partition: p.partition,
    records: p.records,
  }));

/**
 * The UTF-8 text of the last value of a header, as Kafka clients read a single-valued header.
 *
 * @example
 * headerValue(record.headers, 'traceparent') // '00-4bf9…-01' or undefined
 */
export const headerValue = (headers: HeaderMap, name: string): string | undefined => {
  const values = headers.get(name);
  const last = values?.[values.length - 1];
  return last === undefined ? undefined : last.toString('utf8');
};
