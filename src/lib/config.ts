import { ConfigurationError } from './errors.ts';

/** Topic names: configuration, these are the defaults. */
export interface Topics {
  orders: string;
  processed: string;
  dlq: string;
  parkingLot: string;
  checkpoints: string;
}

export interface PipelineConfig {
  service: string;
  stage: string;
  topics: Topics;
  /** Maximum dead-letter attempts before a record is parked. */
  dlqMaxAttempts: number;
  /** Base of the exponential republish back-off, in milliseconds. */
  dlqBackoffBaseMs: number;
  dlqBackoffMaxMs: number;
  /**
   * Records whose key, value and header bytes together exceed this are poison
   * (`RECORD_TOO_LARGE`), as the decoder measures them.
   */
  maxRecordBytes: number;
  /** An invocation answers this long before Lambda's deadline. */
  deadlineMarginMs: number;
  /** The deadline when no Lambda context tells it (a direct call): this long from the start. */
  defaultTimeoutMs: number;
}

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

const topic = (env: NodeJS.ProcessEnv, name: string, fallback: string) => {
  const value = env[name]?.trim() || fallback;
  if (!TOPIC_NAME.test(value))
    throw new ConfigurationError(`${name}="${value}" is not a valid Kafka topic name`);
  return value;
};

const positiveInt = (env: NodeJS.ProcessEnv, name: string, fallback: number) => {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ConfigurationError(`${name}="${raw}" must be a non-negative integer`);
  return n;
};

/**
 * Reads the pipeline's settings from the environment once, at init; any bad
 * value fails with one clear {@link ConfigurationError}.
 */
export const readPipelineConfig = (env: NodeJS.ProcessEnv = process.env): PipelineConfig => ({
  service: env.SERVICE_NAME?.trim() || env.POWERTOOLS_SERVICE_NAME?.trim() || 'msk-order-pipeline',
  stage: env.STAGE?.trim() || 'dev',
  topics: {
    orders: topic(env, 'TOPIC_ORDERS', 'orders'),
    processed: topic(env, 'TOPIC_PROCESSED', 'orders.processed'),
    dlq: topic(env, 'TOPIC_DLQ', 'orders.dlq'),
    parkingLot: topic(env, 'TOPIC_PARKING_LOT', 'orders.parking-lot'),
    checkpoints: topic(env, 'TOPIC_CHECKPOINTS', 'orders.checkpoints'),
  },
  dlqMaxAttempts: Math.max(1, positiveInt(env, 'DLQ_MAX_ATTEMPTS', 3)),
  dlqBackoffBaseMs: positiveInt(env, 'DLQ_BACKOFF_BASE_MS', 1_000),
  dlqBackoffMaxMs: positiveInt(env, 'DLQ_BACKOFF_MAX_MS', 300_000),
  maxRecordBytes: positiveInt(env, 'MAX_RECORD_BYTES', 1_000_000),
  deadlineMarginMs: positiveInt(env, 'DEADLINE_MARGIN_MS', 2_000),
  defaultTimeoutMs: Math.max(1_000, positiveInt(env, 'DEFAULT_TIMEOUT_MS', 30_000)),
});

/** `<service>-<stage>-<fn>`: the prefix of every transactional id and checkpoint group of a function. */
export const functionPrefix = (config: PipelineConfig, fn: string) =>
  `${config.service}-${config.stage}-${fn}`;
