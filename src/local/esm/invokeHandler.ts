import { safeMessage } from '../../lib/errors.ts';
import type { KafkaEvent } from '../../lib/events/types.ts';
import { createLambdaContext, type LambdaContextInput } from './lambdaContext.ts';
import type { LambdaHandler } from './types.ts';

export type InvokeResult =
  | { ok: true; response: unknown }
  | { ok: false; error: string; timedOut: boolean };

const TIMED_OUT = Symbol('timed out');

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

/**
 * Calls a Lambda handler in-process as the Node.js runtime would: an async handler
 * ends with its promise, a callback-style one through its callback (or the deprecated
 * `context.done/succeed/fail`). Past the timeout the invocation counts as failed
 * (`Task timed out after N seconds`); since an in-process call cannot be stopped as
 * Lambda ends its sandbox, this waits for the handler to return all the same (what it
 * returns is ignored), so the caller never runs two invocations of a partition at once.
 *
 * @example
 * const result = await invokeHandler(handler, event, { functionName: 'svc-dev-fn',
 *   region: 'us-east-1', accountId: '000000000000', memorySize: 1024, timeoutMs: 6_000,
 *   requestId: randomUUID() });
 * if (result.ok) read(result.response);
 */
export const invokeHandler = async (
  handler: LambdaHandler,
  event: KafkaEvent,
  options: Omit<LambdaContextInput, 'settle'> & { onTimeout?: () => void },
): Promise<InvokeResult> => {
  let settle!: (error: unknown, result?: unknown) => void;
  const viaCallback = new Promise<unknown>((resolve, reject) => {
    settle = (error, result) => (error ? reject(error) : resolve(result));
  });
  const context = createLambdaContext({ ...options, settle });
  let completion: Promise<unknown>;
  try {
    const returned = handler(event, context, (error, result) => settle(error, result));
    completion = isThenable(returned)
      ? Promise.race([Promise.resolve(returned), viaCallback])
      : returned === undefined
        ? viaCallback
        : Promise.resolve(returned);
  } catch (error) {
    return { ok: false, error: safeMessage(error, 300), timedOut: false };
  }
  const settled: Promise<InvokeResult> = completion.then(
    (response) => ({ ok: true, response }),
    (error: unknown) => ({ ok: false, error: safeMessage(error, 300), timedOut: false }),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), options.timeoutMs);
  });
  const first = await Promise.race([settled, timeout]);
  clearTimeout(timer);
  if (first !== TIMED_OUT) return first;
  options.onTimeout?.();
  await settled;
  return {
    ok: false,
    error: `Task timed out after ${(options.timeoutMs / 1_000).toFixed(2)} seconds`,
    timedOut: true,
  };
};
