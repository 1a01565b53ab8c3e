/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) headers as text, with no
 * OpenTelemetry import: the logger reads a record's trace id and produceOrders writes a
 * fresh `traceparent` even when tracing is off, and neither may pull in the SDK
 * (`@opentelemetry/core` for its propagator alone: +3 ms of cold start bundled
 * module-first, +22 ms with esbuild's default `main`-first resolution;
 * `bench/init-telemetry.ts`). A test checks this codec against `W3CTraceContextPropagator`.
 */
import { randomBytes } from 'node:crypto';
import { lastHeaderText } from '../events/headers.ts';
import type { HeaderMap } from '../events/types.ts';

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

/** The parts of a `traceparent` value. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  /** Trace flags (bit 0: sampled). */
  traceFlags: number;
}

// version (never ff), trace id and parent id (never all zeros), flags; a future version
// may append fields, version 00 may not (https://www.w3.org/TR/trace-context/#versioning-of-traceparent)
const TRACEPARENT_PATTERN =
  /^\s?((?!ff)[\da-f]{2})-((?![0]{32})[\da-f]{32})-((?![0]{16})[\da-f]{16})-([\da-f]{2})(-.*)?\s?$/;

/**
 * Parses a `traceparent` value; `undefined` when it is not a valid one.
 *
 * @example
 * parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
 * // { traceId: '4bf92f35…', spanId: '00f067aa0ba902b7', traceFlags: 1 }
 */
export const parseTraceparent = (value: string): TraceParent | undefined => {
  const match = TRACEPARENT_PATTERN.exec(value);
  if (!match || (match[1] === '00' && match[5])) return undefined;
  return { traceId: match[2]!, spanId: match[3]!, traceFlags: Number.parseInt(match[4]!, 16) };
};

/**
 * Formats a version-00 `traceparent`.
 *
 * @example
 * formatTraceparent({ traceId: '4bf9…4736', spanId: '00f0…02b7', traceFlags: 1 }) // '00-4bf9…-01'
 */
export const formatTraceparent = (parent: TraceParent): string =>
  `00-${parent.traceId}-${parent.spanId}-${(parent.traceFlags & 0xff).toString(16).padStart(2, '0')}`;

/**
 * A fresh, valid `traceparent` (random trace and span id). Flagged sampled, so a
 * downstream parent-based sampler keeps its part of the trace.
 *
 * @example
 * randomTraceparent() // '00-<32 hex>-<16 hex>-01'
 */
export const randomTraceparent = (): string => {
  let bytes = randomBytes(24);
  // an all-zero id is invalid; 2^-64 odds, but cheap to rule out
  while (bytes.subarray(0, 16).every((b) => b === 0) || bytes.subarray(16).every((b) => b === 0))
    bytes = randomBytes(24);
  return formatTraceparent({
    traceId: bytes.subarray(0, 16).toString('hex'),
    spanId: bytes.subarray(16).toString('hex'),
    traceFlags: 1,
  });
};

/**
 * The producer context a record carries in its `traceparent` header, if valid.
 *
 * @example
 * recordTraceparent(record.headers)?.traceId
 */
export const recordTraceparent = (headers: HeaderMap): TraceParent | undefined => {
  const text = lastHeaderText(headers, TRACEPARENT);
  return text === undefined ? undefined : parseTraceparent(text);
};
