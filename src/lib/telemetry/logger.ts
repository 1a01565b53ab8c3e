/**
 * Structured JSON logs through Powertools Logger. A record is named by where it lives
 * (`topic`, `partition`, `offset`), its order id (the record key) and its trace id;
 * payloads and header values appear only in DEBUG lines, and never for headers whose
 * names look like credentials.
 */
import { type LogFormatter, Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { safeMessage } from '../errors.ts';
import { recordTraceparent } from './traceparent.ts';
import type { ObservedOutcome, ObservedRecord } from './types.ts';

export interface PipelineLoggerOptions {
  serviceName?: string;
  /** A formatter instead of Powertools' JSON (tests, or another log schema). */
  logFormatter?: LogFormatter;
  /** Keys added to every line (e.g. `{ function: 'processOrders' }`). */
  persistentKeys?: Record<string, string>;
}

const LOG_LEVELS = new Set(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']);

/**
 * The container's logger: service from `POWERTOOLS_SERVICE_NAME` (or `SERVICE_NAME`),
 * level from `POWERTOOLS_LOG_LEVEL` (default INFO; Lambda's own log level caps it),
 * DEBUG for a sampled share of invocations from `POWERTOOLS_LOGGER_SAMPLE_RATE`
 * (0..1, decided again each invocation by `withTelemetry`).
 *
 * @example
 * const logger = createLogger(process.env, { persistentKeys: { function: 'processOrders' } });
 */
export const createLogger = (
  env: NodeJS.ProcessEnv = process.env,
  options: PipelineLoggerOptions = {},
): Logger => {
  const level = env.POWERTOOLS_LOG_LEVEL?.trim().toUpperCase();
  const sampleRate = Number(env.POWERTOOLS_LOGGER_SAMPLE_RATE);
  return new Logger({
    serviceName:
      options.serviceName ??
      (env.POWERTOOLS_SERVICE_NAME?.trim() || env.SERVICE_NAME?.trim() || 'msk-order-pipeline'),
    logLevel: (level && LOG_LEVELS.has(level) ? level : 'INFO') as LogLevel,
    ...(env.POWERTOOLS_LOGGER_SAMPLE_RATE && sampleRate >= 0 && sampleRate <= 1
      ? { sampleRateValue: sampleRate }
      : {}),
    ...(options.logFormatter ? { logFormatter: options.logFormatter } : {}),
    ...(options.persistentKeys ? { persistentKeys: options.persistentKeys } : {}),
  });
};

/** Fields naming a record in a log line. Never a payload, never a header value. */
export interface RecordLogFields {
  topic: string;
  partition: number;
  offset: number;
  orderId?: string;
  traceId?: string;
  errorCode?: string;
}

// the order id format of the order schema (kept here so logging does not load the schema)
const ORDER_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The log fields of a record: its order id is its key when the key is a well-formed
 * identifier (produceOrders keys orders by id), its trace id the one of its
 * `traceparent` (the producer's trace).
 *
 * @example
 * logger.info('record received', recordFields(record));
 */
export const recordFields = (record: ObservedRecord): RecordLogFields => {
  const fields: RecordLogFields = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
  };
  const key = record.key?.toString('utf8');
  if (key && ORDER_ID.test(key)) fields.orderId = key;
  const traceId = recordTraceparent(record.headers)?.traceId;
  if (traceId) fields.traceId = traceId;
  return fields;
};

/** Header names whose values are never logged, at any level. */
const SENSITIVE_HEADER =
  /auth|secret|token|passw|pwd|credential|api[-_]?key|cookie|session|sasl|signature/i;

export const isSensitiveHeader = (name: string): boolean => SENSITIVE_HEADER.test(name);

/** Longest value excerpt in a DEBUG line. */
const DEBUG_VALUE_MAX = 512;

/**
 * A record's headers and value for a DEBUG line: header values as text except those
 * named like credentials (`***`), the value cut to {@link DEBUG_VALUE_MAX} characters.
 */
const recordDebugDetail = (
  record: ObservedRecord,
): { headers: Record<string, string[]>; value: string | null; valueBytes: number } => {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of record.headers)
    headers[name] = isSensitiveHeader(name)
      ? values.map(() => '***')
      : values.map((v) => v.toString('utf8'));
  const text = record.value?.toString('utf8') ?? null;
  return {
    headers,
    value:
      text !== null && text.length > DEBUG_VALUE_MAX ? `${text.slice(0, DEBUG_VALUE_MAX)}…` : text,
    valueBytes: record.value?.length ?? 0,
  };
};

type OutcomeLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'getLevelName'>;

const debugEnabled = (logger: OutcomeLogger) => {
  const level = logger.getLevelName();
  return level === 'DEBUG' || level === 'TRACE';
};

/**
 * Logs one record outcome: WARN for a dead letter, INFO for a retriable failure (the
 * partition's `partition stopped` WARN follows, with the code) and for a record skipped
 * below the checkpoint, DEBUG for a processed one. With DEBUG on, one more line carries the headers and value.
 *
 * @example
 * createProcessOrdersHandler({ config, kafka, onOutcome: (o) => logRecordOutcome(logger, o) });
 */
export const logRecordOutcome = (logger: OutcomeLogger, outcome: ObservedOutcome): void => {
  const fields = recordFields(outcome.record);
  switch (outcome.kind) {
    case 'ok':
      logger.debug('record processed', { ...fields, messages: outcome.messages });
      break;
    case 'skipped':
      logger.info('record skipped: below the committed checkpoint', {
        ...fields,
        checkpoint: outcome.checkpoint,
      });
      break;
    case 'poison':
      logger.warn('record dead-lettered', {
        ...fields,
        errorCode: outcome.error.code,
        errorMessage: safeMessage(outcome.error.message),
      });
      break;
    case 'retriable':
      // the WARN is the partition's own `partition stopped` line (one per partition)
      logger.info('record failed: retriable', {
        ...fields,
        errorCode: outcome.error.code,
        errorMessage: safeMessage(outcome.error.message),
      });
      break;
  }
  if (debugEnabled(logger))
    logger.debug('record detail', { ...fields, ...recordDebugDetail(outcome.record) });
};

/**
 * {@link logRecordOutcome} bound to a logger, shaped like processBatch's `onOutcome`.
 *
 * @example
 * const onOutcome = outcomeLogger(logger);
 */
export const outcomeLogger =
  (logger: OutcomeLogger) =>
  (outcome: ObservedOutcome): void =>
    logRecordOutcome(logger, outcome);
