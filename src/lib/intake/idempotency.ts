/**
 * produceOrders' idempotency: a repeated key returns the first result without emitting
 * again (Powertools idempotency, DynamoDB persistence), a key reused with other orders
 * is refused, and Powertools' errors become the pipeline's.
 */
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
import type { Context } from 'aws-lambda';
import {
  ConfigurationError,
  IdempotencyKeyReusedError,
  RequestInProgressError,
  RetriableError,
  safeMessage,
} from '../errors.ts';
import type { ProduceOrdersResult, ValidProduceRequest } from './request.ts';

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

const DEFAULT_EXPIRES_AFTER_SECONDS = 24 * 60 * 60;
export const DEFAULT_IN_PROGRESS_TIMEOUT_MS = 60_000;

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

/** Powertools' idempotency errors, told apart by class (all extend `IdempotencyUnknownError`). */
export const fromIdempotencyError = (error: unknown, idempotencyKey: string): unknown => {
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

/** How long the invocation has left; bounds how long an in-flight request holds its key. */
export type RemainingTime = Pick<Context, 'getRemainingTimeInMillis'>;

/** An emit as {@link idempotentEmit} wraps it: the request is what the key is read from. */
export type Emit<TState> = (
  request: ValidProduceRequest,
  remaining: RemainingTime,
  state: TState,
) => Promise<ProduceOrdersResult>;

/**
 * `emit` made idempotent by the request's `idempotencyKey`: a repeated request returns
 * the stored result; the same key with other orders throws Powertools'
 * `IdempotencyValidationError` (see {@link fromIdempotencyError}).
 *
 * @example
 * const emitOnce = idempotentEmit(emit, readIdempotencySettings(), 'shop-prod-produceOrders');
 */
export const idempotentEmit = <TState>(
  emit: Emit<TState>,
  settings: IdempotencySettings,
  keyPrefix: string,
): Emit<TState> =>
  makeIdempotent(emit, {
    persistenceStore: persistenceStoreFor(settings),
    // Keyed by the caller's key alone; the orders are checked against the
    // stored hash so a reused key with other orders is refused, not replayed.
    config: new IdempotencyConfig({
      eventKeyJmesPath: 'idempotencyKey',
      payloadValidationJmesPath: 'orders',
      throwOnNoIdempotencyKey: true,
      hashFunction: 'sha256',
      expiresAfterSeconds: settings.expiresAfterSeconds ?? DEFAULT_EXPIRES_AFTER_SECONDS,
    }),
    // Stable across function renames and aliases (the default is the Lambda function name).
    keyPrefix,
  });
