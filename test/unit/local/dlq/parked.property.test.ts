import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS, deadLetter } from '../../../../src/lib/delivery/deadLetter.ts';
import { PoisonRecordError } from '../../../../src/lib/errors.ts';
import type { DecodedRecord, HeaderMap } from '../../../../src/lib/events/types.ts';
import type { StoredRecord } from '../../../../src/lib/kafka/reader.ts';
import {
  describeParked,
  matchesFilter,
  planReplay,
  REPLAY_HEADERS,
  replayMessage,
} from '../../../../src/local/dlq/parked.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');

const dlqName = fc.constantFrom(...Object.values(DLQ_HEADERS), 'X-DLQ-Attempts', 'x-dlq-other');
const otherName = fc.constantFrom('traceparent', 'tracestate', 'app', 'x-dlq', 'dlq-attempts');
const bytes = fc.oneof(
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
  fc
    .constantFrom('1', '3', '0', '-2', 'orders', '2026-03-01T11:00:00Z', '{"code":1}')
    .map((s) => Buffer.from(s)),
);
const headers = fc
  .array(fc.tuple(fc.oneof(dlqName, otherName), bytes), { maxLength: 12 })
  .map((entries) => {
    const map: HeaderMap = new Map();
    for (const [name, v] of entries) map.set(name, [...(map.get(name) ?? []), v]);
    return map;
  });
const record: fc.Arbitrary<StoredRecord> = fc.record({
  topic: fc.constantFrom('orders.parking-lot', 'orders.dlq'),
  partition: fc.nat(5),
  offset: fc.bigInt({ min: 0n, max: 2n ** 62n }).map(String),
  timestamp: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  key: fc.option(bytes, { nil: null }),
  value: fc.option(
    fc.oneof(
      bytes,
      fc.json().map((j) => Buffer.from(j)),
    ),
    { nil: null },
  ),
  headers,
});

const isDlqState = (name: string) =>
  name.toLowerCase().startsWith('x-dlq-') && name.toLowerCase() !== DLQ_HEADERS.history;

describe('parking-lot decisions over arbitrary records', () => {
  it('never throw, and a replay strips every x-dlq-* failure header and keeps every other header byte for byte', () => {
    fc.assert(
      fc.property(record, (r) => {
        const parked = describeParked(r);
        const m = replayMessage(parked, { topic: 'orders', replayId: 'p', now: NOW });
        const names = Object.keys(m.headers ?? {});
        const replayNames = new Set<string>(Object.values(REPLAY_HEADERS));
        expect(names.filter((n) => isDlqState(n) && !replayNames.has(n))).toEqual([]);
        for (const [name, values] of parked.payload.headers) {
          if (isDlqState(name)) continue;
          const out = m.headers?.[name];
          expect(Array.isArray(out) ? out : [out]).toEqual(
            values.length === 1 ? [values[0]] : values,
          );
        }
        expect(m.key).toEqual(parked.payload.key);
        expect(m.value).toEqual(parked.payload.value);
        matchesFilter(parked, { codes: ['NOT_JSON'], orderIds: ['x'], originalTopics: ['orders'] });
        planReplay([parked, parked]);
      }),
      { numRuns: 500 },
    );
  });

  it('a replayed record that fails again is always a first attempt', () => {
    fc.assert(
      fc.property(record, (r) => {
        const parked = describeParked(r);
        const m = replayMessage(parked, { topic: 'orders', replayId: 'p', now: NOW });
        const h: HeaderMap = new Map();
        for (const [name, v] of Object.entries(m.headers ?? {}))
          h.set(
            name,
            (Array.isArray(v) ? v : [v]).map((x) => (typeof x === 'string' ? Buffer.from(x) : x)),
          );
        const again: DecodedRecord = {
          topic: 'orders',
          partition: 0,
          offset: 12,
          timestamp: NOW.getTime(),
          timestampType: 'CREATE_TIME',
          key: null,
          value: null,
          headers: h,
          rawValue: null,
        };
        const letter = deadLetter(again, new PoisonRecordError('VALUE_NULL', 'null'), {
          topic: 'orders.dlq',
          now: NOW,
        });
        expect(letter.headers?.[DLQ_HEADERS.attempts]).toBe('1');
        expect(letter.headers?.[DLQ_HEADERS.originalTopic]).toBe('orders');
        expect(letter.headers?.[DLQ_HEADERS.originalOffset]).toBe('12');
      }),
      { numRuns: 300 },
    );
  });
});
