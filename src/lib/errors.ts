/**
 * The one error module of the product. Every failure a handler can meet is a
 * {@link PipelineError} with a stable `code` (used in logs, metrics and the
 * `x-dlq-error-code` header) and a `retriable` flag that decides the batch
 * outcome: retriable stops the partition and is reported in
 * `batchItemFailures`; not retriable (poison) is dead-lettered and the
 * partition goes on.
 */

/** Stable error codes. Never rename one: they are part of the DLQ header contract. */
export const ERROR_CODES = [
  // poison: the record itself is bad, retrying cannot help
  'INVALID_BASE64',
  'VALUE_NULL',
  'NOT_JSON',
  'SCHEMA_VIOLATION',
  'RECORD_TOO_LARGE',
  'UNDECODABLE_DEAD_LETTER',
  // a registry-format value (Avro, Protobuf) that does not decode, or an unknown dataFormat
  'UNDECODABLE_VALUE',
  // the event-source mapping gave up on a record (its on-failure destination)
  'RETRIES_EXHAUSTED',
  // retriable: the world is temporarily bad
  'BROKER_UNAVAILABLE',
  'TRANSACTION_ABORTED',
  'TIMEOUT',
  'PRODUCER_FENCED',
  'TRANSIENT',
  // the broker does not know the topic or partition (yet): metadata lags, or a wrong name
  'UNKNOWN_TOPIC_OR_PARTITION',
  // a dead letter whose back-off has not run out yet: not a failure, a postponement
  'BACKOFF_PENDING',
  // configuration: fails at init, never per record
  'CONFIGURATION',
  // a request to produceOrders that is invalid as a whole
  'INVALID_REQUEST',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const RETRIABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BROKER_UNAVAILABLE',
  'TRANSACTION_ABORTED',
  'TIMEOUT',
  'PRODUCER_FENCED',
  'TRANSIENT',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'BACKOFF_PENDING',
]);

/** Whether a failure with this code may succeed when tried again. */
export const isRetriableCode = (code: ErrorCode): boolean => RETRIABLE.has(code);

/** Base error: a stable code, a retriable flag, data in `cause`. */
export class PipelineError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipelineError';
    this.code = code;
    this.retriable = isRetriableCode(code);
  }
}

/** The record is bad and will stay bad: dead-letter it and go on. */
export class PoisonRecordError extends PipelineError {
  constructor(
    code: Extract<
      ErrorCode,
      | 'INVALID_BASE64'
      | 'VALUE_NULL'
      | 'NOT_JSON'
      | 'SCHEMA_VIOLATION'
      | 'RECORD_TOO_LARGE'
      | 'UNDECODABLE_DEAD_LETTER'
      | 'UNDECODABLE_VALUE'
    >,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'PoisonRecordError';
  }
}

/** Temporary trouble: stop the partition here and let Lambda deliver again. */
export class RetriableError extends PipelineError {
  constructor(
    code: Extract<
      ErrorCode,
      | 'BROKER_UNAVAILABLE'
      | 'TRANSACTION_ABORTED'
      | 'TIMEOUT'
      | 'PRODUCER_FENCED'
      | 'TRANSIENT'
      | 'UNKNOWN_TOPIC_OR_PARTITION'
      | 'BACKOFF_PENDING'
    >,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'RetriableError';
  }
}

/** Bad settings: raised once at init with one clear message. */
export class ConfigurationError extends PipelineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFIGURATION', message, options);
    this.name = 'ConfigurationError';
  }
}

/** A produceOrders request that cannot be accepted; `issues` lists each bad order. */
export class InvalidRequestError extends PipelineError {
  readonly issues: ReadonlyArray<{ index: number; orderId?: string; message: string }>;

  constructor(
    message: string,
    issues: ReadonlyArray<{ index: number; orderId?: string; message: string }>,
  ) {
    super('INVALID_REQUEST', message);
    this.name = 'InvalidRequestError';
    this.issues = issues;
  }
}

const MAX_MESSAGE = 512;
// Anything that looks like a credential is masked before a message leaves the process
// (logs, DLQ headers): connection strings, passwords, tokens, AWS keys.
const SECRET_PATTERNS: ReadonlyArray<RegExp> = [
  /(password|passwd|pwd|secret|token|authorization|api[-_]?key|sasl)(["']?\s*[:=]\s*["']?)[^\s"',}]+/gi,
  /\b(AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /\/\/[^/\s:@]+:[^/\s@]+@/g,
];

/**
 * A message safe to put in a log line or a DLQ header: secrets masked,
 * control characters removed, bounded length.
 *
 * @example
 * safeMessage(new Error('auth failed password=hunter2')) // 'auth failed password=***'
 */
export const safeMessage = (error: unknown, maxLength = MAX_MESSAGE): string => {
  let text =
    error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';
  text = text
    .replace(SECRET_PATTERNS[0]!, '$1$2***')
    .replace(SECRET_PATTERNS[1]!, '***')
    .replace(SECRET_PATTERNS[2]!, '//***@')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
    .replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
};

/**
 * Maps anything thrown to a {@link PipelineError}. kafkajs marks its errors
 * `retriable`; fencing and aborted transactions are retriable for the batch
 * (the next invocation re-initialises the producer). `context` (what was being
 * done) prefixes the message of a mapped error.
 */
export const toPipelineError = (error: unknown, context?: string): PipelineError => {
  if (error instanceof PipelineError) return error;
  const e = error as { name?: string; type?: string; retriable?: boolean; message?: string };
  const name = e?.name ?? '';
  const type = e?.type ?? '';
  const message = context ? `${context}: ${safeMessage(error)}` : safeMessage(error);
  const retriable = (code: ConstructorParameters<typeof RetriableError>[0]) =>
    new RetriableError(code, message, { cause: error });
  if (
    type === 'INVALID_PRODUCER_EPOCH' ||
    type === 'PRODUCER_FENCED' ||
    name === 'KafkaJSProducerFencedError'
  )
    return retriable('PRODUCER_FENCED');
  if (
    name === 'KafkaJSRequestTimeoutError' ||
    name === 'KafkaJSTimeout' ||
    type === 'REQUEST_TIMED_OUT'
  )
    return retriable('TIMEOUT');
  if (
    type === 'CONCURRENT_TRANSACTIONS' ||
    type === 'INVALID_TXN_STATE' ||
    type === 'TRANSACTION_ABORTED'
  )
    return retriable('TRANSACTION_ABORTED');
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return retriable('UNKNOWN_TOPIC_OR_PARTITION');
  if (name.startsWith('KafkaJS')) return retriable('BROKER_UNAVAILABLE');
  return retriable('TRANSIENT');
};
