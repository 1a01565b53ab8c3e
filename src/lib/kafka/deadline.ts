/**
 * Deadlines for Kafka calls. Lambda stops an invocation at its timeout and the mapping
 * then retries the whole batch, while kafkajs's own retries can wait for minutes; so
 * every call a handler makes is bounded by the invocation's deadline, and a call that
 * does not answer in time is an error whose outcome is unknown (`TIMEOUT`).
 */
import { RetriableError } from '../errors.ts';

/** An absolute deadline in epoch milliseconds (`Date.now()` scale). */
export interface CallBounds {
  /** When the call must have answered; no deadline when absent. */
  deadline?: number;
}

/** Milliseconds left before `deadline` (never negative); `Infinity` without one. */
export const timeLeft = (deadline: number | undefined, now = Date.now()): number =>
  deadline === undefined ? Number.POSITIVE_INFINITY : Math.max(0, deadline - now);

/**
 * `work`, or a `TIMEOUT` error once `deadline` passes, whichever comes first. The work
 * is not cancelled (kafkajs cannot be): `onTimeout` is where the caller discards
 * whatever the late answer would land in.
 *
 * @example
 * await beforeDeadline(admin.fetchOffsets(...), { deadline }, 'checkpoint read', () => resetAdmin());
 */
export const beforeDeadline = async <T>(
  work: Promise<T>,
  bounds: CallBounds | undefined,
  what: string,
  onTimeout?: () => void,
): Promise<T> => {
  const deadline = bounds?.deadline;
  if (deadline === undefined) return work;
  const ms = timeLeft(deadline);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(
        new RetriableError(
          'TIMEOUT',
          `${what}: no answer within the ${ms} ms left before the invocation's deadline; outcome unknown`,
        ),
      );
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
    // a late rejection of the abandoned work is expected: never unhandled
    work.catch(() => {});
  }
};
