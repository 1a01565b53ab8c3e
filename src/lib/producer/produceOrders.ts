/**
 * produceOrders: validates a batch of orders as a whole, then emits every order
 * to the orders topic in ONE Kafka transaction (all or none). A caller-chosen
 * idempotency key makes a repeated request return the first result without
 * emitting again (Powertools idempotency, DynamoDB persistence).
 *
 * Two ways in: a direct invoke `{ idempotencyKey, orders }` (errors are thrown,
 * typed) and an API Gateway HTTP API (payload v2) `POST /orders` (errors are
 * HTTP responses: 400, 409, 422, 503).
 */
import { randomBytes } from 'node:crypto';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyUnknownError,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { BasePersistenceLayer } from '@aws-lambda-powertools/idempotency/persistence';
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import { functionPrefix, type PipelineConfig } from '../config.ts';
import {
  ConfigurationError,
  IdempotencyKeyReusedError,
  InvalidRequestError,
  PipelineError,
  RequestInProgressError,
  RetriableError,
  safeMessage,
  toPipelineError,
} from '../errors.ts';
import type {
  OutboundMessage,
  PlacedMessage,
  TransactionalProducerOptions,
} from '../kafka/index.ts';
import { type Order, safeParseOrder } from '../orders/index.ts';
import { producerSpan, type Tracing } from '../telemetry/tracing.ts';

/** What a direct invoke sends. `orders` are order inputs, validated here. */
export interface ProduceOrdersRequest {
  idempotencyKey: string;
  orders: unknown[];
}

/** Where one order landed. `offset` is a decimal string (Kafka offsets are 64-bit). */
export interface PlacedOrder {
  orderId: string;
  partition: number;
  offset: string;
}

/** The result of a request, the same for the first call and every replay. */
export interface ProduceOrdersResult {
  topic: string;
  orders: PlacedOrder[];
}

export type RequestIssue = { index: number; orderId?: string; message: string };

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

/** Only what produceOrders needs of the Kafka client (a `KafkaClient` fits). */
export interface OrderWriter {
  write(messages: OutboundMessage[]): Promise<PlacedMessage[]>;
}
export interface ProduceOrdersKafka {
  transactionalProducer(
    transactionalId: string,
    options?: TransactionalProducerOptions,
  ): { producer: OrderWriter };
}

/** Where idempotency records live. */
export interface IdempotencySettings {
  /** DynamoDB table with partition key `id` (string) and TTL on `expiration`. */
  tableName?: string;
  /** Client configuration; `endpoint` points at an emulator. Ignored with `awsSdkV3Client`. */
  clientConfig?: DynamoDBClientConfig;
  awsSdkV3Client?: DynamoDBClient;
  /** Any Powertools persistence layer instead of DynamoDB (tests, other stores). */
  persistenceStore?: BasePersistenceLayer;
  /** How long a completed request is remembered. Default 24 hours. */
  expiresAfterSeconds?: number;
  /**
   * How long an in-flight request holds its key when there is no Lambda context
   * to tell the remaining time (local runs, tests). Default 60 seconds.
   */
  inProgressTimeoutMs?: number;
}

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
  kafka: () => Promise<ProduceOrdersKafka>;
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
  onOutcome?: (outcome: ProduceOutcome) => void;
}

export const DEFAULT_MAX_ORDERS = 500;
const DEFAULT_EXPIRES_AFTER_SECONDS = 24 * 60 * 60;
const DEFAULT_IN_PROGRESS_TIMEOUT_MS = 60_000;
const DEFAULT_TRANSACTION_TIMEOUT_MS = 30_000;
const MAX_LISTED_ISSUES = 100;
/** Visible ASCII, as a structured-field string of the IETF Idempotency-Key draft allows. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const FUNCTION_NAME = 'produceOrders';

const randomHex = (bytes: number): string => {
  for (;;) {
    const hex = randomBytes(bytes).toString('hex');
    // W3C trace context: an all-zero trace id or span id is invalid.
    if (!/^0+$/.test(hex)) return hex;
  }
};

/**
 * A new W3C `traceparent` (version 00, random trace id and span id, sampled): what an
 * order carries when the handler is built without `tracing`.
 *
 * @example
 * newTraceparent(); // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
 */
export const newTraceparent = (): string => `00-${randomHex(16)}-${randomHex(8)}-01`;

const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');

const invalid = (message: string, issues: RequestIssue[] = []) =>
  new InvalidRequestError(message, issues);

/**
 * Validates a whole request before anything is sent: the idempotency key, the
 * list (not empty, not above `maxOrders`), every order against the schema and
 * the record size limit, and no orderId twice. Pure.
 *
 * @throws InvalidRequestError listing every bad order (`index`, `orderId` when known, `message`).
 *
 * @example
 * const { idempotencyKey, orders } = validateProduceRequest(
 *   { idempotencyKey: 'k-1', orders: [orderInput] },
 *   { maxOrders: 500, maxRecordBytes: 1_000_000 },
 * );
 */
export const validateProduceRequest = (
  request: unknown,
  limits: { maxOrders: number; maxRecordBytes: number },
): { idempotencyKey: string; orders: Order[] } => {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw invalid('request must be an object { idempotencyKey, orders }');
  const { idempotencyKey, orders } = request as { idempotencyKey?: unknown; orders?: unknown };
  if (idempotencyKey === undefined || idempotencyKey === null || idempotencyKey === '')
    throw invalid('idempotencyKey is required (body field or Idempotency-Key header)');
  if (typeof idempotencyKey !== 'string' || !IDEMPOTENCY_KEY.test(idempotencyKey))
    throw invalid('idempotencyKey must be 1-255 visible ASCII characters');
  if (!Array.isArray(orders)) throw invalid('orders must be an array of orders');
  if (orders.length === 0) throw invalid('orders must hold at least one order');
  if (orders.length > limits.maxOrders)
    throw invalid(`orders holds ${orders.length} orders, at most ${limits.maxOrders} are accepted`);

  const issues: RequestIssue[] = [];
  const parsed: Order[] = [];
  const firstIndexOf = new Map<string, number>();
  for (const [index, value] of orders.entries()) {
    const result = safeParseOrder(value);
    if (!result.success) {
      const named = result.orderId === undefined ? {} : { orderId: result.orderId };
      for (const issue of result.issues)
        issues.push({ index, ...named, message: `${issue.path}: ${issue.message}` });
      continue;
    }
    const { order } = result;
    const first = firstIndexOf.get(order.orderId);
    if (first !== undefined) {
      issues.push({
        index,
        orderId: order.orderId,
        message: `orderId repeats the order at index ${first}`,
      });
      continue;
    }
    firstIndexOf.set(order.orderId, index);
    const size = byteLength(JSON.stringify(order));
    if (size > limits.maxRecordBytes) {
      issues.push({
        index,
        orderId: order.orderId,
        message: `order is ${size} bytes, above the ${limits.maxRecordBytes}-byte record limit`,
      });
      continue;
    }
    parsed.push(order);
  }
  if (issues.length > 0) {
    const badOrders = new Set(issues.map((i) => i.index)).size;
    const listed = issues.slice(0, MAX_LISTED_ISSUES);
    const more = issues.length > listed.length ? ` (first ${listed.length} issues listed)` : '';
    throw invalid(`${badOrders} of ${orders.length} orders are invalid${more}`, listed);
  }
  return { idempotencyKey, orders: parsed };
};

/** Idempotency settings from the environment: `IDEMPOTENCY_TABLE`, `AWS_ENDPOINT_URL(_DYNAMODB)`, `IDEMPOTENCY_EXPIRES_AFTER_SECONDS`. */
export const readIdempotencySettings = (
  env: NodeJS.ProcessEnv = process.env,
): IdempotencySettings => {
  const tableName = env.IDEMPOTENCY_TABLE?.trim();
  if (!tableName) throw new ConfigurationError('IDEMPOTENCY_TABLE is required for produceOrders');
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB?.trim() || env.AWS_ENDPOINT_URL?.trim();
  const rawExpiry = env.IDEMPOTENCY_EXPIRES_AFTER_SECONDS?.trim();
  const expiresAfterSeconds = rawExpiry ? Number(rawExpiry) : undefined;
  if (
    expiresAfterSeconds !== undefined &&
    (!Number.isSafeInteger(expiresAfterSeconds) || expiresAfterSeconds < 1)
  )
    throw new ConfigurationError(
      `IDEMPOTENCY_EXPIRES_AFTER_SECONDS="${rawExpiry}" must be a positive integer`,
    );
  return {
    tableName,
    ...(endpoint ? { clientConfig: { endpoint } } : {}),
    ...(expiresAfterSeconds === undefined ? {} : { expiresAfterSeconds }),
  };
};

const persistenceStoreFor = (settings: IdempotencySettings): BasePersistenceLayer => {
  if (settings.persistenceStore) return settings.persistenceStore;
  if (!settings.tableName)
    throw new ConfigurationError('produceOrders idempotency needs a table name');
  return settings.awsSdkV3Client
    ? new DynamoDBPersistenceLayer({
        tableName: settings.tableName,
        awsSdkV3Client: settings.awsSdkV3Client,
      })
    : new DynamoDBPersistenceLayer({
        tableName: settings.tableName,
        clientConfig: settings.clientConfig ?? {},
      });
};

// ---------------------------------------------------------------- HTTP API (payload v2)

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

const json = (
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

// ---------------------------------------------------------------- handler

/** Powertools' idempotency errors, told apart by class (all extend `IdempotencyUnknownError`). */
const fromIdempotencyError = (error: unknown, idempotencyKey: string): unknown => {
  if (error instanceof IdempotencyAlreadyInProgressError)
    return new RequestInProgressError(
      `a request with idempotency key "${idempotencyKey}" is in progress; retry shortly`,
      { cause: error },
    );
  if (error instanceof IdempotencyValidationError)
    return new IdempotencyKeyReusedError(
      `idempotency key "${idempotencyKey}" was used before with different orders`,
    );
  if (error instanceof IdempotencyUnknownError)
    // the store could not be read or written (DynamoDB throttled or unreachable)
    return new RetriableError('TRANSIENT', `idempotency store: ${safeMessage(error)}`, {
      cause: error,
    });
  return error;
};

type ValidRequest = { idempotencyKey: string; orders: Order[] };
type CallState = { result?: ProduceOrdersResult; transactionalId?: string };
type RemainingTime = Pick<Context, 'getRemainingTimeInMillis'>;

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

  // One transaction at a time per producer; Lambda sends one request at a time
  // per container, local tools may not.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusively = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };

  const emit = async (
    request: ValidRequest,
    _remaining: RemainingTime,
    state: CallState,
  ): Promise<ProduceOrdersResult> => {
    const topic = config.topics.orders;
    const timestamp = String(now().getTime());
    const span = deps.tracing
      ? producerSpan(deps.tracing, { topic, messageCount: request.orders.length })
      : undefined;
    const messages: OutboundMessage[] = request.orders.map((order) => ({
      topic,
      key: order.orderId,
      value: JSON.stringify(order),
      headers: span ? span.headers() : { traceparent: newTraceparent() },
      timestamp,
    }));
    let placed: PlacedMessage[];
    try {
      placed = await exclusively(async () => {
        const kafka = await deps.kafka();
        const { producer } = kafka.transactionalProducer(transactionalId, producerOptions);
        return producer.write(messages);
      });
    } catch (error) {
      span?.end(error);
      throw error;
    }
    span?.end();
    const result: ProduceOrdersResult = {
      topic,
      orders: request.orders.map((order, i) => ({
        orderId: order.orderId,
        partition: placed[i]!.partition,
        offset: placed[i]!.offset,
      })),
    };
    state.result = result;
    state.transactionalId = transactionalId;
    return result;
  };

  const emitOnce = deps.idempotency
    ? makeIdempotent(emit, {
        persistenceStore: persistenceStoreFor(deps.idempotency),
        // Keyed by the caller's key alone; the orders are checked against the
        // stored hash so a reused key with other orders is refused, not replayed.
        config: new IdempotencyConfig({
          eventKeyJmesPath: 'idempotencyKey',
          payloadValidationJmesPath: 'orders',
          throwOnNoIdempotencyKey: true,
          hashFunction: 'sha256',
          expiresAfterSeconds:
            deps.idempotency.expiresAfterSeconds ?? DEFAULT_EXPIRES_AFTER_SECONDS,
        }),
        // Stable across function renames and aliases (the default is the Lambda function name).
        keyPrefix: prefix,
      })
    : emit;

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
