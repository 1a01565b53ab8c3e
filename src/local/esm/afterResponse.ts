/**
 * What the mapping does after an invocation answered, as Lambda documents it: the retry
 * policy and the decision, with no I/O and the clock passed in.
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 */
import { readBatchOutcome } from './batchOutcome.ts';
import type { InvokeResult } from './invokeHandler.ts';
import type { InvocationOutcome, InvocationReport, LocalMapping } from './types.ts';

/** How a mapping retries: from its configuration and the local run's back-off. */
export interface RetryPolicy {
  reportBatchItemFailures: boolean;
  bisectBatchOnFunctionError: boolean;
  /** Retries after the first invocation; -1 for as many as it takes. */
  maxRetries: number;
  /** Exponential back-off between retries: `initialMs * 2^(attempt-1)`, at most `maxMs`. */
  backoff: { initialMs: number; maxMs: number };
}

/**
 * The policy of a mapping. "When you configure both infinite retries and an on-failure
 * destination, Lambda automatically applies a maximum of 10 retry attempts."
 * (kafka-retry-configurations)
 *
 * @example
 * retryPolicy(mapping, { initialMs: 500, maxMs: 10_000 }).maxRetries // 10 for -1 with a destination
 */
export const retryPolicy = (
  mapping: Pick<
    LocalMapping,
    | 'reportBatchItemFailures'
    | 'bisectBatchOnFunctionError'
    | 'maximumRetryAttempts'
    | 'onFailureDestination'
  >,
  backoff: RetryPolicy['backoff'],
): RetryPolicy => ({
  reportBatchItemFailures: mapping.reportBatchItemFailures,
  bisectBatchOnFunctionError: mapping.bisectBatchOnFunctionError,
  maxRetries:
    mapping.maximumRetryAttempts === -1 && mapping.onFailureDestination !== undefined
      ? 10
      : mapping.maximumRetryAttempts,
  backoff,
});

/**
 * The wait before attempt `attempt + 1`.
 *
 * @example
 * retryDelay(3, { initialMs: 500, maxMs: 10_000 }) // 2000
 */
export const retryDelay = (attempt: number, backoff: RetryPolicy['backoff']): number =>
  Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, attempt - 1));

/** Whether `failedInvocations` in a row use up the retries. */
export const exhausted = (failedInvocations: number, policy: RetryPolicy): boolean =>
  policy.maxRetries >= 0 && failedInvocations > policy.maxRetries;

/**
 * Whether an answer reports `batchItemFailures` that the mapping ignores (it has no
 * `FunctionResponseTypes: [ReportBatchItemFailures]`), as Lambda does: worth a warning.
 */
export const ignoresFailures = (result: InvokeResult, policy: RetryPolicy): boolean => {
  if (!result.ok || policy.reportBatchItemFailures) return false;
  const failures = (result.response as { batchItemFailures?: unknown } | null)?.batchItemFailures;
  return Array.isArray(failures) && failures.length > 0;
};

/** One partition's part of an invocation, as the decision sees it. */
export interface DeliveredSlice {
  /** `"<topic>-<partition>"`. */
  key: string;
  /** The offsets delivered, ascending. */
  offsets: readonly number[];
  /** The head's earlier failures in a row (partial batch responses), if any. */
  failure?: { offset: number; attempts: number } | undefined;
}

/** What becomes of one partition's slice after a success or a partial batch response. */
export type SliceStep =
  /** Handled: everything below `next` is done. */
  | { kind: 'done'; next: number }
  /** Failed at `next`: delivered again from there, not before `notBefore`. */
  | {
      kind: 'retry';
      next: number;
      failure: { offset: number; attempts: number };
      notBefore: number;
    }
  /** Failed at `next` with the retries used up: that record goes to the on-failure destination. */
  | { kind: 'on-failure'; next: number; approximateInvokeCount: number };

/** The decision, with the report's `outcome`, `next`, `failures` and `error`. */
export type AfterResponse = Pick<InvocationReport, 'outcome' | 'next' | 'failures' | 'error'> &
  (
    | { kind: 'per-partition'; steps: SliceStep[] }
    /** The whole batch failed; split it in two halves, the first waiting until `notBefore`. */
    | { kind: 'bisect'; notBefore: number }
    /** The whole batch failed; deliver it again, whole, not before `notBefore`. */
    | { kind: 'retry'; notBefore: number }
    /** The whole batch failed with the retries used up: every record to the on-failure destination. */
    | { kind: 'on-failure'; approximateInvokeCount: number }
  );

/**
 * What to do after an invocation's answer. Pure: the clock is `now` (epoch ms).
 *
 * - a success: every slice is done;
 * - a partial batch response: each named partition resumes at its lowest failed offset,
 *   retried with back-off, or sent on once its retries are used up; the others are done;
 * - a function error, a timeout or an answer naming records not in the event: the whole
 *   batch is bisected (when configured, and it holds more than one record), retried, or
 *   sent on once its retries are used up.
 *
 * @param invokeCount how many times this batch has been invoked, this time included
 * @example
 * afterResponse({ ok: false, error: 'boom', timedOut: false }, [{ key: 'orders-0', offsets: [5, 6] }], 1, policy, now)
 * // { kind: 'retry', outcome: 'error', next: 'retry', error: 'boom', notBefore: now + 500 }
 */
export const afterResponse = (
  result: InvokeResult,
  slices: readonly DeliveredSlice[],
  invokeCount: number,
  policy: RetryPolicy,
  now: number,
): AfterResponse => {
  const delay = (attempt: number) => retryDelay(attempt, policy.backoff);
  const offsets = new Map(slices.map((s) => [s.key, new Set(s.offsets)]));
  const outcome = result.ok
    ? readBatchOutcome(result.response, offsets, policy.reportBatchItemFailures)
    : undefined;
  const after = (s: DeliveredSlice) => s.offsets[s.offsets.length - 1]! + 1;

  if (outcome?.kind === 'ok')
    return {
      kind: 'per-partition',
      outcome: 'ok',
      next: 'done',
      steps: slices.map((s) => ({ kind: 'done', next: after(s) })),
    };

  if (outcome?.kind === 'partial') {
    let next: InvocationReport['next'] = 'retry';
    const steps = slices.map((s): SliceStep => {
      const failed = outcome.lowest.get(s.key);
      if (failed === undefined) return { kind: 'done', next: after(s) };
      // Lambda resumes the partition from its lowest failed offset.
      const before = Math.max(
        s.failure?.offset === failed ? s.failure.attempts : 0,
        s.offsets[0] === failed ? invokeCount - 1 : 0,
      );
      const attempts = before + 1;
      if (exhausted(attempts, policy)) {
        next = 'on-failure';
        return { kind: 'on-failure', next: failed, approximateInvokeCount: attempts };
      }
      return {
        kind: 'retry',
        next: failed,
        failure: { offset: failed, attempts },
        notBefore: now + delay(attempts),
      };
    });
    return {
      kind: 'per-partition',
      outcome: 'partial',
      next,
      failures: [...outcome.lowest].map(([partition, offset]) => ({ partition, offset })),
      steps,
    };
  }

  // A function error, a timeout, or an answer naming records not in the event.
  let failedAs: Pick<InvocationReport, 'outcome' | 'error'>;
  if (!result.ok)
    failedAs = { outcome: result.timedOut ? 'timeout' : 'error', error: result.error };
  else if (outcome?.kind === 'invalid')
    failedAs = { outcome: 'invalid-response' satisfies InvocationOutcome, error: outcome.reason };
  else failedAs = { outcome: 'ok' };
  const count = slices.reduce((n, s) => n + s.offsets.length, 0);
  if (policy.bisectBatchOnFunctionError && count > 1)
    return { kind: 'bisect', ...failedAs, next: 'bisect', notBefore: now + delay(1) };
  if (exhausted(invokeCount, policy))
    return {
      kind: 'on-failure',
      ...failedAs,
      next: 'on-failure',
      approximateInvokeCount: invokeCount,
    };
  return { kind: 'retry', ...failedAs, next: 'retry', notBefore: now + delay(invokeCount) };
};
