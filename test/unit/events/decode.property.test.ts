import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKafkaEvent, parsePartitionKey } from '../../../src/lib/events/decode.ts';
import type { KafkaEventRecord } from '../../../src/lib/events/types.ts';
import { mskEvent, selfManagedEvent } from './eventFactory.ts';

// Kafka's legal topic characters, dots and dashes included.
const topicArb = fc.stringMatching(/^[a-zA-Z0-9._-]{1,40}$/);
const bytesArb = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
const headerArb = fc.tuple(fc.string({ maxLength: 12 }), bytesArb);

interface GeneratedRecord {
  offset: number;
  key: Buffer | null | undefined;
  value: Buffer | null;
  headers: Array<[string, Buffer]>;
}

const partitionArb = fc.record({
  topic: topicArb,
  partition: fc.nat({ max: 500 }),
  records: fc.uniqueArray(
    fc.record({
      offset: fc.nat({ max: 1_000_000 }),
      key: fc.option(fc.option(bytesArb, { nil: null }), { nil: undefined }),
      value: fc.option(bytesArb, { nil: null }),
      headers: fc.array(headerArb, { maxLength: 4 }),
    }),
    { selector: (r) => r.offset, maxLength: 20 },
  ),
});

const eventArb = fc
  .tuple(
    fc.uniqueArray(partitionArb, { selector: (p) => `${p.topic}-${p.partition}`, maxLength: 6 }),
    fc.boolean(),
  )
  .map(([partitions, selfManaged]) => ({ partitions, selfManaged }));

const toEventRecord = (topic: string, partition: number, r: GeneratedRecord): KafkaEventRecord => {
  const out: KafkaEventRecord = {
    topic,
    partition,
    offset: r.offset,
    timestamp: 1_700_000_000_000 + r.offset,
    timestampType: 'CREATE_TIME',
    value: r.value === null ? null : r.value.toString('base64'),
    headers: r.headers.map(([name, bytes]) => ({ [name]: Array.from(bytes) })),
  };
  if (r.key !== undefined) out.key = r.key === null ? null : r.key.toString('base64');
  return out;
};

// Characters a strict decoder must refuse and Node's Buffer.from silently skips or maps.
const foreignCharArb = fc.constantFrom('-', '_', ' ', '\n', '!', '*', '.', 'é', '\u0000', '%');

const corruptionArb = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), char: foreignCharArb }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), char: foreignCharArb }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), char: fc.constant('') }),
  fc.record({ kind: fc.constant('insertPadding' as const), at: fc.nat(), char: fc.constant('=') }),
);

const corrupt = (
  text: string,
  c: { kind: 'insert' | 'replace' | 'delete' | 'insertPadding'; at: number; char: string },
): string => {
  const at = c.at % (text.length + (c.kind === 'insert' || c.kind === 'insertPadding' ? 1 : 0));
  switch (c.kind) {
    case 'insert':
    case 'insertPadding':
      return text.slice(0, at) + c.char + text.slice(at);
    case 'replace':
      return text.slice(0, at) + c.char + text.slice(at + 1);
    case 'delete':
      return text.slice(0, at) + text.slice(at + 1);
  }
};

describe('decodeKafkaEvent (properties)', () => {
  it('round-trips every key, value and header byte, each record exactly once, offsets sorted', () => {
    fc.assert(
      fc.property(eventArb, ({ partitions, selfManaged }) => {
        // Prepare
        const records: Record<string, KafkaEventRecord[]> = {};
        for (const p of partitions) {
          records[`${p.topic}-${p.partition}`] = p.records.map((r) =>
            toEventRecord(p.topic, p.partition, r),
          );
        }
        const event = selfManaged ? selfManagedEvent(records) : mskEvent(records);

        // Act
        const batches = decodeKafkaEvent(event);

        // Assess
        expect(batches.map((b) => b.key)).toEqual(Object.keys(records));
        for (const [i, p] of partitions.entries()) {
          const batch = batches[i]!;
          expect([batch.topic, batch.partition]).toEqual([p.topic, p.partition]);
          const expected = [...p.records].sort((a, b) => a.offset - b.offset);
          expect(batch.records.map((r) => r.offset)).toEqual(expected.map((r) => r.offset));
          for (const [j, want] of expected.entries()) {
            const got = batch.records[j]!;
            expect(got.decodeError).toBeUndefined();
            expect(got.key).toEqual(want.key ?? null);
            expect(got.value).toEqual(want.value);
            const flat = [...got.headers].flatMap(([n, vs]) => vs.map((v) => [n, v]));
            const wantFlat = [...want.headers].sort(
              // the map groups by name in order of first appearance; order within a name is kept
              (a, b) =>
                want.headers.findIndex((h) => h[0] === a[0]) -
                want.headers.findIndex((h) => h[0] === b[0]),
            );
            expect(flat).toEqual(wantFlat);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('flags every corrupted base64 value, keeps it raw, and leaves the rest of the batch intact', () => {
    fc.assert(
      fc.property(
        bytesArb,
        corruptionArb,
        fc.nat({ max: 5 }),
        topicArb,
        (bytes, corruption, position, topic) => {
          // Prepare
          const good = bytes.toString('base64');
          const bad = corrupt(good, corruption);
          fc.pre(bad !== good);
          const records = Array.from({ length: 6 }, (_, offset) =>
            toEventRecord(topic, 0, { offset, key: null, value: bytes, headers: [] }),
          );
          records[position]!.value = bad;
          const event = mskEvent({ [`${topic}-0`]: records });

          // Act
          const [batch] = decodeKafkaEvent(event);

          // Assess
          expect(batch?.records).toHaveLength(6);
          for (const [offset, record] of batch!.records.entries()) {
            if (offset === position) {
              expect(record.decodeError?.code).toBe('INVALID_BASE64');
              expect(record.rawValue).toBe(bad);
            } else {
              expect(record.decodeError).toBeUndefined();
              expect(record.value).toEqual(bytes);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never throws for any records content, and keeps every array entry exactly once', () => {
    const looseRecordArb = fc.oneof(
      fc.anything(),
      fc.record(
        {
          topic: fc.oneof(topicArb, fc.anything()),
          partition: fc.oneof(fc.nat(), fc.anything()),
          offset: fc.oneof(fc.nat(), fc.double(), fc.anything()),
          timestamp: fc.anything(),
          timestampType: fc.anything(),
          key: fc.oneof(fc.base64String(), fc.string(), fc.anything()),
          value: fc.oneof(fc.base64String(), fc.string(), fc.anything()),
          headers: fc.oneof(
            fc.array(fc.dictionary(fc.string(), fc.oneof(fc.array(fc.integer()), fc.anything()))),
            fc.anything(),
          ),
          keySchemaMetadata: fc.anything(),
          valueSchemaMetadata: fc.anything(),
        },
        { requiredKeys: [] },
      ),
    );
    const recordsArb = fc.dictionary(
      fc.oneof(
        topicArb.map((t) => `${t}-1`),
        fc.string(),
      ),
      fc.oneof(fc.array(looseRecordArb, { maxLength: 8 }), fc.anything()),
    );
    fc.assert(
      fc.property(recordsArb, fc.nat({ max: 200 }), (records, maxRecordBytes) => {
        // Prepare
        const event = mskEvent(records);

        // Act
        const batches = decodeKafkaEvent(event, { maxRecordBytes, onIssue: () => {} });

        // Assess
        expect(batches.map((b) => b.key)).toEqual(Object.keys(records));
        for (const batch of batches) {
          const input = records[batch.key];
          expect(batch.records).toHaveLength(Array.isArray(input) ? input.length : 0);
          for (let i = 1; i < batch.records.length; i++) {
            expect(batch.records[i - 1]!.offset).toBeLessThanOrEqual(batch.records[i]!.offset);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('parsePartitionKey (properties)', () => {
  it('recovers topic and partition from "<topic>-<partition>" for any legal topic', () => {
    fc.assert(
      fc.property(topicArb, fc.nat({ max: 100_000 }), (topic, partition) => {
        // Prepare
        const key = `${topic}-${partition}`;

        // Act
        const parsed = parsePartitionKey(key);

        // Assess
        expect(parsed).toEqual({ topic, partition });
      }),
    );
  });
});
