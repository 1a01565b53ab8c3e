/**
 * The one error module of the product. Every failure a handler can meet is a
 * {@link PipelineError} with a stable `code` (used in logs, metrics and the
 * `x-dlq-error-code` header) and a `retriable` flag that decides the batch
 * outcome: retriable stops the partition and is reported in
 * `batchItemFailures`; not retriable (poison) is dead-lettered and the
 * partition goes on.
 */

/**
 * Every error code, declared once, with its kind. Never rename a code: they are part of
 * the DLQ header contract. One line per code.
 *
 * - `poison`: the record itself is bad and will stay bad; it is dead-lettered and the
 *   partition goes on.
 * - `retriable`: the world is temporarily bad; the partition stops here and Lambda
 *   delivers it again.
 * - `final`: neither a record's fault nor temporary (bad settings, a bad request, a
 *   record the event-source mapping gave up on); not retried.
 */
export const ERROR_TABLE = {
  INVALID_BASE64: 'poison',
  VALUE_NULL: 'poison',
  NOT_JSON: 'poison',
  SCHEMA_VIOLATION: 'poison',
  RECORD_TOO_LARGE: 'poison',
  UNDECODABLE_DEAD_LETTER: 'poison',
  // a registry-format value (Avro, Protobuf) that does not decode, or an unknown dataFormat
  UNDECODABLE_VALUE: 'poison',
  // a registry record whose schema version the registry does not have (AWS's mapping reason)
  SCHEMA_NOT_FOUND: 'poison',
  // the event-source mapping gave up on a record (its on-failure destination)
  RETRIES_EXHAUSTED: 'final',
  BROKER_UNAVAILABLE: 'retriable',
  TRANSACTION_ABORTED: 'retriable',
  TIMEOUT: 'retriable',
  PRODUCER_FENCED: 'retriable',
  TRANSIENT: 'retriable',
  // the broker does not know the topic or partition (yet): metadata lags, or a wrong name
  UNKNOWN_TOPIC_OR_PARTITION: 'retriable',
  // a dead letter whose back-off has not run out yet: not a failure, a postponement
  BACKOFF_PENDING: 'retriable',
  // the broker refused the client's credentials, or the client did not trust the
  // broker's certificate: stop the partition, never dead-letter (a fix or a rotation helps)
  AUTHENTICATION_FAILED: 'retriable',
  TLS_UNTRUSTED: 'retriable',
  // configuration: fails at init, never per record
  CONFIGURATION: 'final',
  // the SCRAM secret is absent from Secrets Manager, or its value is not {username, password}
  SECRET_NOT_FOUND: 'final',
  SECRET_MALFORMED: 'final',
  // a request to produceOrders that is invalid as a whole
  INVALID_REQUEST: 'final',
  INTERNAL: 'final',
} as const satisfies Record<string, 'poison' | 'retriable' | 'final'>;

export type ErrorCode = keyof typeof ERROR_TABLE;

type CodesOfKind<K extends (typeof ERROR_TABLE)[ErrorCode]> = {
  [C in ErrorCode]: (typeof ERROR_TABLE)[C] extends K ? C : never;
}[ErrorCode];

/** Codes of records that are bad and will stay bad. */
export type PoisonCode = CodesOfKind<'poison'>;
/** Codes of failures that may succeed when tried again. */
export type RetriableCode = CodesOfKind<'retriable'>;

/** Base error: a stable code, a retriable flag, data in `cause`. */
export class PipelineError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PipelineError';
    this.code = code;
    this.retriable = ERROR_TABLE[code] === 'retriable';
  }
}

/** The record is bad and will stay bad: dead-letter it and go on. */
export class PoisonRecordError extends PipelineError {
  constructor(code: PoisonCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PoisonRecordError';
  }
}

/** Temporary trouble: stop the partition here and let Lambda deliver again. */
export class RetriableError extends PipelineError {
  constructor(code: RetriableCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'RetriableError';
  }
}

/** Bad settings: raised once at init with one clear message; `code` says which setting, when known. */
export class ConfigurationError extends PipelineError {
  constructor(
    message: string,
    options?: {
      cause?: unknown;
      code?: Extract<ErrorCode, 'CONFIGURATION' | 'SECRET_NOT_FOUND' | 'SECRET_MALFORMED'>;
    },
  ) {
    super(options?.code ?? 'CONFIGURATION', message, options);
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

/**
 * A produceOrders request whose idempotency key is being handled right now (by this or
 * another container). Retriable: try again shortly; the first result is returned once
 * it is stored.
 */
export class RequestInProgressError extends RetriableError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TRANSIENT', message, options);
    this.name = 'RequestInProgressError';
  }
}

/** A produceOrders idempotency key used before with different orders. Not retriable. */
export class IdempotencyKeyReusedError extends InvalidRequestError {
  constructor(message: string) {
    super(message, []);
    this.name = 'IdempotencyKeyReusedError';
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
 * Anything thrown as a {@link PipelineError}: a PipelineError as it is, anything else a
 * retriable `TRANSIENT` (an unknown failure is not the record's fault). Kafka client
 * errors are classified where the client is known, by `fromKafkaError` in `kafka/`.
 * `context` (what was being done) prefixes the message of a mapped error.
 *
 * @example
 * toPipelineError(new Error('socket hang up')).code // 'TRANSIENT'
 */
export const toPipelineError = (error: unknown, context?: string): PipelineError => {
  if (error instanceof PipelineError) return error;
  const message = context ? `${context}: ${safeMessage(error)}` : safeMessage(error);
  return new RetriableError('TRANSIENT', message, { cause: error });
};
