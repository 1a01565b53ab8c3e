/**
 * produceOrders behind an API Gateway HTTP API (payload format 2.0): the request an
 * event carries, and the HTTP response for each error (400, 405, 409, 422, 503, 500).
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import {
  IdempotencyKeyReusedError,
  InvalidRequestError,
  PipelineError,
  RequestInProgressError,
  safeMessage,
} from '../errors.ts';

import {
  invalid,
  type ProduceOrdersRequest,
  type ProduceOrdersResult,
  type RequestIssue,
} from './request.ts';

/** The body of every error response of the HTTP API. */
export interface ProduceOrdersErrorBody {
  error:
    | 'INVALID_REQUEST'
    | 'IDEMPOTENCY_KEY_REUSED'
    | 'REQUEST_IN_PROGRESS'
    | 'RETRIABLE'
    | 'METHOD_NOT_ALLOWED'
    | 'INTERNAL';
  message: string;
  issues?: RequestIssue[];
}

/** True for an API Gateway HTTP API event (payload format 2.0). */
export const isHttpApiEvent = (event: unknown): event is APIGatewayProxyEventV2 => {
  const http = (event as { requestContext?: { http?: { method?: unknown } } } | null)
    ?.requestContext?.http;
  return typeof http === 'object' && http !== null && typeof http.method === 'string';
};

const headerOf = (headers: Record<string, string | undefined> | undefined, name: string) => {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === name) return v;
  return undefined;
};

/** The request an HTTP event carries; the key from `Idempotency-Key` or the body. */
export const requestFromHttpEvent = (event: APIGatewayProxyEventV2): ProduceOrdersRequest => {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw invalid('body must be JSON: { "orders": [...], "idempotencyKey"?: "..." }');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('body must be a JSON object { "orders": [...] }');
  const fromBody = (body as { idempotencyKey?: unknown }).idempotencyKey;
  // The IETF Idempotency-Key draft makes the value a structured-field string: "…".
  const fromHeader = headerOf(event.headers, 'idempotency-key')
    ?.trim()
    .replace(/^"(.*)"$/, '$1');
  if (fromHeader !== undefined && fromBody !== undefined && fromBody !== fromHeader)
    throw invalid('Idempotency-Key header and body idempotencyKey differ');
  return {
    idempotencyKey: (fromHeader ?? fromBody) as string,
    orders: (body as { orders?: unknown }).orders as unknown[],
  };
};

/** A JSON response. */
export const json = (
  statusCode: number,
  body: ProduceOrdersResult | ProduceOrdersErrorBody,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/**
 * The HTTP response for an error thrown by a request: 400 invalid, 422 key
 * reused with other orders, 409 same key in flight, 503 retriable, 500 else.
 */
export const httpResponseForError = (error: unknown): APIGatewayProxyStructuredResultV2 => {
  if (error instanceof IdempotencyKeyReusedError)
    return json(422, { error: 'IDEMPOTENCY_KEY_REUSED', message: error.message });
  if (error instanceof InvalidRequestError)
    return json(400, {
      error: 'INVALID_REQUEST',
      message: error.message,
      issues: [...error.issues],
    });
  if (error instanceof RequestInProgressError)
    return json(
      409,
      { error: 'REQUEST_IN_PROGRESS', message: error.message },
      { 'retry-after': '1' },
    );
  if (error instanceof PipelineError && error.retriable)
    return json(503, { error: 'RETRIABLE', message: safeMessage(error) }, { 'retry-after': '1' });
  return json(500, { error: 'INTERNAL', message: 'internal error' });
};
