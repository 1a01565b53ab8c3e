/**
 * OpenTelemetry tracing set-up for the pipeline's Lambda functions: a trace SDK with the
 * OTLP/HTTP exporter when an endpoint is configured, nothing at all otherwise.
 *
 * Only `@opentelemetry/api` (8 KB) is imported statically. The SDK, the exporter and
 * `@opentelemetry/resources` are loaded with `import()` when tracing is on, so a
 * function without tracing never evaluates them (DESIGN.md "Observability";
 * `bench/init-telemetry.ts` measures it). Bundle with esbuild `splitting: true` to keep
 * that saving: without it esbuild inlines what `import()` loads and hoists the Node
 * built-ins the SDK imports (`child_process`, `zlib`, `stream`…) to the bundle's top.
 *
 * The spans are made in `spans.ts`, their context travels as in `propagation.ts`, and
 * `withTelemetry.ts` flushes them before each invocation returns.
 */
import type { Attributes, Tracer } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import {
  ATTR_CLOUD_PLATFORM,
  ATTR_CLOUD_PROVIDER,
  ATTR_CLOUD_REGION,
  ATTR_FAAS_NAME,
  ATTR_FAAS_VERSION,
  ATTR_SERVICE_NAME,
  CLOUD_PLATFORM_VALUE_AWS_LAMBDA,
  CLOUD_PROVIDER_VALUE_AWS,
} from './semconv.ts';

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
 * loading any SDK module. Start it at init and await it in the first invocation: the
 * handlers are loaded with `require()`, so no top-level `await` (see `instrumentHandler`).
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
