import { type ErrorCode, safeMessage } from '../errors.ts';
import { lastHeaderText } from '../events/headers.ts';
import type { DecodedRecord, HeaderMap } from '../events/types.ts';
import { type OutboundMessage, toOutboundHeaders } from '../kafka/index.ts';

/** The dead-letter header contract (README "Dead letters"). Names never change. */
export const DLQ_HEADERS = {
  originalTopic: 'x-dlq-original-topic',
  originalPartition: 'x-dlq-original-partition',
  originalOffset: 'x-dlq-original-offset',
  originalTimestamp: 'x-dlq-original-timestamp',
  errorCode: 'x-dlq-error-code',
  errorMessage: 'x-dlq-error-message',
  attempts: 'x-dlq-attempts',
  firstFailedAt: 'x-dlq-first-failed-at',
  failedAt: 'x-dlq-failed-at',
  source: 'x-dlq-source',
  notBefore: 'x-dlq-not-before',
  history: 'x-dlq-history',
  valueEncoding: 'x-dlq-value-encoding',
} as const;

export type DeadLetterSource = 'handler' | 'esm-on-failure';

/**
 * `x-dlq-error-code` of a record the event-source mapping gave up on (an AWS on-failure
 * envelope). An {@link ErrorCode} like any other, though no handler error carries it:
 * only the envelopes' dead letters do.
 */
export const ON_FAILURE_ERROR_CODE = 'RETRIES_EXHAUSTED' satisfies ErrorCode;

/**
 * Topic configuration the dead-letter topics need (`orders.dlq`, `orders.parking-lot`).
 * A dead letter is the whole record plus its `x-dlq-*` headers (up to a few KB with
 * the history), so it is larger than its record: a record the orders topic just
 * accepted at Kafka's default `max.message.bytes` (1,048,588) would not fit a DLQ with
 * the same limit, and its partition would fail until the mapping gave up on it. 2 MiB
 * leaves room for the headers and for an orders topic raised a little; keep the DLQ's
 * and the parking lot's limit above the orders topic's whatever it is.
 */
export const DEAD_LETTER_TOPIC_CONFIG = { 'max.message.bytes': String(2 * 1024 * 1024) } as const;

/** Bound on `x-dlq-error-message`: headers are not the place for stack traces. */
const DLQ_MESSAGE_MAX = 256;

/** The `x-dlq-*` headers a record carries, read once: what deciding about a dead letter needs. */
export interface DeadLetterHeaders {
  originalTopic?: string;
  originalPartition?: string;
  originalOffset?: string;
  originalTimestamp?: string;
  /** `x-dlq-attempts` when it is a positive integer (up to 9 digits). */
  attempts?: number;
  firstFailedAt?: string;
  /** `x-dlq-not-before` when it is a readable time. */
  notBefore?: Date;
  /** `x-dlq-value-encoding` is set: the value is not the bytes the producer wrote. */
  valueReencoded: boolean;
  /** `x-dlq-history`, every entry, oldest first. */
  history: readonly Buffer[];
}

/**
 * Reads the dead-letter contract headers of a record (the last value of each, as Kafka
 * clients do). A header that is absent or unreadable is left out, never guessed.
 *
 * @example
 * readDeadLetterHeaders(record.headers).attempts // 2, or undefined for a first failure
 */
export const readDeadLetterHeaders = (headers: HeaderMap): DeadLetterHeaders => {
  const text = (name: string) => lastHeaderText(headers, name);
  const attempts = text(DLQ_HEADERS.attempts);
  const notBefore = new Date(text(DLQ_HEADERS.notBefore) ?? '');
  return {
    originalTopic: text(DLQ_HEADERS.originalTopic),
    originalPartition: text(DLQ_HEADERS.originalPartition),
    originalOffset: text(DLQ_HEADERS.originalOffset),
    originalTimestamp: text(DLQ_HEADERS.originalTimestamp),
    attempts:
      attempts !== undefined && /^\d{1,9}$/.test(attempts) && Number(attempts) > 0
        ? Number(attempts)
        : undefined,
    firstFailedAt: text(DLQ_HEADERS.firstFailedAt),
    notBefore: Number.isNaN(notBefore.getTime()) ? undefined : notBefore,
    valueReencoded: headers.has(DLQ_HEADERS.valueEncoding),
    history: headers.get(DLQ_HEADERS.history) ?? [],
  };
};

/**
 * Builds the dead letter for a record that cannot be processed: the original
 * key, value and headers, plus the `x-dlq-*` contract headers. A record that
 * already went through the DLQ keeps its attempt count, first failure time and
 * origin (republishDlq counts attempts up; this only records the new failure).
 *
 * @example
 * deadLetter(record, new PoisonRecordError('NOT_JSON', 'value is not JSON'), { topic: 'orders.dlq', now: new Date() })
 */
export const deadLetter = (
  record: DecodedRecord,
  error: { readonly code: ErrorCode; readonly message: string },
  options: {
    topic: string;
    now: Date;
    source?: DeadLetterSource;
    backoff?: { baseMs: number; maxMs: number };
  },
): OutboundMessage => {
  const at = options.now.toISOString();
  const headers = toOutboundHeaders(record.headers);
  const previous = readDeadLetterHeaders(record.headers);
  const attempts = previous.attempts ?? 1;
  // a record holding only part of the contract (written by hand, truncated) still
  // gets a complete set: never an undefined header value
  const origin = previous.originalTopic === undefined ? undefined : previous;
  const message = safeMessage(error.message, DLQ_MESSAGE_MAX);

  headers[DLQ_HEADERS.originalTopic] = origin?.originalTopic ?? record.topic;
  headers[DLQ_HEADERS.originalPartition] = origin?.originalPartition ?? String(record.partition);
  headers[DLQ_HEADERS.originalOffset] = origin?.originalOffset ?? String(record.offset);
  headers[DLQ_HEADERS.originalTimestamp] =
    origin?.originalTimestamp ?? new Date(record.timestamp).toISOString();
  headers[DLQ_HEADERS.errorCode] = error.code;
  headers[DLQ_HEADERS.errorMessage] = message;
  headers[DLQ_HEADERS.attempts] = String(attempts);
  headers[DLQ_HEADERS.firstFailedAt] = previous.firstFailedAt ?? at;
  headers[DLQ_HEADERS.failedAt] = at;
  headers[DLQ_HEADERS.source] = options.source ?? 'handler';
  // one entry per failure, oldest first: the record's whole story travels with it
  headers[DLQ_HEADERS.history] = [
    ...previous.history,
    Buffer.from(
      JSON.stringify({
        attempt: attempts,
        code: error.code,
        failedAt: at,
        source: options.source ?? 'handler',
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
      }),
    ),
  ];
  // republishDlq waits until then: exponential in the attempt number, capped
  const backoff = options.backoff ?? { baseMs: 1_000, maxMs: 300_000 };
  const delay = Math.min(backoff.maxMs, backoff.baseMs * 2 ** (attempts - 1));
  headers[DLQ_HEADERS.notBefore] = new Date(options.now.getTime() + delay).toISOString();

  let value: Buffer | null = record.value;
  if (record.decodeError?.code === 'INVALID_BASE64') {
    // the bytes could not be decoded: keep exactly what the event carried
    value = record.rawValue === null ? null : Buffer.from(record.rawValue, 'utf8');
    headers[DLQ_HEADERS.valueEncoding] = 'event-raw-string';
  }
  return { topic: options.topic, key: record.key, value, headers };
};
