import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advanceCheckpoint,
  type CheckpointState,
  decodeCheckpoint,
  encodeCheckpoint,
  MAX_GAPS,
  offsetStatus,
} from '../../../src/lib/delivery/checkpoint.ts';

describe('checkpoint gaps', () => {
  it('records the range a batch skipped above the checkpoint', () => {
    // Prepare
    const first = advanceCheckpoint(undefined, 100, 200);

    // Act
    const next = advanceCheckpoint(first, 205, 300);

    // Assess
    expect(first).toEqual({ nextOffset: 200, horizon: 100, gaps: [] });
    expect(next).toEqual({ nextOffset: 300, horizon: 100, gaps: [[200, 205]] });
    expect(offsetStatus(next, 150)).toBe('processed');
    expect(offsetStatus(next, 202)).toBe('skipped');
    expect(offsetStatus(next, 205)).toBe('processed');
    expect(offsetStatus(next, 300)).toBe('unprocessed');
    expect(offsetStatus(next, 99)).toBe('unknown');
  });

  it('a redelivery (first processed offset at the checkpoint) opens no gap', () => {
    expect(advanceCheckpoint({ nextOffset: 50, horizon: 0, gaps: [] }, 50, 80).gaps).toEqual([]);
  });

  it('forgets the oldest gaps past the budget and moves the horizon past them', () => {
    // Prepare: a gap per batch after the first, one more than the budget
    let state: CheckpointState | undefined;
    let offset = 0;
    for (let i = 0; i <= MAX_GAPS + 1; i++) {
      state = advanceCheckpoint(state, offset + 1, offset + 10);
      offset += 10;
    }

    // Assess
    expect(state!.gaps).toHaveLength(MAX_GAPS);
    expect(state!.horizon).toBe(state!.gaps[0]![0] - 9);
    expect(offsetStatus(state!, 5)).toBe('unknown');
    expect(encodeCheckpoint(state!).length).toBeLessThan(4_096);
  });

  it('reads what is not its own as knowing nothing below the checkpoint', () => {
    for (const metadata of [undefined, '', 'hello', 'g1;zz', 'g1;0;1+0', 'g1;0;5+99999', 'g2;0;'])
      expect(decodeCheckpoint(40, metadata)).toEqual({ nextOffset: 40, horizon: 40, gaps: [] });
  });

  it('classifies every offset as the batches saw it, through its metadata (property)', () => {
    // batches: each skips `skip` offsets, then processes `length` of them
    const batches = fc.array(
      fc.record({ skip: fc.nat({ max: 5 }), length: fc.integer({ min: 1, max: 20 }) }),
      { minLength: 1, maxLength: 60 },
    );
    fc.assert(
      fc.property(fc.nat({ max: 1_000 }), batches, (start, list) => {
        const truth = new Map<number, 'processed' | 'skipped'>();
        let state: CheckpointState | undefined;
        let offset = start;
        for (const { skip, length } of list) {
          for (let i = 0; i < skip; i++) truth.set(offset++, 'skipped');
          const first = offset;
          for (let i = 0; i < length; i++) truth.set(offset++, 'processed');
          // what a commit writes and the next container reads back
          const next = advanceCheckpoint(state, first, offset, 8);
          state = decodeCheckpoint(offset, encodeCheckpoint(next));
          expect(state).toEqual(next);
        }
        for (const [at, status] of truth) {
          const seen = offsetStatus(state!, at);
          // below the horizon the answer may only be "unknown", never a wrong one
          if (seen !== 'unknown') expect(seen).toBe(status);
          if (at >= state!.horizon) expect(seen).toBe(status);
        }
        expect(offsetStatus(state!, offset)).toBe('unprocessed');
      }),
    );
  });
});
