/**
 * `readKafkaRecord` (key and headers decoded when first read) against
 * `decodeKafkaRecord` (everything at once): the same record, field for field, the same
 * verdicts (`INVALID_BASE64`, `RECORD_TOO_LARGE`), and the same header bytes through
 * `headerBytes` as through the header map.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type DecodeIssue,
  decodeKafkaRecord,
  EventRecord,
  headerBytes,
  readKafkaRecord,
} from '../../../src/lib/events/decode.ts';
import type { DecodedRecord } from '../../../src/lib/events/types.ts';

const hint = { partitionKey: 'orders-1', topic: 'orders', partition: 1 };
const bytesArb = fc.uint8Array({ maxLength: 48 }).map((a) => Buffer.from(a));

/** Base64 text: mostly valid, now and then broken the ways a strict decoder must see. */
const base64Arb = fc.oneof(
  { weight: 6, arbitrary: bytesArb.map((b) => b.toString('base64')) },
  bytesArb.map((b) => b.toString('base64url')),
  bytesArb.map((b) => b.toString('base64').replace(/=+$/, '')),
  fc
    .tuple(bytesArb, fc.nat(), fc.constantFrom('-', '_', ' ', '=', 'é', '*', 'A'))
    .map(([b, at, c]) => {
      const t = b.toString('base64');
      const i = at % (t.length + 1);
      return t.slice(0, i) + c + t.slice(i + 1);
    }),
  // the digit before the padding replaced: bits beyond the last byte, now and then
  fc
    .tuple(
      bytesArb,
      fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'),
    )
    .map(([b, c]) => {
      const t = b.toString('base64');
      const i = t.replace(/=+$/, '').length - 1;
      return i < 0 ? t : t.slice(0, i) + c + t.slice(i + 1);
    }),
  fc.constantFrom('QQ==', 'QR==', 'QUI=', 'QUJ=', 'QUK=', '====', 'A===', ''),
);
const keyArb = fc.oneof(base64Arb, fc.constantFrom(null, undefined, 42, { a: 1 }));
const valueArb = fc.oneof(
  { weight: 4, arbitrary: base64Arb },
  fc.constantFrom(null, undefined, 7, ['x']),
);
const headerValueArb = fc.oneof(
  { weight: 6, arbitrary: bytesArb.map((b) => Array.from(b)) },
  fc.constant(null),
  fc.constantFrom([256], [-1], [1.5], ['1'], 'text', {}, [Number.NaN]),
);
const headerEntryArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.dictionary(
      fc.constantFrom('traceparent', 'tracestate', 'a', 'é'),
      headerValueArb,
      { minKeys: 1, maxKeys: 2 },
    ),
  },
  fc.constantFrom(null, 'h', ['traceparent', [1]]),
);
const headersArb = fc.oneof(
  { weight: 8, arbitrary: fc.array(headerEntryArb, { maxLength: 4 }) },
  fc.constantFrom(undefined, null, 'headers', {}),
);
const rawRecordArb = fc.oneof(
  {
    weight: 20,
    arbitrary: fc
      .record({
        topic: fc.oneof(
          { weight: 4, arbitrary: fc.constant('orders') },
          fc.constantFrom('', 'other.topic', 7, null, undefined),
        ),
        partition: fc.oneof(
          { weight: 4, arbitrary: fc.nat({ max: 12 }) },
          fc.constantFrom(-1, 1.5, '2', null, undefined),
        ),
        offset: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, '3')),
        timestamp: fc.oneof(fc.nat(), fc.constantFrom(9e15, -9e15, -1, 'x')),
        timestampType: fc.constantFrom('CREATE_TIME', 'LOG_APPEND_TIME', 3, undefined),
        key: keyArb,
        value: valueArb,
        headers: headersArb,
        keyMetadata: fc.constantFrom(undefined, { dataFormat: 'AVRO', schemaId: 'k-1' }, 'x'),
        valueMetadata: fc.constantFrom(undefined, { dataFormat: 'AVRO', schemaId: 'id-1' }, []),
      })
      .map(({ keyMetadata, valueMetadata, ...r }) => {
        const raw: Record<string, unknown> = { ...r };
        if (keyMetadata !== undefined) raw.keySchemaMetadata = keyMetadata;
        if (valueMetadata !== undefined) raw.valueSchemaMetadata = valueMetadata;
        for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
        return raw as unknown;
      }),
  },
  // not a record at all
  fc.constantFrom(null, undefined, 'record', 42, ['x']),
);
const limitArb = fc.option(fc.nat({ max: 120 }), { nil: undefined });

/** A record as plain data: an EventRecord's fields read through its accessors. */
const plain = (record: DecodedRecord): DecodedRecord =>
  record instanceof EventRecord ? record.toJSON() : record;

describe('readKafkaRecord: the key and headers decoded when read', () => {
  it('gives the record decodeKafkaRecord gives, verdicts included', () => {
    let lazy = 0;
    fc.assert(
      fc.property(rawRecordArb, limitArb, (raw, maxRecordBytes) => {
        // Act
        const eagerIssues: DecodeIssue[] = [];
        const lazyIssues: DecodeIssue[] = [];
        const eager = decodeKafkaRecord(raw, hint, {
          maxRecordBytes,
          onIssue: (i) => eagerIssues.push(i),
        });
        const read = readKafkaRecord(raw, hint, {
          maxRecordBytes,
          onIssue: (i) => lazyIssues.push(i),
        });
        if (read instanceof EventRecord) lazy++;

        // Assess
        expect(plain(read)).toEqual(eager);
        expect(lazyIssues).toEqual(eagerIssues);
        // the same own fields (an EventRecord's key and headers are accessors), so `in`
        // and a spread see what they see on a plain record, but those two
        const own = new Set(Object.keys(read));
        if (read instanceof EventRecord) own.add('key').add('headers');
        expect(own).toEqual(new Set(Object.keys(eager)));
      }),
      { numRuns: 5_000 },
    );
    // most records take the lazy path
    expect(lazy).toBeGreaterThan(1_000);
  });

  it('hands out a header’s bytes without the map, equal to the map’s', () => {
    fc.assert(
      fc.property(rawRecordArb, fc.boolean(), (raw, mapFirst) => {
        // Prepare
        const eager = decodeKafkaRecord(raw, hint);
        const read = readKafkaRecord(raw, hint);
        // the map read first, or not at all before headerBytes
        if (mapFirst) expect(read.headers).toEqual(eager.headers);

        // Act & Assess
        for (const name of ['traceparent', 'tracestate', 'a', 'é', 'none'])
          expect(headerBytes(read, name).map((v) => Buffer.from(Array.from(v)))).toEqual(
            eager.headers.get(name) ?? [],
          );
        expect(read.headers).toEqual(eager.headers);
        expect(read.key).toEqual(eager.key);
      }),
      { numRuns: 3_000 },
    );
  });

  it('takes a key or headers set later, as a plain record would', () => {
    const raw = {
      topic: 't',
      partition: 0,
      offset: 1,
      key: 'QQ==',
      value: 'QQ==',
      headers: [{ a: [1] }],
    };
    const read = readKafkaRecord(raw, hint);
    expect(read).toBeInstanceOf(EventRecord);
    read.key = Buffer.from('k');
    read.headers = new Map([['b', [Buffer.from('2')]]]);
    expect(read.key).toEqual(Buffer.from('k'));
    expect(headerBytes(read, 'b')).toEqual([Buffer.from('2')]);
    expect(headerBytes(read, 'a')).toEqual([]);
    expect(JSON.parse(JSON.stringify(read)).key).toEqual({ type: 'Buffer', data: [107] });
  });
});
