/**
 * Telemetry of the pipeline's functions: OpenTelemetry traces (SDK loaded only when an
 * OTLP endpoint is set), Powertools JSON logs and EMF metrics, and the wrapper that
 * delivers them before a handler returns.
 *
 * @example
 * // no top-level await: tracing is awaited by the first invocation
 * export const handler = instrumentHandler(({ tracing, logger, metrics }) =>
 *   createProcessOrdersHandler({
 *     config,
 *     kafka,
 *     telemetry: deliveryTelemetry({ tracing, consumerGroup, destinations: [topics.processed, topics.dlq] }),
 *     onOutcome: (o) => { metrics.recordOutcome(o); logRecordOutcome(logger, o); },
 *   }),
 * );
 */
export {
  type HandlerTelemetry,
  type InstrumentedHandler,
  type InstrumentOptions,
  instrumentHandler,
} from './instrument.ts';
export {
  createLogger,
  DEBUG_VALUE_MAX,
  isSensitiveHeader,
  logRecordOutcome,
  outcomeLogger,
  type PipelineLoggerOptions,
  type RecordLogFields,
  recordDebugDetail,
  recordFields,
} from './logger.ts';
export {
  BATCH_SIZE,
  COUNTERS,
  type CounterName,
  createMetrics,
  DEFAULT_METRICS_NAMESPACE,
  LAG_MS,
  PipelineMetrics,
  type PipelineMetricsOptions,
} from './metrics.ts';
export { extractContext, injectContext, withPropagation } from './propagation.ts';
export {
  type DeliveryTelemetryOptions,
  deliveryTelemetry,
  type ProducerSpan,
  type ProducerSpanOptions,
  producerSpan,
} from './spans.ts';
export {
  formatTraceparent,
  parseTraceparent,
  randomTraceparent,
  recordTraceparent,
  TRACEPARENT,
  TRACESTATE,
  type TraceParent,
} from './traceparent.ts';
export {
  createTracing,
  DEFAULT_FLUSH_TIMEOUT_MS,
  getTracing,
  NOOP_TRACING,
  otlpTracesUrl,
  type Tracing,
  type TracingOptions,
  type TracingProvider,
  tracingEnabled,
} from './tracing.ts';
export { type InvocationTelemetry, withTelemetry } from './withTelemetry.ts';
