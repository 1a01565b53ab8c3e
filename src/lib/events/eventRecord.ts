/**
 * A record of an event read as the partition loop reaches it, paying only for what the
 * loop uses: its value is decoded at once, its key and headers are checked and measured
 * at once but turned into bytes only when read. On the hot path the key (the result's
 * key is the order id) and the header map (only the trace context travels, as bytes)
 * are never read, and building them was a fifth of the time per record.
 *
 * The verdicts are {@link decodeKafkaRecord}'s: a key that is not strict base64, or a
 * malformed header, sends the record down the eager path, which keeps its raw text and
 * reports the header through `onIssue`; `RECORD_TOO_LARGE` counts the same bytes.
 */
import { BASE64_DIGITS, decodeBase64Strict } from './base64.ts';
import {
  type DecodeOptions,
  decodeHeaders,
  decodeKafkaRecord,
  isRecordObject,
  nameBytes,
  type PartitionHint,
  recordOffset,
  recordPartition,
  recordTimestamp,
  recordTimestampType,
  recordTopic,
  schemaMetadata,
} from './decodeRecord.ts';
import type { DecodedRecord, HeaderMap, SchemaMetadata } from './types.ts';

/**
 * The byte length `text` decodes to under {@link decodeBase64Strict}, or -1 when that
 * would refuse it: the same rules, checked character by character without decoding
 * (a key is short, and this allocates nothing).
 */
export const strictBase64Length = (text: string): number => {
  const length = text.length;
  if (length % 4 !== 0) return -1;
  let padding = 0;
  if (length > 0 && text.charCodeAt(length - 1) === 0x3d)
    padding = text.charCodeAt(length - 2) === 0x3d ? 2 : 1;
  const digits = length - padding;
  for (let i = 0; i < digits; i++) {
    const code = text.charCodeAt(i);
    if (code > 127 || BASE64_DIGITS[code]! < 0) return -1;
  }
  // the last digit before the padding carries no bits beyond the last byte
  if (
    padding > 0 &&
    (BASE64_DIGITS[text.charCodeAt(digits - 1)]! & (padding === 1 ? 0b11 : 0b1111)) !== 0
  )
    return -1;
  return (length / 4) * 3 - padding;
};

/**
 * What well-formed headers weigh (the UTF-8 name once per value, plus the value's bytes),
 * or -1 when any header is malformed (the eager path then drops and reports it).
 */
export const measureHeaders = (headers: unknown): number => {
  if (headers === undefined || headers === null) return 0;
  if (!Array.isArray(headers)) return -1;
  let size = 0;
  for (let i = 0; i < headers.length; i++) {
    const entry: unknown = headers[i];
    if (!isRecordObject(entry)) return -1;
    const names = Object.keys(entry);
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!;
      const value = entry[name];
      if (value !== null) {
        if (!Array.isArray(value)) return -1;
        for (let b = 0; b < value.length; b++) {
          const byte = value[b];
          if ((byte & 255) !== byte) return -1;
        }
        size += value.length;
      }
      size += nameBytes(name);
    }
  }
  return size;
};

const NO_HEADER_VALUES: readonly ArrayLike<number>[] = [];

/**
 * The last record made, kept until the next one: without a live instance, a full GC
 * between invocations collects the class's instance map, and every optimized function
 * that reads records deoptimizes (see `_lastMade` in delivery/resultBytes.ts).
 */
let _lastMade: EventRecord | undefined;

/**
 * A record whose key and headers are decoded on first read (then kept). Everything
 * else is a plain field, as {@link decodeKafkaRecord} sets it. `key` and `headers` are
 * accessors: a spread or `Object.keys` of the record does not see them.
 */
export class EventRecord implements DecodedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  value: Buffer | null;
  rawValue: string | null;
  // set only when there is one, as on a plain record (`'decodeError' in record` is false
  // for a sound record): declared, so no field is made at construction
  declare keySchemaMetadata?: SchemaMetadata;
  declare valueSchemaMetadata?: SchemaMetadata;
  declare decodeError?: DecodedRecord['decodeError'];
  /** The key's base64 text until it is read, then `undefined`. */
  #rawKey: string | null | undefined;
  #key: Buffer | null = null;
  /** The event's header list until it is read, then `undefined`. */
  #rawHeaders: unknown;
  #headers: HeaderMap | undefined;

  constructor(
    topic: string,
    partition: number,
    offset: number,
    timestamp: number,
    timestampType: string,
    value: Buffer | null,
    rawValue: string | null,
    rawKey: string | null,
    rawHeaders: unknown,
  ) {
    this.topic = topic;
    this.partition = partition;
    this.offset = offset;
    this.timestamp = timestamp;
    this.timestampType = timestampType;
    this.value = value;
    this.rawValue = rawValue;
    this.#rawKey = rawKey;
    this.#rawHeaders = rawHeaders;
    _lastMade = this;
  }

  get key(): Buffer | null {
    const raw = this.#rawKey;
    if (raw !== undefined) {
      // checked strict already: decodes to exactly what decodeKafkaRecord would keep
      this.#key = raw === null ? null : (decodeBase64Strict(raw) ?? null);
      this.#rawKey = undefined;
    }
    return this.#key;
  }

  set key(key: Buffer | null) {
    this.#key = key;
    this.#rawKey = undefined;
  }

  get headers(): HeaderMap {
    if (this.#headers === undefined) {
      this.#headers = decodeHeaders(this.#rawHeaders);
      this.#rawHeaders = undefined;
    }
    return this.#headers;
  }

  set headers(headers: HeaderMap) {
    this.#headers = headers;
    this.#rawHeaders = undefined;
  }

  /**
   * The values of header `name` in order, as bytes, without building the header map
   * when it was not read yet (the event's byte arrays themselves, checked already).
   */
  headerBytes(name: string): readonly ArrayLike<number>[] {
    if (this.#headers !== undefined) return this.#headers.get(name) ?? NO_HEADER_VALUES;
    const raw = this.#rawHeaders as ReadonlyArray<Record<string, number[] | null>> | undefined;
    if (raw === undefined || raw === null || raw.length === 0) return NO_HEADER_VALUES;
    let found: ArrayLike<number>[] | undefined;
    for (let i = 0; i < raw.length; i++) {
      const entry = raw[i]!;
      if (!Object.hasOwn(entry, name)) continue;
      const value = entry[name];
      found ??= [];
      found.push(value === null || value === undefined ? NO_BYTES : value);
    }
    return found ?? NO_HEADER_VALUES;
  }

  /** The plain record: what `JSON.stringify` and loggers see. */
  toJSON(): DecodedRecord {
    const plain: DecodedRecord = {
      topic: this.topic,
      partition: this.partition,
      offset: this.offset,
      timestamp: this.timestamp,
      timestampType: this.timestampType,
      key: this.key,
      value: this.value,
      headers: this.headers,
      rawValue: this.rawValue,
    };
    if (this.keySchemaMetadata) plain.keySchemaMetadata = this.keySchemaMetadata;
    if (this.valueSchemaMetadata) plain.valueSchemaMetadata = this.valueSchemaMetadata;
    if (this.decodeError) plain.decodeError = this.decodeError;
    return plain;
  }
}

const NO_BYTES = new Uint8Array(0);

/**
 * The values of header `name` of any decoded record, in order, as bytes: read from the
 * event without building the header map when the record is an {@link EventRecord}.
 *
 * @example
 * for (const bytes of headerBytes(record, 'traceparent')) results.header('traceparent', bytes);
 */
export const headerBytes = (record: DecodedRecord, name: string): readonly ArrayLike<number>[] =>
  record instanceof EventRecord
    ? record.headerBytes(name)
    : (record.headers.get(name) ?? NO_HEADER_VALUES);

/**
 * {@link decodeKafkaRecord}, with the key and headers decoded when first read: an
 * {@link EventRecord} for a record whose key is strict base64 and whose headers are
 * well formed, else exactly what `decodeKafkaRecord` returns (so the raw key text is
 * kept and each bad header is reported through `onIssue`, at once).
 *
 * @example
 * const record = readKafkaRecord(raw, { partitionKey: 'orders-0', topic: 'orders', partition: 0 });
 * record.value; // decoded now; record.key only when read
 */
export const readKafkaRecord = (
  raw: unknown,
  hint: PartitionHint,
  options: DecodeOptions = {},
): DecodedRecord => {
  if (!isRecordObject(raw)) return decodeKafkaRecord(raw, hint, options);
  const rawKey = raw.key;
  let keyBytes = 0;
  if (rawKey !== undefined && rawKey !== null) {
    keyBytes = typeof rawKey === 'string' ? strictBase64Length(rawKey) : -1;
    if (keyBytes < 0) return decodeKafkaRecord(raw, hint, options);
  }
  const headersSize = measureHeaders(raw.headers);
  if (headersSize < 0) return decodeKafkaRecord(raw, hint, options);

  const rawValue = raw.value;
  let value: Buffer | null = null;
  if (rawValue !== undefined && rawValue !== null) {
    const decoded = typeof rawValue === 'string' ? decodeBase64Strict(rawValue) : undefined;
    if (decoded === undefined) return decodeKafkaRecord(raw, hint, options);
    value = decoded;
  }

  const record = new EventRecord(
    recordTopic(raw, hint.topic),
    recordPartition(raw, hint.partition),
    recordOffset(raw),
    recordTimestamp(raw),
    recordTimestampType(raw),
    value,
    value === null ? null : (rawValue as string),
    rawKey === undefined || rawKey === null ? null : (rawKey as string),
    raw.headers,
  );
  const keySchema = schemaMetadata(raw.keySchemaMetadata);
  if (keySchema) record.keySchemaMetadata = keySchema;
  const valueSchema = schemaMetadata(raw.valueSchemaMetadata);
  if (valueSchema) record.valueSchemaMetadata = valueSchema;
  const { maxRecordBytes } = options;
  if (maxRecordBytes !== undefined) {
    const size = keyBytes + (value?.length ?? 0) + headersSize;
    if (size > maxRecordBytes)
      record.decodeError = {
        code: 'RECORD_TOO_LARGE',
        message: `record is ${size} bytes (key + value + headers), limit ${maxRecordBytes}`,
      };
  }
  return record;
};
