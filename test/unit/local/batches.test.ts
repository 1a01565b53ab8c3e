import { describe, expect, it } from 'vitest';
import {
  type Batch,
  bisect,
  eventOf,
  type NextBatch,
  nextBatch,
  type PartitionState,
} from '../../../src/local/esm/batches.ts';
import { type EventEnvelope, toEventRecordEntry } from '../../../src/local/esm/eventPayload.ts';
import { startingOffsetsFor } from '../../../src/local/esm/startingOffsets.ts';

const envelope: EventEnvelope = { eventSource: 'SelfManagedKafka', bootstrapServers: 'b:9092' };

const partition = (n: number, offsets: number[], receivedAt = 0, bytes = 10): PartitionState => {
  const buffer = offsets.map((offset) =>
    toEventRecordEntry(
      'orders',
      n,
      {
        offset: String(offset),
        timestamp: '0',
        key: null,
        value: Buffer.from('x'.repeat(bytes)),
      },
      'CREATE_TIME',
      receivedAt,
    ),
  );
  return {
    partition: n,
    key: `orders-${n}`,
    assigned: true,
    buffer,
    bufferBytes: buffer.reduce((b, e) => b + e.bytes, 0),
    fetchNext: -1,
    fetchedThrough: -1,
    busy: false,
    notBefore: 0,
    paused: false,
    commitTarget: -1,
    committed: -1,
    committedKnown: true,
  };
};

const batchOf = (next: NextBatch): Batch => {
  if (next.kind !== 'batch') throw new Error(`expected a batch, got ${next.kind}`);
  return { slices: next.slices, invokeCount: 0, notBefore: 0 };
};

const offsetsOf = (batch: Pick<Batch, 'slices'>) =>
  batch.slices.map((s) => [s.state.key, s.entries.map((e) => e.record.offset)]);

describe('nextBatch', () => {
  const limits = { batchSize: 3, maxPayloadBytes: 1_000_000, windowMs: 500 };

  it('fills up to the batch size across partitions, in the given order', () => {
    // Act
    const next = nextBatch([partition(1, [4, 5]), partition(0, [7, 8])], envelope, limits, 0);

    // Assess
    expect(next.kind).toBe('batch');
    expect(offsetsOf(batchOf(next))).toEqual([
      ['orders-1', [4, 5]],
      ['orders-0', [7]],
    ]);
  });

  it('waits for the batching window when not full, counted from the oldest record', () => {
    // Act
    const early = nextBatch([partition(0, [1], 1_000)], envelope, limits, 1_200);
    const late = nextBatch([partition(0, [1], 1_000)], envelope, limits, 1_500);

    // Assess
    expect(early).toEqual({ kind: 'wait', until: 1_500 });
    expect(late.kind).toBe('batch');
  });

  it('stops at the payload cap, and names a head too big for any event', () => {
    // Prepare: each record is about 1 KB as JSON
    const capped = { ...limits, batchSize: 100, maxPayloadBytes: 2_500 };
    const big = partition(0, [1, 2, 3], 0, 700);

    // Act
    const next = nextBatch([big], envelope, capped, 0);
    const tooBig = nextBatch([partition(0, [1], 0, 3_000)], envelope, capped, 0);

    // Assess
    expect(offsetsOf(batchOf(next))).toEqual([['orders-0', [1, 2]]]);
    expect(Buffer.byteLength(eventOf(batchOf(next), envelope).payload)).toBeLessThanOrEqual(2_500);
    expect(tooBig).toMatchObject({ kind: 'oversize', state: { key: 'orders-0' } });
  });
});

describe('bisect', () => {
  it('splits a batch into halves of records in event order, the first half larger', () => {
    // Prepare
    const a = partition(0, [1, 2]);
    const b = partition(1, [5, 6, 7]);
    const batch: Batch = {
      slices: [
        { state: a, entries: a.buffer },
        { state: b, entries: b.buffer },
      ],
      invokeCount: 2,
      notBefore: 9,
    };

    // Act
    const [first, second] = bisect(batch);

    // Assess
    expect(offsetsOf(first)).toEqual([
      ['orders-0', [1, 2]],
      ['orders-1', [5]],
    ]);
    expect(offsetsOf(second)).toEqual([['orders-1', [6, 7]]]);
    expect([first.invokeCount, second.invokeCount]).toEqual([0, 0]);
  });
});

describe('eventOf', () => {
  it('builds the MSK-shaped event and the slices of the report', () => {
    // Prepare
    const a = partition(0, [3, 4]);

    // Act
    const { payload, slices } = eventOf(
      { slices: [{ state: a, entries: a.buffer }], invokeCount: 1, notBefore: 0 },
      envelope,
    );

    // Assess
    const event = JSON.parse(payload) as {
      eventSource: string;
      records: Record<string, unknown[]>;
    };
    expect(event.eventSource).toBe('SelfManagedKafka');
    expect(Object.keys(event.records)).toEqual(['orders-0']);
    expect(event.records['orders-0']).toHaveLength(2);
    expect(slices).toEqual([
      { key: 'orders-0', partition: 0, firstOffset: 3, lastOffset: 4, count: 2 },
    ]);
  });
});

describe('startingOffsetsFor', () => {
  const bounds = [
    { partition: 0, low: 2, high: 9 },
    { partition: 1, low: 0, high: 4 },
  ];

  it('starts a partition without a commit at its start, its end, or the first offset at a time', () => {
    // Act
    const missing = new Set([0]);
    const trim = startingOffsetsFor(missing, bounds, { startingPosition: 'TRIM_HORIZON' });
    const latest = startingOffsetsFor(missing, bounds, { startingPosition: 'LATEST' });
    const at = startingOffsetsFor(
      new Set([0, 1]),
      bounds,
      { startingPosition: 'AT_TIMESTAMP', startingPositionTimestamp: 1 },
      new Map([
        [0, 5],
        [1, -1],
      ]),
    );

    // Assess
    expect([...trim]).toEqual([[0, 2]]);
    expect([...latest]).toEqual([[0, 9]]);
    // no record at or after the time: the partition starts at its end
    expect([...at]).toEqual([
      [0, 5],
      [1, 4],
    ]);
  });
});
