import type { Context } from 'aws-lambda';

export interface LambdaContextInput {
  functionName: string;
  region: string;
  accountId: string;
  memorySize: number;
  timeoutMs: number;
  requestId: string;
  /** Called by the deprecated `done`/`fail`/`succeed`, which end an invocation too. */
  settle: (error: unknown, result?: unknown) => void;
  now?: () => number;
}

/**
 * A Lambda-like context for one in-process invocation: request id, names and ARN,
 * memory, and a `getRemainingTimeInMillis` counting down from the function timeout.
 *
 * @example
 * const context = createLambdaContext({ functionName: 'svc-dev-processOrders', region: 'us-east-1',
 *   accountId: '000000000000', memorySize: 1024, timeoutMs: 30_000, requestId: randomUUID(),
 *   settle: () => {} });
 * context.getRemainingTimeInMillis() // ≈ 30000
 */
export const createLambdaContext = (input: LambdaContextInput): Context => {
  const now = input.now ?? Date.now;
  const deadline = now() + input.timeoutMs;
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: input.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${input.region}:${input.accountId}:function:${input.functionName}`,
    memoryLimitInMB: String(input.memorySize),
    awsRequestId: input.requestId,
    logGroupName: `/aws/lambda/${input.functionName}`,
    logStreamName: `${day}/[$LATEST]local${input.requestId.replaceAll('-', '').slice(0, 24)}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: (error?: Error, result?: unknown) => input.settle(error ?? undefined, result),
    fail: (error: Error | string) =>
      input.settle(error instanceof Error ? error : new Error(error)),
    succeed: (result: unknown) => input.settle(undefined, result),
  };
};
