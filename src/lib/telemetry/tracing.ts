/**
 * OpenTelemetry tracing for the pipeline's Lambda functions: a trace SDK with the
 * OTLP/HTTP exporter when an endpoint is configured, nothing at all otherwise.
 *
 * Only `@opentelemetry/api` (8 KB) is imported statically. The SDK, the exporter and
 * `@opentelemetry/resources` are loaded with `import()` when tracing is on, so a
 * function without tracing never evaluates them (DESIGN.md "Observability";
 * `bench/init-telemetry.ts` measures it). Bundle with esbuild `splitting: true` to keep
 * that saving: without it esbuild inlines what `import()` loads and hoists the Node
 * built-ins the SDK imports (`child_process`, `zlib`, `stream`…) to the bundle's top.
 *
 * No Lambda trigger instrumentation reads Kafka context, so the spans are made here: a
 * CONSUMER span per partition batch linked to each record's producer context, a
 * PRODUCER span whose context goes onto every record written.
 */

import type { Logger } from '@aws-lambda-powertools/logger';
import {
  type Attributes,
  type Context,
  createTraceState,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Context as LambdaContext } from 'aws-lambda';
import { safeMessage } from '../errors.ts';
import { lastHeaderText } from '../events/headers.ts';
import type { HeaderMap, PartitionBatch } from '../events/types.ts';
import type { PipelineMetrics } from './metrics.ts';
import {
  ATTR_CLOUD_PLATFORM,
  ATTR_CLOUD_PROVIDER,
  ATTR_CLOUD_REGION,
  ATTR_ERROR_TYPE,
  ATTR_FAAS_NAME,
  ATTR_FAAS_VERSION,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_PARTITION_ID,
  ATTR_MESSAGING_KAFKA_MESSAGE_KEY,
  ATTR_MESSAGING_KAFKA_OFFSET,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_PIPELINE_CHECKPOINT,
  ATTR_PIPELINE_FAILED_OFFSET,
  ATTR_PIPELINE_FIRST_OFFSET,
  ATTR_PIPELINE_FUNCTION,
  ATTR_PIPELINE_LAST_OFFSET,
  ATTR_PIPELINE_RECORDS_DEAD_LETTERED,
  ATTR_PIPELINE_RECORDS_OK,
  ATTR_PIPELINE_RECORDS_SKIPPED,
  ATTR_SERVICE_NAME,
  CLOUD_PLATFORM_VALUE_AWS_LAMBDA,
  CLOUD_PROVIDER_VALUE_AWS,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  MESSAGING_SYSTEM_VALUE_KAFKA,
} from './semconv.ts';
import {
  formatTraceparent,
  parseTraceparent,
  randomTraceparent,
  TRACEPARENT,
  TRACESTATE,
} from './traceparent.ts';
import type {
  DeliveryTelemetry,
  PartitionSummary as PartitionResult,
  PartitionSpan,
} from './types.ts';

/** Instrumentation scope of every span of this product. */
export const TRACER_NAME = 'msk-order-pipeline';
const DEFAULT_SERVICE_NAME = 'msk-order-pipeline';
/** Bound on a flush: Lambda bills the wait, and a dead collector must not eat the timeout. */
export const DEFAULT_FLUSH_TIMEOUT_MS = 2_000;

/** What a tracer provider must offer (the SDK's `BasicTracerProvider` does). */
export interface TracingProvider {
  getTracer(name: string, version?: string): Tracer;
  forceFlush(options?: { timeoutMillis?: number }): Promise<void>;
  shutdown(): Promise<void>;
}

/** A container's tracing: enabled with a tracer, or a no-op that loaded no SDK. */
export interface Tracing {
  readonly enabled: boolean;
  /** Present when enabled. */
  readonly tracer: Tracer | undefined;
  /**
   * Exports every finished span, waiting at most `timeoutMs`. Never throws;
   * `false` when the export failed or timed out (the spans are then lost).
   */
  flush(timeoutMs?: number): Promise<boolean>;
  shutdown(): Promise<void>;
}

/** Tracing off: no SDK, no spans, nothing to flush. */
export const NOOP_TRACING: Tracing = Object.freeze({
  enabled: false,
  tracer: undefined,
  flush: async () => true,
  shutdown: async () => {},
});

export interface TracingOptions {
  /** Where the standard `OTEL_*` settings are read (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** A span exporter to use instead of OTLP/HTTP (tests: `InMemorySpanExporter`). */
  exporter?: SpanExporter;
  /** `batch` (default, as in production) or `simple` (exports each span as it ends). */
  processor?: 'batch' | 'simple';
  /** A ready provider; skips building one (and loading the SDK). */
  provider?: TracingProvider;
  /** Default bound on {@link Tracing.flush}. */
  flushTimeoutMs?: number;
}

const isTrue = (value: string | undefined) => value?.trim().toLowerCase() === 'true';

/**
 * Whether the environment asks for tracing: an OTLP endpoint is set and the SDK is
 * not disabled (`OTEL_SDK_DISABLED=true`).
 */
export const tracingEnabled = (env: NodeJS.ProcessEnv = process.env): boolean =>
  !isTrue(env.OTEL_SDK_DISABLED) &&
  Boolean(
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim(),
  );

/** `k1=v1,k2=v2` with percent-encoded parts (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
const parseKeyValues = (text: string | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const entry of text?.split(',') ?? []) {
    const at = entry.indexOf('=');
    if (at <= 0) continue;
    try {
      const key = decodeURIComponent(entry.slice(0, at).trim());
      if (key) out[key] = decodeURIComponent(entry.slice(at + 1).trim());
    } catch {
      // a malformed percent-encoding drops that entry only
    }
  }
  return out;
};

/** The traces URL as the OTLP exporter specification derives it from the environment. */
export const otlpTracesUrl = (env: NodeJS.ProcessEnv): string | undefined => {
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (specific) return specific;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (!base) return undefined;
  return `${base.endsWith('/') ? base : `${base}/`}v1/traces`;
};

const resourceAttributes = (env: NodeJS.ProcessEnv): Attributes => {
  const attributes: Attributes = {
    ...parseKeyValues(env.OTEL_RESOURCE_ATTRIBUTES),
    [ATTR_CLOUD_PROVIDER]: CLOUD_PROVIDER_VALUE_AWS,
    [ATTR_CLOUD_PLATFORM]: CLOUD_PLATFORM_VALUE_AWS_LAMBDA,
  };
  const service =
    env.OTEL_SERVICE_NAME?.trim() ||
    (attributes[ATTR_SERVICE_NAME] as string | undefined) ||
    env.POWERTOOLS_SERVICE_NAME?.trim() ||
    DEFAULT_SERVICE_NAME;
  attributes[ATTR_SERVICE_NAME] = service;
  if (env.AWS_REGION) attributes[ATTR_CLOUD_REGION] = env.AWS_REGION;
  if (env.AWS_LAMBDA_FUNCTION_NAME) attributes[ATTR_FAAS_NAME] = env.AWS_LAMBDA_FUNCTION_NAME;
  if (env.AWS_LAMBDA_FUNCTION_VERSION)
    attributes[ATTR_FAAS_VERSION] = env.AWS_LAMBDA_FUNCTION_VERSION;
  return attributes;
};

const tracingFrom = (provider: TracingProvider, flushTimeoutMs: number): Tracing => ({
  enabled: true,
  tracer: provider.getTracer(TRACER_NAME),
  flush: async (timeoutMs = flushTimeoutMs) => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    try {
      return await Promise.race([
        provider.forceFlush({ timeoutMillis: timeoutMs }).then(
          () => true,
          () => false,
        ),
        timedOut,
      ]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  },
  shutdown: async () => {
    try {
      await provider.shutdown();
    } catch {
      // shutting down is best effort
    }
  },
});

/**
 * Builds an enabled {@link Tracing}: a `BasicTracerProvider` with a `BatchSpanProcessor`
 * and the OTLP/HTTP exporter (JSON over HTTP; URL and headers from the standard
 * `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT` / `_HEADERS`, service name from
 * `OTEL_SERVICE_NAME` or `POWERTOOLS_SERVICE_NAME`; timeout, compression and
 * certificates as the exporter reads them), or around a given exporter or provider.
 * The SDK is loaded here, on demand.
 *
 * @example
 * const tracing = await createTracing({ exporter: new InMemorySpanExporter(), processor: 'simple' });
 */
export const createTracing = async (options: TracingOptions = {}): Promise<Tracing> => {
  const env = options.env ?? process.env;
  const flushTimeoutMs = options.flushTimeoutMs ?? DEFAULT_FLUSH_TIMEOUT_MS;
  if (options.provider) return tracingFrom(options.provider, flushTimeoutMs);

  const [sdk, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
  ]);
  let exporter = options.exporter;
  if (!exporter) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const explicitTimeout =
      env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT?.trim() || env.OTEL_EXPORTER_OTLP_TIMEOUT?.trim();
    exporter = new OTLPTraceExporter({
      url: otlpTracesUrl(env),
      headers: {
        ...parseKeyValues(env.OTEL_EXPORTER_OTLP_HEADERS),
        ...parseKeyValues(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
      },
      // a request still open when the flush gives up would hang into the next invocation
      ...(explicitTimeout ? {} : { timeoutMillis: flushTimeoutMs }),
    });
  }
  const processor =
    options.processor === 'simple'
      ? new sdk.SimpleSpanProcessor(exporter)
      : new sdk.BatchSpanProcessor(exporter);
  const provider = new sdk.BasicTracerProvider({
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes(resourceAttributes(env))),
    spanProcessors: [processor],
  });
  return tracingFrom(provider, flushTimeoutMs);
};

const containerTracing = new WeakMap<NodeJS.ProcessEnv, Promise<Tracing>>();

/**
 * The container's tracing, built once per environment object and kept for warm
 * invocations: enabled when {@link tracingEnabled}, else {@link NOOP_TRACING} without
 * loading any SDK module. Await it at init (top-level `await` in the handler module).
 *
 * @example
 * const tracing = await getTracing();
 */
export const getTracing = (env: NodeJS.ProcessEnv = process.env): Promise<Tracing> => {
  let tracing = containerTracing.get(env);
  if (!tracing) {
    tracing = tracingEnabled(env) ? createTracing({ env }) : Promise.resolve(NOOP_TRACING);
    containerTracing.set(env, tracing);
  }
  return tracing;
};

/**
 * The producer context carried by a Kafka record's headers (MSK delivers header
 * values as byte arrays; the decoder made them Buffers), on top of `base`. A record
 * without a valid `traceparent` yields `base` unchanged.
 *
 * @example
 * trace.getSpanContext(extractContext(record.headers))?.traceId
 */
export const extractContext = (headers: HeaderMap, base: Context = ROOT_CONTEXT): Context => {
  const spanContext = extractSpanContext(headers);
  return spanContext ? trace.setSpanContext(base, spanContext) : base;
};

const extractSpanContext = (headers: HeaderMap): SpanContext | undefined => {
  const text = lastHeaderText(headers, TRACEPARENT);
  const parent = text === undefined ? undefined : parseTraceparent(text);
  if (!parent) return undefined;
  // repeated tracestate headers are one list split across headers (W3C: combine them)
  const states = headers.get(TRACESTATE);
  const traceState =
    states && states.length > 0
      ? createTraceState(states.map((s) => s.toString('utf8')).join(','))
      : undefined;
  return { ...parent, isRemote: true, ...(traceState ? { traceState } : {}) };
};

/**
 * The W3C headers (`traceparent`, and `tracestate` when there is one) for a context's
 * span; empty when the context holds no valid span.
 *
 * @example
 * injectContext(trace.setSpan(ROOT_CONTEXT, span)) // { traceparent: '00-…-01' }
 */
export const injectContext = (ctx: Context): Record<string, string> => {
  const spanContext = trace.getSpanContext(ctx);
  if (!spanContext || !isSpanContextValid(spanContext)) return {};
  const headers: Record<string, string> = { [TRACEPARENT]: formatTraceparent(spanContext) };
  const state = spanContext.traceState?.serialize();
  if (state) headers[TRACESTATE] = state;
  return headers;
};

const headersOf = (span: Span) => injectContext(trace.setSpan(ROOT_CONTEXT, span));

const batchCount = (count: number): Attributes =>
  // semconv: set on batch operations only, never on a single message
  count === 1 ? {} : { [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: count };

const failSpan = (span: Span, error: unknown) => {
  const code = (error as { code?: unknown } | undefined)?.code;
  span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : 'INTERNAL');
  span.setStatus({ code: SpanStatusCode.ERROR, message: safeMessage(error) });
};

export interface DeliveryTelemetryOptions {
  tracing: Tracing;
  /** Messaging operation of the consumer span (its name is `<operation> <topic>`). */
  operation?: 'process';
  /** The event-source mapping's consumer group. */
  consumerGroup?: string;
  /** The function's name in serverless.yml. */
  functionName?: string;
  /**
   * Topics the partition's transaction writes (results, dead letters): they name the
   * PRODUCER span `send <topics>`; with one topic it is also its destination.
   */
  destinations?: readonly string[];
}

const NO_PARTITION_SPAN: PartitionSpan = Object.freeze({
  propagation: Object.freeze({}),
  end: () => {},
});

/**
 * The delivery loop's telemetry: per partition batch, a CONSUMER span `process <topic>`
 * (new trace, one link per record to the producer context in its `traceparent`) and a
 * child PRODUCER span `send <topics>` whose context is the `propagation` written onto
 * every message of the partition's transaction (results and dead letters). Both end in
 * `end(result)`, with status ERROR when the partition stopped on a failure.
 *
 * @example
 * createProcessOrdersHandler({ config, kafka, telemetry: deliveryTelemetry({ tracing, consumerGroup: 'orders-esm', destinations: [topics.processed, topics.dlq] }) });
 */
export const deliveryTelemetry = (options: DeliveryTelemetryOptions): DeliveryTelemetry => {
  const { tracer } = options.tracing;
  if (!options.tracing.enabled || !tracer) return { startPartition: () => NO_PARTITION_SPAN };
  const operation = options.operation ?? MESSAGING_OPERATION_TYPE_VALUE_PROCESS;
  const destinations = options.destinations ?? [];
  const sendName = destinations.length > 0 ? `send ${destinations.join(',')}` : 'send';

  return {
    startPartition: (batch: PartitionBatch): PartitionSpan => {
      const links: Link[] = [];
      for (const record of batch.records) {
        const context = extractSpanContext(record.headers);
        if (context)
          links.push({ context, attributes: { [ATTR_MESSAGING_KAFKA_OFFSET]: record.offset } });
      }
      const first = batch.records[0];
      const last = batch.records[batch.records.length - 1];
      const attributes: Attributes = {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_KAFKA,
        [ATTR_MESSAGING_OPERATION_TYPE]: operation,
        [ATTR_MESSAGING_OPERATION_NAME]: operation,
        [ATTR_MESSAGING_DESTINATION_NAME]: batch.topic,
        [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(batch.partition),
        ...batchCount(batch.records.length),
      };
      if (options.consumerGroup)
        attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = options.consumerGroup;
      if (options.functionName) attributes[ATTR_PIPELINE_FUNCTION] = options.functionName;
      if (first) attributes[ATTR_PIPELINE_FIRST_OFFSET] = first.offset;
      if (last) attributes[ATTR_PIPELINE_LAST_OFFSET] = last.offset;
      if (first && batch.records.length === 1) {
        attributes[ATTR_MESSAGING_KAFKA_OFFSET] = first.offset;
        if (first.key) attributes[ATTR_MESSAGING_KAFKA_MESSAGE_KEY] = first.key.toString('utf8');
      }
      // a new trace: a batch has many parents, so each is a link (messaging semconv)
      const span = tracer.startSpan(
        `${operation} ${batch.topic}`,
        { kind: SpanKind.CONSUMER, links, attributes, root: true },
        ROOT_CONTEXT,
      );
      const send = tracer.startSpan(
        sendName,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_KAFKA,
            [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
            [ATTR_MESSAGING_OPERATION_NAME]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
            ...(destinations.length === 1
              ? { [ATTR_MESSAGING_DESTINATION_NAME]: destinations[0] }
              : {}),
          },
        },
        trace.setSpan(ROOT_CONTEXT, span),
      );
      const propagation = Object.freeze(headersOf(send));
      return {
        propagation,
        end: (result: PartitionResult) => {
          span.setAttributes({
            [ATTR_PIPELINE_RECORDS_OK]: result.ok,
            [ATTR_PIPELINE_RECORDS_DEAD_LETTERED]: result.deadLettered,
            [ATTR_PIPELINE_RECORDS_SKIPPED]: result.skipped,
          });
          if (result.checkpoint !== undefined)
            span.setAttribute(ATTR_PIPELINE_CHECKPOINT, result.checkpoint);
          if (result.failedAt !== undefined || result.error) {
            const error =
              result.error ?? new Error(`partition stopped at offset ${result.failedAt}`);
            if (result.failedAt !== undefined)
              span.setAttribute(ATTR_PIPELINE_FAILED_OFFSET, result.failedAt);
            failSpan(span, error);
            // nothing of the partition committed: the send did not happen or failed
            if (result.ok + result.deadLettered === 0) failSpan(send, error);
          }
          send.end();
          span.end();
        },
      };
    },
  };
};

/** A PRODUCER span around one send, and the trace headers for each record it writes. */
export interface ProducerSpan {
  /**
   * Headers to write on one record: the span's `traceparent` (and `tracestate`); with
   * tracing off a fresh random `traceparent` per call, so the header is always there.
   */
  headers(): Record<string, string>;
  /** Ends the span; with an error, status ERROR and a safe message. */
  end(error?: unknown): void;
}

export interface ProducerSpanOptions {
  topic: string;
  messageCount: number;
  /** The caller's context (e.g. an incoming request's), parent of the span. */
  parent?: Context;
}

/**
 * A PRODUCER span `send <topic>` for produceOrders; its context is injected as
 * `traceparent` into every record.
 *
 * @example
 * const span = producerSpan(tracing, { topic: 'orders', messageCount: orders.length });
 * const messages = orders.map((o) => ({ topic: 'orders', key: o.orderId, value: JSON.stringify(o), headers: span.headers() }));
 * try { await client.write(messages); span.end(); } catch (e) { span.end(e); throw e; }
 */
export const producerSpan = (tracing: Tracing, options: ProducerSpanOptions): ProducerSpan => {
  const { tracer } = tracing;
  if (!tracing.enabled || !tracer)
    return { headers: () => ({ [TRACEPARENT]: randomTraceparent() }), end: () => {} };
  const span = tracer.startSpan(
    `send ${options.topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_KAFKA,
        [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
        [ATTR_MESSAGING_OPERATION_NAME]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
        [ATTR_MESSAGING_DESTINATION_NAME]: options.topic,
        ...batchCount(options.messageCount),
      },
    },
    options.parent ?? ROOT_CONTEXT,
  );
  let headers = headersOf(span);
  // a non-recording span of an unsampled trace still has a valid context; this is for
  // a provider whose sampler drops the span entirely
  if (!headers[TRACEPARENT]) headers = { [TRACEPARENT]: randomTraceparent() };
  let ended = false;
  return {
    headers: () => ({ ...headers }),
    end: (error?: unknown) => {
      if (ended) return;
      ended = true;
      if (error !== undefined) failSpan(span, error);
      span.end();
    },
  };
};

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
