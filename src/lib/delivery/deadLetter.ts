import { type ErrorCode, safeMessage } from '../errors.ts';
import type { DecodedRecord } from '../events/types.ts';
import { toOutboundHeaders } from '../kafka/headers.ts';
import type { OutboundMessage } from '../kafka/types.ts';

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
 * `x-dlq-error-code` of a record the event-source mapping gave up on (an AWS
 * on-failure envelope): no handler error names it, so it is not an {@link ErrorCode}.
 */
export const ON_FAILURE_ERROR_CODE = 'RETRIES_EXHAUSTED' satisfies ErrorCode;

/** Every value `x-dlq-error-code` can take. */
export type DeadLetterErrorCode = ErrorCode;

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
export const DLQ_MESSAGE_MAX = 256;

const lastText = (record: DecodedRecord, name: string): string | undefined => {
  const v = record.headers.get(name);
  return v && v.length > 0 ? v[v.length - 1]!.toString('utf8') : undefined;
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
  error: { readonly code: DeadLetterErrorCode; readonly message: string },
  options: {
    topic: string;
    now: Date;
    source?: DeadLetterSource;
    backoff?: { baseMs: number; maxMs: number };
  },
): OutboundMessage => {
  const at = options.now.toISOString();
  const headers = toOutboundHeaders(record.headers);
  const previousAttempts = Number(lastText(record, DLQ_HEADERS.attempts));
  const attempts =
    Number.isInteger(previousAttempts) && previousAttempts > 0 ? previousAttempts : 1;
  const redelivered = lastText(record, DLQ_HEADERS.originalTopic) !== undefined;
  const message = safeMessage(error.message, DLQ_MESSAGE_MAX);
  const history = record.headers.get(DLQ_HEADERS.history) ?? [];

  headers[DLQ_HEADERS.originalTopic] = redelivered
    ? lastText(record, DLQ_HEADERS.originalTopic)!
    : record.topic;
  // a record holding only part of the contract (written by hand, truncated) still
  // gets a complete set: never an undefined header value
  headers[DLQ_HEADERS.originalPartition] =
    (redelivered ? lastText(record, DLQ_HEADERS.originalPartition) : undefined) ??
    String(record.partition);
  headers[DLQ_HEADERS.originalOffset] =
    (redelivered ? lastText(record, DLQ_HEADERS.originalOffset) : undefined) ??
    String(record.offset);
  headers[DLQ_HEADERS.originalTimestamp] = redelivered
    ? (lastText(record, DLQ_HEADERS.originalTimestamp) ?? new Date(record.timestamp).toISOString())
    : new Date(record.timestamp).toISOString();
  headers[DLQ_HEADERS.errorCode] = error.code;
  headers[DLQ_HEADERS.errorMessage] = message;
  headers[DLQ_HEADERS.attempts] = String(attempts);
  headers[DLQ_HEADERS.firstFailedAt] = lastText(record, DLQ_HEADERS.firstFailedAt) ?? at;
  headers[DLQ_HEADERS.failedAt] = at;
  headers[DLQ_HEADERS.source] = options.source ?? 'handler';
  // one entry per failure, oldest first: the record's whole story travels with it
  headers[DLQ_HEADERS.history] = [
    ...history,
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
