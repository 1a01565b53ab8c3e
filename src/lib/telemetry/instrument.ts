/**
 * One way for a handler module to get its telemetry without top-level `await`
 * (`serverless invoke local` loads bundles with `require`, which refuses modules that
 * use it; see scripts/build.ts): logger and metrics are made at init, tracing is
 * started at init and awaited by the first invocation, which then builds the inner
 * handler once and keeps it for warm invocations.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context as LambdaContext } from 'aws-lambda';
import { safeMessage } from '../errors.ts';
import { createLogger } from './logger.ts';
import { createMetrics, type PipelineMetrics } from './metrics.ts';
import { getTracing, NOOP_TRACING, type Tracing } from './tracing.ts';
import { withTelemetry } from './withTelemetry.ts';

/** What a handler's builder gets: the container's tracing (resolved), logger and metrics. */
export interface HandlerTelemetry {
  tracing: Tracing;
  logger: Logger;
  metrics: PipelineMetrics;
}

export interface InstrumentOptions {
  /**
   * The function's name in serverless.yml: a `function` key on every log line and a
   * `function` dimension on every metric, so the functions' counters (which share a
   * namespace and counter names such as `retried`) stay apart.
   */
  functionName?: string;
}

/** A Lambda handler as the factories build it. */
export type InstrumentedHandler<TEvent, TResult> = (
  event: TEvent,
  context?: Partial<LambdaContext>,
) => Promise<TResult>;

/**
 * A handler whose telemetry is delivered before each invocation returns (see
 * `withTelemetry`): `build` runs once, on the first invocation, when the container's
 * tracing (`getTracing(env)`, started here at init) has resolved. Logger and metrics
 * are made at init from the same environment. Tracing that fails to start is logged
 * and replaced by no tracing, so the function still works; a `build` that throws fails
 * that invocation and runs again on the next one.
 *
 * Metrics a builder adds straight to `metrics.powertools` (names outside the pipeline's
 * counters) are published with the rest, in the same EMF line.
 *
 * @example
 * export const handler = instrumentHandler(
 *   ({ tracing, logger, metrics }) =>
 *     createProcessOrdersHandler({ config, kafka, telemetry: deliveryTelemetry({ tracing }), onOutcome: metrics.recordOutcome }),
 *   process.env,
 *   { functionName: 'processOrders' },
 * );
 */
export const instrumentHandler = <TEvent, TResult>(
  build: (telemetry: HandlerTelemetry) => InstrumentedHandler<TEvent, TResult>,
  env: NodeJS.ProcessEnv = process.env,
  options: InstrumentOptions = {},
): InstrumentedHandler<TEvent, TResult> => {
  const named = options.functionName ? { function: options.functionName } : undefined;
  const logger = createLogger(env, named ? { persistentKeys: named } : {});
  const metrics = createMetrics(env, named ? { defaultDimensions: named } : {});
  const tracing = getTracing(env).catch((error: unknown) => {
    logger.warn('tracing off: the trace SDK did not start', { errorMessage: safeMessage(error) });
    return NOOP_TRACING;
  });

  let inner: Promise<InstrumentedHandler<TEvent, TResult>> | undefined;
  const lazy: InstrumentedHandler<TEvent, TResult> = async (event, context) => {
    inner ??= tracing
      .then((resolved) => build({ tracing: resolved, logger, metrics }))
      .catch((error: unknown) => {
        inner = undefined; // built again on the next invocation
        throw error;
      });
    return (await inner)(event, context);
  };

  return withTelemetry(lazy, {
    tracing,
    logger,
    metrics: {
      observeEvent: (event) => metrics.observeEvent(event),
      publish: () => {
        // publishes (in one line) what was stored when any pipeline counter moved
        metrics.publish();
        // else what a builder added to Powertools directly
        if (metrics.powertools.hasStoredMetrics()) metrics.powertools.publishStoredMetrics();
      },
    },
  });
};
