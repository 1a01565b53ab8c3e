/**
 * The decoder's shortcuts against their definitions. Strict base64: a text is valid when
 * the bytes Node decodes from it encode back to exactly that text; the decoder gets there
 * without re-encoding. The size behind RECORD_TOO_LARGE: key + value + each header's
 * UTF-8 name and bytes; the decoder adds it up while decoding the headers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKafkaRecord } from '../../../src/lib/events/decode.ts';
import type { DecodedRecord } from '../../../src/lib/events/types.ts';
import { eventRecord } from './eventFactory.ts';

/** The definition: Node's bytes, when they encode back to the same text. */
const reference = (text: string): Buffer | null => {
  if (text.length % 4 !== 0) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
};

const hint = { partitionKey: 'orders-0', topic: 'orders', partition: 0 };

/** The decoder's verdict on `text` as a value, and as a key. */
const expectSameVerdict = (text: string) => {
  const expected = reference(text);
  const asValue = decodeKafkaRecord(eventRecord({ value: text, key: null }), hint);
  expect(asValue.value).toEqual(expected);
  expect(asValue.decodeError?.code).toBe(expected === null ? 'INVALID_BASE64' : undefined);
  const asKey = decodeKafkaRecord(eventRecord({ key: text }), hint);
  expect(asKey.decodeError?.code).toBe(expected === null ? 'INVALID_BASE64' : undefined);
  if (expected !== null) expect(asKey.key).toEqual(expected);
};

// What Node's decoder reads in a way the standard alphabet does not: the URL-safe digits,
// padding, whitespace, Latin-1 (skipped), and characters whose low byte is a digit
// ('Ł' is U+0141, read as 'A'; 'ĭ' is U+012D, read as '-').
const trickyChars = ['=', '-', '_', ' ', '\n', '.', 'é', 'ÿ', 'Ł', 'ĭ', 'Ā', '\u0000', '😀'];
const digits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

const editArb = fc.record({
  kind: fc.constantFrom('insert', 'replace', 'delete'),
  at: fc.nat(),
  char: fc.oneof(fc.constantFrom(...trickyChars), fc.constantFrom(...digits)),
});
const edit = (text: string, e: { kind: string; at: number; char: string }) => {
  const at = e.at % (text.length + 1);
  if (e.kind === 'insert') return text.slice(0, at) + e.char + text.slice(at);
  if (e.kind === 'replace') return text.slice(0, at) + e.char + text.slice(at + 1);
  return text.slice(0, at) + text.slice(at + 1);
};

describe('decodeKafkaRecord: strict base64', () => {
  it('gives the verdict and the bytes of the re-encoding check, on every 4-character text', () => {
    // Each digit class (spare bits 0 or not), padding, and each foreign kind of character.
    const alphabet = ['A', 'B', 'Q', 'g', 'w', '/', '+', '=', '-', '_', ' ', 'é', 'Ł', 'ĭ'];
    for (const a of alphabet)
      for (const b of alphabet)
        for (const c of alphabet) for (const d of alphabet) expectSameVerdict(a + b + c + d);
  });

  it('gives the verdict and the bytes of the re-encoding check, on edited base64', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 48 }),
        fc.array(editArb, { maxLength: 3 }),
        (bytes, edits) => {
          const text = edits.reduce(edit, Buffer.from(bytes).toString('base64'));
          expectSameVerdict(text);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('gives the verdict of the re-encoding check on any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.stringMatching(/^[A-Za-z0-9+/=_-]{0,16}$/),
          fc.string({ unit: fc.constantFrom(...digits, ...trickyChars), maxLength: 16 }),
          fc.string({ unit: 'binary', maxLength: 16 }),
        ),
        expectSameVerdict,
      ),
      { numRuns: 5_000 },
    );
  });
});

/** The size by its definition, from what the decoder kept. */
const recordSize = (record: DecodedRecord): number => {
  let size = (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const [name, values] of record.headers)
    for (const value of values) size += Buffer.byteLength(name) + value.length;
  return size;
};

describe('decodeKafkaRecord: RECORD_TOO_LARGE', () => {
  it('flags a record exactly when key + value + header names and bytes exceed the limit', () => {
    const nameArb = fc.oneof(
      fc.constantFrom('traceparent', 'tracestate', 'x-é', 'ключ', '😀', ''),
      fc.string({ maxLength: 6 }),
    );
    const headerArb = fc.oneof(
      fc.tuple(nameArb, fc.uint8Array({ maxLength: 40 })).map(([name, bytes]) => ({
        [name]: Array.from(bytes),
      })),
      nameArb.map((name) => ({ [name]: null })),
      fc.constant({ a: [1], b: [2, 3] }),
      fc.constant({ bad: [256] }),
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            key: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
            value: fc.uint8Array({ maxLength: 60 }),
            headers: fc.array(headerArb, { maxLength: 5 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.nat({ max: 200 }),
        (records, maxRecordBytes) => {
          for (const r of records) {
            // Act
            const record = decodeKafkaRecord(
              eventRecord({
                key: r.key === null ? null : Buffer.from(r.key).toString('base64'),
                value: Buffer.from(r.value).toString('base64'),
                headers: r.headers as never,
              }),
              hint,
              { maxRecordBytes },
            );

            // Assess
            const size = recordSize(record);
            expect(record.decodeError?.code).toBe(
              size > maxRecordBytes ? 'RECORD_TOO_LARGE' : undefined,
            );
            if (size > maxRecordBytes)
              expect(record.decodeError?.message).toContain(`${size} bytes`);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
