/**
 * The invocation wrapper: each invocation ends with its telemetry delivered (spans
 * flushed, metrics published) before the handler's result goes back to Lambda.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context as LambdaContext } from 'aws-lambda';
import { safeMessage } from '../errors.ts';
import type { PipelineMetrics } from './metrics.ts';
import { DEFAULT_FLUSH_TIMEOUT_MS, type Tracing } from './tracing.ts';

export interface InvocationTelemetry {
  tracing: Tracing | Promise<Tracing>;
  logger?: Pick<Logger, 'addContext' | 'refreshSampleRateCalculation' | 'warn' | 'error'>;
  metrics?: Pick<PipelineMetrics, 'observeEvent' | 'publish'>;
  /** Bound on the span flush (also kept below the invocation's remaining time). */
  flushTimeoutMs?: number;
}

/** What the flush leaves of the remaining time, so the handler still returns in time. */
const FLUSH_MARGIN_MS = 250;

/**
 * Wraps a handler so each invocation ends with its telemetry delivered: spans flushed
 * and metrics published before the handler's result (or error) is returned, since
 * Lambda freezes the process as soon as it returns. Also refreshes the logger's debug
 * sampling and Lambda context per invocation.
 *
 * @example
 * export const handler = withTelemetry(createProcessOrdersHandler({ config, kafka, telemetry }), { tracing, logger, metrics });
 */
export const withTelemetry = <TEvent, TResult>(
  handler: (event: TEvent, context?: Partial<LambdaContext>) => Promise<TResult>,
  telemetry: InvocationTelemetry,
): ((event: TEvent, context?: Partial<LambdaContext>) => Promise<TResult>) => {
  return async (event, context) => {
    const tracing = await telemetry.tracing;
    const { logger, metrics } = telemetry;
    logger?.refreshSampleRateCalculation();
    if (context?.awsRequestId) logger?.addContext(context as LambdaContext);
    metrics?.observeEvent(event);
    try {
      return await handler(event, context);
    } catch (error) {
      const code = (error as { code?: unknown } | undefined)?.code;
      logger?.error('invocation failed', {
        errorCode: typeof code === 'string' ? code : 'INTERNAL',
        errorMessage: safeMessage(error),
      });
      throw error;
    } finally {
      const remaining = context?.getRemainingTimeInMillis?.();
      const bound = telemetry.flushTimeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS;
      const timeout =
        remaining === undefined ? bound : Math.max(0, Math.min(bound, remaining - FLUSH_MARGIN_MS));
      const flushed = await tracing.flush(timeout);
      if (!flushed) logger?.warn('spans not exported', { timeoutMs: timeout });
      try {
        metrics?.publish();
      } catch (error) {
        logger?.warn('metrics not published', { errorMessage: safeMessage(error) });
      }
    }
  };
};
