import { describe, expect, it } from 'vitest';
import {
  afterResponse,
  type DeliveredSlice,
  exhausted,
  ignoresFailures,
  type RetryPolicy,
  retryDelay,
  retryPolicy,
} from '../../../src/local/esm/afterResponse.ts';
import type { InvokeResult } from '../../../src/local/esm/invokeHandler.ts';

const NOW = 1_000_000;
const policy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  reportBatchItemFailures: true,
  bisectBatchOnFunctionError: false,
  maxRetries: 2,
  backoff: { initialMs: 100, maxMs: 1_000 },
  ...overrides,
});
const ok = (response: unknown = null): InvokeResult => ({ ok: true, response });
const failed = (timedOut = false): InvokeResult => ({ ok: false, error: 'boom', timedOut });
const failures = (...items: Array<[string, number]>) => ({
  batchItemFailures: items.map(([partition, offset]) => ({
    itemIdentifier: { partition, offset },
  })),
});
const p0: DeliveredSlice = { key: 'orders-0', offsets: [5, 6, 7] };
const p1: DeliveredSlice = { key: 'orders-1', offsets: [10, 11] };

describe('retry policy', () => {
  it('doubles the back-off per attempt up to its maximum', () => {
    // Act
    const delays = [1, 2, 3, 4, 5, 6].map((n) => retryDelay(n, { initialMs: 100, maxMs: 1_000 }));

    // Assess
    expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it('counts retries after the first invocation; -1 never runs out', () => {
    // Assess
    expect(exhausted(3, policy({ maxRetries: 2 }))).toBe(true);
    expect(exhausted(2, policy({ maxRetries: 2 }))).toBe(false);
    expect(exhausted(1, policy({ maxRetries: 0 }))).toBe(true);
    expect(exhausted(10_000, policy({ maxRetries: -1 }))).toBe(false);
  });

  it('caps infinite retries at 10 when there is an on-failure destination, as Lambda does', () => {
    // Prepare
    const mapping = {
      reportBatchItemFailures: true,
      bisectBatchOnFunctionError: false,
      maximumRetryAttempts: -1,
    };
    const backoff = { initialMs: 1, maxMs: 2 };

    // Act
    const withDestination = retryPolicy({ ...mapping, onFailureDestination: 'dlq' }, backoff);
    const without = retryPolicy(mapping, backoff);

    // Assess
    expect(withDestination.maxRetries).toBe(10);
    expect(without.maxRetries).toBe(-1);
  });
});

describe('afterResponse: what follows an answer', () => {
  it('a success finishes every slice past its last record', () => {
    // Act
    const decision = afterResponse(ok({ batchItemFailures: [] }), [p0, p1], 1, policy(), NOW);

    // Assess
    expect(decision).toEqual({
      kind: 'per-partition',
      outcome: 'ok',
      next: 'done',
      steps: [
        { kind: 'done', next: 8 },
        { kind: 'done', next: 12 },
      ],
    });
  });

  it('a partial answer resumes each named partition at its lowest failed offset, after a back-off', () => {
    // Act
    const decision = afterResponse(
      ok(failures(['orders-0', 7], ['orders-0', 6])),
      [p0, p1],
      1,
      policy(),
      NOW,
    );

    // Assess
    expect(decision).toEqual({
      kind: 'per-partition',
      outcome: 'partial',
      next: 'retry',
      failures: [{ partition: 'orders-0', offset: 6 }],
      steps: [
        { kind: 'retry', next: 6, failure: { offset: 6, attempts: 1 }, notBefore: NOW + 100 },
        { kind: 'done', next: 12 },
      ],
    });
  });

  it('counts the failures of the same head across invocations, and sends it on once they run out', () => {
    // Prepare: offset 6 failed twice before (as the head of a later batch)
    const head: DeliveredSlice = {
      key: 'orders-0',
      offsets: [6, 7],
      failure: { offset: 6, attempts: 2 },
    };

    // Act
    const decision = afterResponse(ok(failures(['orders-0', 6])), [head], 1, policy(), NOW);

    // Assess
    expect(decision).toMatchObject({
      kind: 'per-partition',
      next: 'on-failure',
      steps: [{ kind: 'on-failure', next: 6, approximateInvokeCount: 3 }],
    });
  });

  it('counts a retried whole batch whose head fails again as attempts of that head', () => {
    // Act: third invocation of a batch starting at 5, now failing at 5
    const decision = afterResponse(ok(failures(['orders-0', 5])), [p0], 3, policy(), NOW);

    // Assess
    expect(decision).toMatchObject({
      steps: [{ kind: 'on-failure', next: 5, approximateInvokeCount: 3 }],
    });
  });

  it('a function error retries the whole batch with back-off until the retries run out', () => {
    // Act
    const first = afterResponse(failed(), [p0, p1], 1, policy(), NOW);
    const last = afterResponse(failed(), [p0, p1], 3, policy(), NOW);

    // Assess
    expect(first).toEqual({
      kind: 'retry',
      outcome: 'error',
      error: 'boom',
      next: 'retry',
      notBefore: NOW + 100,
    });
    expect(last).toEqual({
      kind: 'on-failure',
      outcome: 'error',
      error: 'boom',
      next: 'on-failure',
      approximateInvokeCount: 3,
    });
  });

  it('bisects a failed batch of more than one record when configured, not a single record', () => {
    // Prepare
    const bisecting = policy({ bisectBatchOnFunctionError: true });

    // Act
    const two = afterResponse(failed(true), [p1], 1, bisecting, NOW);
    const one = afterResponse(
      failed(true),
      [{ key: 'orders-1', offsets: [10] }],
      1,
      bisecting,
      NOW,
    );

    // Assess
    expect(two).toMatchObject({ kind: 'bisect', outcome: 'timeout', notBefore: NOW + 100 });
    expect(one).toMatchObject({ kind: 'retry', outcome: 'timeout' });
  });

  it('treats an answer naming a record not in the event as a failed batch', () => {
    // Act
    const decision = afterResponse(ok(failures(['orders-0', 99])), [p0], 1, policy(), NOW);

    // Assess
    expect(decision).toMatchObject({ kind: 'retry', outcome: 'invalid-response', next: 'retry' });
    expect((decision as { error: string }).error).toMatch(/orders-0@99.*not in the event/);
  });

  it('ignores batchItemFailures without ReportBatchItemFailures, and says so', () => {
    // Prepare
    const ignoring = policy({ reportBatchItemFailures: false });
    const answer = ok(failures(['orders-0', 6]));

    // Act
    const decision = afterResponse(answer, [p0], 1, ignoring, NOW);

    // Assess
    expect(decision).toMatchObject({ kind: 'per-partition', outcome: 'ok' });
    expect(ignoresFailures(answer, ignoring)).toBe(true);
    expect(ignoresFailures(answer, policy())).toBe(false);
    expect(ignoresFailures(ok({ batchItemFailures: [] }), ignoring)).toBe(false);
  });
});
