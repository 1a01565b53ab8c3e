/**
 * W3C trace context across Kafka records: the producer context a consumed record
 * carries, the headers for a span's context, and the rewriting of the trace headers of
 * messages a transaction writes (each carries the context of the span that wrote it).
 */
import {
  type Context,
  createTraceState,
  isSpanContextValid,
  ROOT_CONTEXT,
  type SpanContext,
  trace,
} from '@opentelemetry/api';
import { lastHeaderText } from '../events/headers.ts';
import type { HeaderMap } from '../events/types.ts';
import { formatTraceparent, parseTraceparent, TRACEPARENT, TRACESTATE } from './traceparent.ts';

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

/**
 * The remote span context in a record's `traceparent` (and `tracestate`) headers;
 * `undefined` without a valid `traceparent`.
 */
export const extractSpanContext = (headers: HeaderMap): SpanContext | undefined => {
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

const TRACE_HEADERS = new Set([TRACEPARENT, TRACESTATE]);

/** A message with headers as the Kafka module writes them (`OutboundMessage` fits). */
export interface HeaderedMessage {
  headers?: Record<string, Buffer | string | Array<Buffer | string>>;
}

/**
 * The messages with a span's trace context on them. A carried `traceparent` or
 * `tracestate` (any spelling of the name) is replaced by the propagation's; when the
 * propagation names a new parent without a `tracestate` of its own, a carried
 * `tracestate` is dropped: it belongs to the other trace (W3C Trace Context).
 *
 * @example
 * producer.write(withPropagation(outbound, span.propagation), checkpoint);
 */
export const withPropagation = <M extends HeaderedMessage>(
  messages: M[],
  propagation: Readonly<Record<string, string>> | undefined,
): M[] => {
  if (!propagation || Object.keys(propagation).length === 0) return messages;
  const replaced = new Set(Object.keys(propagation).map((name) => name.toLowerCase()));
  if (replaced.has(TRACEPARENT)) replaced.add(TRACESTATE);
  return messages.map((m) => {
    const headers: NonNullable<HeaderedMessage['headers']> = {};
    for (const [name, value] of Object.entries(m.headers ?? {})) {
      const lower = name.toLowerCase();
      if (!(TRACE_HEADERS.has(lower) && replaced.has(lower))) headers[name] = value;
    }
    return { ...m, headers: { ...headers, ...propagation } };
  });
};
