/**
 * The local mapping's decision after an answer, over arbitrary answers: it never throws,
 * never moves a partition outside what it delivered, never counts attempts down, and
 * sends records on only once the retries are used up.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  afterResponse,
  type DeliveredSlice,
  exhausted,
  type RetryPolicy,
} from '../../../src/local/esm/afterResponse.ts';
import type { InvokeResult } from '../../../src/local/esm/invokeHandler.ts';

const NOW = 5_000_000;

const slicesArb = fc
  .uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 })
  .chain((partitions) =>
    fc.tuple(
      ...partitions.map((p) =>
        fc
          .record({
            first: fc.integer({ min: 0, max: 1_000 }),
            length: fc.integer({ min: 1, max: 6 }),
            failed: fc.option(
              fc.record({
                at: fc.nat({ max: 5 }),
                attempts: fc.integer({ min: 1, max: 12 }),
              }),
            ),
          })
          .map(({ first, length, failed }): DeliveredSlice => {
            const offsets = Array.from({ length }, (_, i) => first + i);
            return {
              key: `orders.in-${p}`,
              offsets,
              ...(failed
                ? { failure: { offset: offsets[failed.at % length]!, attempts: failed.attempts } }
                : {}),
            };
          }),
      ),
    ),
  );

/** Answers that name delivered records, records not delivered, and junk. */
const resultArb = (slices: DeliveredSlice[]): fc.Arbitrary<InvokeResult> => {
  const delivered = fc.constantFrom(...slices).chain((s) =>
    fc.record({
      itemIdentifier: fc.record({
        partition: fc.constant(s.key),
        offset: fc.constantFrom(...s.offsets),
      }),
    }),
  );
  const item = fc.oneof(
    { weight: 6, arbitrary: delivered },
    { weight: 1, arbitrary: fc.anything() },
    {
      weight: 1,
      arbitrary: fc.record({
        itemIdentifier: fc.record({ partition: fc.string(), offset: fc.integer() }),
      }),
    },
  );
  return fc.oneof(
    fc.record({
      ok: fc.constant(true as const),
      response: fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({ batchItemFailures: fc.array(item, { maxLength: 4 }) }),
        },
        { weight: 1, arbitrary: fc.anything() },
      ),
    }),
    fc.record({ ok: fc.constant(false as const), error: fc.string(), timedOut: fc.boolean() }),
  );
};

const policyArb: fc.Arbitrary<RetryPolicy> = fc.record({
  reportBatchItemFailures: fc.boolean(),
  bisectBatchOnFunctionError: fc.boolean(),
  maxRetries: fc.integer({ min: -1, max: 10 }),
  backoff: fc.constant({ initialMs: 100, maxMs: 2_000 }),
});

describe('afterResponse over arbitrary answers', () => {
  it('stays within what was delivered, never counts attempts down, and sends on only when retries run out', () => {
    const kinds = new Set<string>();
    fc.assert(
      fc.property(
        slicesArb.chain((slices) =>
          fc.tuple(
            fc.constant(slices),
            resultArb(slices),
            fc.integer({ min: 1, max: 12 }),
            policyArb,
          ),
        ),
        ([slices, result, invokeCount, policy]) => {
          // Act
          const decision = afterResponse(result, slices, invokeCount, policy, NOW);
          kinds.add(decision.kind);

          // Assess
          if (decision.kind !== 'per-partition') {
            expect(result.ok && decision.outcome === 'ok').toBe(false);
            if (decision.kind === 'on-failure') {
              expect(exhausted(invokeCount, policy)).toBe(true);
              expect(decision.approximateInvokeCount).toBe(invokeCount);
            } else {
              expect(decision.notBefore).toBeGreaterThanOrEqual(NOW + 100);
              expect(decision.notBefore).toBeLessThanOrEqual(NOW + 2_000);
            }
            if (decision.kind === 'bisect') {
              expect(slices.reduce((n, s) => n + s.offsets.length, 0)).toBeGreaterThan(1);
            }
            return;
          }
          expect(decision.steps).toHaveLength(slices.length);
          decision.steps.forEach((step, i) => {
            const { offsets, failure } = slices[i]!;
            const last = offsets[offsets.length - 1]!;
            if (step.kind === 'done') {
              expect(step.next).toBe(last + 1);
              return;
            }
            expect(offsets).toContain(step.next);
            const attempts =
              step.kind === 'retry' ? step.failure.attempts : step.approximateInvokeCount;
            expect(attempts).toBeGreaterThanOrEqual(1);
            if (failure?.offset === step.next)
              expect(attempts).toBeGreaterThanOrEqual(failure.attempts + 1);
            expect(exhausted(attempts, policy)).toBe(step.kind === 'on-failure');
          });
        },
      ),
      { numRuns: 2_000 },
    );
    // the runs reached every kind of decision
    expect([...kinds].sort()).toEqual(['bisect', 'on-failure', 'per-partition', 'retry']);
  });
});
