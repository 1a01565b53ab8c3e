/**
 * produceOrders: validates a batch of orders as a whole, then emits every order
 * to the orders topic in ONE Kafka transaction (all or none). A caller-chosen
 * idempotency key makes a repeated request return the first result without
 * emitting again (Powertools idempotency, DynamoDB persistence).
 *
 * Two ways in: a direct invoke `{ idempotencyKey, orders }` (errors are thrown,
 * typed) and an API Gateway HTTP API (payload v2) `POST /orders` (errors are
 * HTTP responses: 400, 409, 422, 503). The parts: `request.ts` (validation),
 * `httpApi.ts` (the HTTP adapter), `idempotency.ts`, `emit.ts` (the transaction).
 */
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { functionPrefix, type PipelineConfig } from '../config.ts';
import {
  InvalidRequestError,
  type PipelineError,
  RequestInProgressError,
  toPipelineError,
} from '../errors.ts';
import type { OrderFormat } from '../formats/index.ts';
import type { Tracing } from '../telemetry/tracing.ts';
import { orderEmitter, type ProduceOrdersKafka, randomHex } from './emit.ts';
import { httpResponseForError, isHttpApiEvent, json, requestFromHttpEvent } from './httpApi.ts';
import {
  DEFAULT_IN_PROGRESS_TIMEOUT_MS,
  fromIdempotencyError,
  type IdempotencySettings,
  idempotentEmit,
  type RemainingTime,
} from './idempotency.ts';
import {
  DEFAULT_MAX_ORDERS,
  type ProduceOrdersRequest,
  type ProduceOrdersResult,
  type ValidProduceRequest,
  validateProduceRequest,
} from './request.ts';

const DEFAULT_TRANSACTION_TIMEOUT_MS = 30_000;
const FUNCTION_NAME = 'produceOrders';

/** What happened to one request; for logs and metrics. */
export type ProduceOutcome =
  | { kind: 'emitted'; idempotencyKey: string; orders: number; transactionalId: string }
  | { kind: 'replayed'; idempotencyKey: string; orders: number }
  | { kind: 'invalid'; idempotencyKey?: string; error: InvalidRequestError }
  | { kind: 'in-progress'; idempotencyKey: string; error: RequestInProgressError }
  | { kind: 'failed'; idempotencyKey?: string; error: PipelineError };

export interface ProduceOrdersDeps {
  config: PipelineConfig;
  /** The Kafka client, created on first use and kept for warm invocations. */
  kafka: (() => Promise<ProduceOrdersKafka>) & {
    /** Lets go of the client (a refused login may be a rotated secret: log in afresh). */
    renew?: () => Promise<void>;
  };
  /** Without it requests are validated and emitted but not deduplicated (tests, local tools). */
  idempotency?: IdempotencySettings;
  now?: () => Date;
  /** Most orders one request may carry. Default 500. */
  maxOrders?: number;
  /** Broker-side transaction timeout. Default 30 s: a dead container's open transaction blocks read_committed readers that long. */
  transactionTimeoutMs?: number;
  /** Replaces the random per-container part of the transactional id (tests). */
  containerId?: string;
  /**
   * The container's tracing. With it, each emit is a PRODUCER span `send <orders topic>`
   * whose context is every order's `traceparent` (tracing off: a fresh random one per
   * order). Without it, every order gets a fresh random `traceparent`.
   */
  tracing?: Tracing;
  /** Orders in a registry format, Glue-framed (`ORDER_FORMAT`); none: plain JSON. */
  orderFormat?: OrderFormat;
  onOutcome?: (outcome: ProduceOutcome) => void;
}

type CallState = { result?: ProduceOrdersResult; transactionalId?: string };

/**
 * Builds the produceOrders Lambda handler. Configuration is read once by the
 * caller; the Kafka client and the idempotency store are kept for warm invocations.
 *
 * The transactional id is `<service>-<stage>-produceOrders-<random per container>`.
 * Not one per request: each new id costs an InitProducerId round trip and a new
 * producer, and the coordinator keeps the state of every id for
 * `transactional.id.expiration.ms` (7 days), so ids per request grow without
 * bound. Not one shared id: concurrent containers would fence each other on
 * every `initTransactions`. Requests are deduplicated by the idempotency key,
 * not by fencing; a dead container's open transaction is aborted by the broker
 * after `transactionTimeoutMs`.
 *
 * @example
 * export const handler = createProduceOrdersHandler({
 *   config: readPipelineConfig(),
 *   kafka: () => kafkaClient(),
 *   idempotency: readIdempotencySettings(),
 * });
 */
export const createProduceOrdersHandler = (deps: ProduceOrdersDeps) => {
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const limits = {
    maxOrders: deps.maxOrders ?? DEFAULT_MAX_ORDERS,
    maxRecordBytes: config.maxRecordBytes,
  };
  const prefix = functionPrefix(config, FUNCTION_NAME);
  const transactionalId = `${prefix}-${deps.containerId ?? randomHex(6)}`;
  const producerOptions = {
    transactionTimeoutMs: deps.transactionTimeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS,
  };
  const inProgressTimeoutMs =
    deps.idempotency?.inProgressTimeoutMs ?? DEFAULT_IN_PROGRESS_TIMEOUT_MS;

  const emitOrders = orderEmitter({
    topic: config.topics.orders,
    kafka: deps.kafka,
    transactionalId,
    producerOptions,
    ...(deps.tracing ? { tracing: deps.tracing } : {}),
    now,
    format: deps.orderFormat,
  });
  const emit = async (
    request: ValidProduceRequest,
    remaining: RemainingTime,
    state: CallState,
  ): Promise<ProduceOrdersResult> => {
    // the transaction (and a registry look-up of the format's schema version id, if it
    // has to be made) answers before the invocation's deadline, less the margin
    const deadline = Date.now() + remaining.getRemainingTimeInMillis() - config.deadlineMarginMs;
    const result = await emitOrders(request.orders, { deadline });
    state.result = result;
    state.transactionalId = transactionalId;
    return result;
  };
  const emitOnce = deps.idempotency ? idempotentEmit(emit, deps.idempotency, prefix) : emit;

  const produce = async (readInput: () => unknown, context?: Partial<Context>) => {
    let idempotencyKey: string | undefined;
    try {
      const request = validateProduceRequest(readInput(), limits);
      idempotencyKey = request.idempotencyKey;
      // The in-flight record expires with the invocation's deadline, so a
      // request killed by a timeout does not hold its key for the whole TTL.
      const remaining: RemainingTime = {
        getRemainingTimeInMillis: () =>
          context?.getRemainingTimeInMillis?.() ?? inProgressTimeoutMs,
      };
      const state: CallState = {};
      let result: ProduceOrdersResult;
      try {
        result = await emitOnce(request, remaining, state);
      } catch (error) {
        // Emitted and committed, but the result could not be stored: the orders
        // are in Kafka, so the caller must hear success, not a retriable error.
        if (state.result) result = state.result;
        else throw fromIdempotencyError(error, request.idempotencyKey);
      }
      deps.onOutcome?.(
        state.transactionalId
          ? {
              kind: 'emitted',
              idempotencyKey,
              orders: result.orders.length,
              transactionalId: state.transactionalId,
            }
          : { kind: 'replayed', idempotencyKey, orders: result.orders.length },
      );
      return { result, replayed: !state.transactionalId };
    } catch (thrown) {
      const error =
        thrown instanceof InvalidRequestError || thrown instanceof RequestInProgressError
          ? thrown
          : toPipelineError(thrown);
      const key = idempotencyKey === undefined ? {} : { idempotencyKey };
      // the next request logs in afresh, reading a rotated secret again
      if (error.code === 'AUTHENTICATION_FAILED') void deps.kafka.renew?.();
      if (error instanceof RequestInProgressError)
        deps.onOutcome?.({ kind: 'in-progress', idempotencyKey: idempotencyKey!, error });
      else if (error instanceof InvalidRequestError)
        deps.onOutcome?.({ kind: 'invalid', ...key, error });
      else deps.onOutcome?.({ kind: 'failed', ...key, error });
      throw error;
    }
  };

  /**
   * Direct invoke: `{ idempotencyKey, orders }` → {@link ProduceOrdersResult}, or
   * throws InvalidRequestError / IdempotencyKeyReusedError (not retriable),
   * RequestInProgressError or another retriable PipelineError.
   * HTTP API event → a response with the status codes of {@link httpResponseForError}.
   */
  async function handler(
    event: APIGatewayProxyEventV2,
    context?: Partial<Context>,
  ): Promise<APIGatewayProxyStructuredResultV2>;
  async function handler(
    event: ProduceOrdersRequest,
    context?: Partial<Context>,
  ): Promise<ProduceOrdersResult>;
  async function handler(
    event: unknown,
    context?: Partial<Context>,
  ): Promise<ProduceOrdersResult | APIGatewayProxyStructuredResultV2>;
  async function handler(
    event: unknown,
    context?: Partial<Context>,
  ): Promise<ProduceOrdersResult | APIGatewayProxyStructuredResultV2> {
    if (!isHttpApiEvent(event)) return (await produce(() => event, context)).result;
    if (event.requestContext.http.method.toUpperCase() !== 'POST')
      return json(
        405,
        { error: 'METHOD_NOT_ALLOWED', message: 'use POST /orders' },
        { allow: 'POST' },
      );
    try {
      const { result, replayed } = await produce(() => requestFromHttpEvent(event), context);
      return json(200, result, replayed ? { 'idempotent-replayed': 'true' } : {});
    } catch (error) {
      return httpResponseForError(error);
    }
  }

  return Object.assign(handler, { transactionalId });
};
