/**
 * republishDlq's decisions, pure: what happens to one DLQ record (republish it one
 * attempt later, park it, or wait for its back-off) and whether a wait fits the
 * invocation. No I/O; the clock comes in. The rules are in `republishDlq.ts`'s module
 * comment; the handler there runs them inside the delivery loop.
 */
import { PoisonRecordError } from '../errors.ts';
import { parseOnFailureEnvelope } from '../events/onFailureEnvelope.ts';
import type { DecodedRecord, HeaderMap } from '../events/types.ts';
import { reframeSourcePayload } from '../formats/encode.ts';
import { type OutboundMessage, toOutboundHeaders } from '../kafka/index.ts';
import {
  type DeadLetterHeaders,
  type DeadLetterSource,
  DLQ_HEADERS,
  deadLetter,
  ON_FAILURE_ERROR_CODE,
  readDeadLetterHeaders,
} from './deadLetter.ts';

/** Why a record went to the parking lot. */
const PARK_REASONS = [
  /** `x-dlq-attempts` reached the configured maximum. */
  'ATTEMPTS_EXHAUSTED',
  /** Neither a dead letter with the `x-dlq-*` contract nor an AWS on-failure envelope. */
  'UNDECODABLE',
  /** Understood, but republishing cannot help or is not allowed. */
  'NOT_REPUBLISHABLE',
] as const;

export type ParkReason = (typeof PARK_REASONS)[number];

/** Where a record sat in its topic. */
export interface RecordPosition {
  topic: string;
  partition: number;
  offset: number;
}

/** What to do with one DLQ record. */
export type RepublishDecision =
  | {
      action: 'republish';
      /** The attempt number the republished record carries. */
      attempts: number;
      source: DeadLetterSource;
      message: OutboundMessage;
      /**
       * For an AWS on-failure envelope: the record the mapping gave up on. Whether its
       * result already committed is for the caller to find out (its checkpoint).
       */
      gaveUpOn?: RecordPosition;
    }
  | { action: 'park'; reason: ParkReason; attempts: number; message: OutboundMessage }
  | {
      action: 'wait';
      /** From `x-dlq-not-before`. */
      notBefore: Date;
      waitMs: number;
      attempts: number;
    };

export interface RepublishOptions {
  now: Date;
  /** `config.dlqMaxAttempts`: a dead letter with this many attempts is parked. */
  maxAttempts: number;
  parkingLotTopic: string;
  /** Topics a dead letter may be sent back to; any other is parked. */
  republishTopics: ReadonlySet<string>;
  /** Back-off written into `x-dlq-not-before` of the dead letter built from an envelope. */
  backoff?: { baseMs: number; maxMs: number };
}

const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

/**
 * A DLQ record read as a dead letter: its key, value and every header it carries, and
 * its `x-dlq-*` contract parsed once. Decisions read `dlq`; headers are written only
 * when the decision's message is built.
 */
interface Letter {
  key: Buffer | null;
  value: Buffer | null;
  headers: HeaderMap;
  dlq: DeadLetterHeaders;
  source: DeadLetterSource;
  /** For an on-failure envelope: the record the mapping gave up on. */
  gaveUpOn?: RecordPosition;
}

const toBuffer = (v: Buffer | string) => (typeof v === 'string' ? Buffer.from(v) : v);

/** A dead letter built for an envelope's record, as the same kind of value as a DLQ record's. */
const letterOf = (message: OutboundMessage): Pick<Letter, 'key' | 'value' | 'headers' | 'dlq'> => {
  const headers: HeaderMap = new Map();
  for (const [name, value] of Object.entries(message.headers ?? {}))
    headers.set(name, (Array.isArray(value) ? value : [value]).map(toBuffer));
  const bytes = (v: Buffer | string | null) => (v === null ? null : toBuffer(v));
  const { key, value } = message;
  return { key: bytes(key), value: bytes(value), headers, dlq: readDeadLetterHeaders(headers) };
};

const failureTime = (envelopeTimestamp: string, record: DecodedRecord, now: Date): Date => {
  const at = new Date(envelopeTimestamp);
  if (envelopeTimestamp !== '' && !Number.isNaN(at.getTime())) return at;
  return record.timestamp >= 0 ? new Date(record.timestamp) : now;
};

const park = (
  letter: Pick<Letter, 'key' | 'value' | 'headers' | 'dlq'>,
  reason: ParkReason,
  options: RepublishOptions,
): RepublishDecision => ({
  action: 'park',
  reason,
  attempts: letter.dlq.attempts ?? 1,
  message: {
    topic: options.parkingLotTopic,
    key: letter.key,
    value: letter.value,
    headers: toOutboundHeaders(letter.headers),
  },
});

/** Conditions of an envelope for a record the function was invoked with, and failed. */
const RETRIES_RAN_OUT: ReadonlySet<string> = new Set([
  'RetriesExhausted',
  'RetryAttemptsExhausted',
]);

/**
 * The record as its producer wrote it. A registry record in `SOURCE` form lost its Glue
 * framing on the way to the function (Lambda removes it); republished bare, the orders
 * mapping could no longer tell its schema and a valid order would end up `NOT_JSON`.
 * `JSON`-form values (a `{`) and Confluent ids are kept as they are.
 */
const asProduced = (record: DecodedRecord): DecodedRecord => {
  const metadata = record.valueSchemaMetadata;
  const value = record.value;
  if (metadata === undefined || value === null || value.length === 0 || value[0] === 0x7b)
    return record;
  if (metadata.dataFormat !== 'AVRO' && metadata.dataFormat !== 'PROTOBUF') return record;
  const framed = reframeSourcePayload(String(metadata.schemaId), value);
  return framed ? { ...record, value: framed } : record;
};

/**
 * Reads a DLQ record as a dead letter with the `x-dlq-*` contract: directly when
 * processOrders wrote it, rebuilt from the payload when it is an AWS on-failure
 * envelope. `undefined` when it is neither; a park decision when it is an envelope
 * whose record cannot be republished.
 */
const readLetter = (
  record: DecodedRecord,
  options: RepublishOptions,
): Letter | RepublishDecision | undefined => {
  const envelope = record.value === null ? undefined : parseOnFailureEnvelope(record.value);
  if (envelope) {
    const { original } = envelope;
    const tooLarge = envelope.condition === 'MaximumPayloadSizeExceeded';
    const code = tooLarge
      ? 'RECORD_TOO_LARGE'
      : (original.decodeError?.code ?? ON_FAILURE_ERROR_CODE);
    const invokes = envelope.approximateInvokeCount;
    const detail = [
      `${envelope.condition} after ${invokes} invocation${invokes === 1 ? '' : 's'}`,
      envelope.functionError && `(${envelope.functionError})`,
      original.decodeError && `; ${original.decodeError.message}`,
    ];
    const letter = letterOf(
      deadLetter(
        asProduced(original),
        { code, message: `AWS on-failure destination: ${detail.filter(Boolean).join(' ')}` },
        {
          topic: options.parkingLotTopic,
          now: failureTime(envelope.timestamp, record, options.now),
          source: 'esm-on-failure',
          backoff: options.backoff,
        },
      ),
    );
    // the record never reached the function, or its bytes were never known
    if (tooLarge || original.decodeError) return park(letter, 'NOT_REPUBLISHABLE', options);
    // Refused by the mapping's schema-registry step (SCHEMA_NOT_FOUND,
    // DESERIALIZATION_ERROR): the function never saw it, and processOrders' checkpoint
    // may lie past its offset without a gap for it, so "already processed" cannot be
    // asked. Parked with every header for an operator: never dropped.
    if (!RETRIES_RAN_OUT.has(envelope.condition)) return park(letter, 'NOT_REPUBLISHABLE', options);
    const { topic, partition, offset } = original;
    return { ...letter, source: 'esm-on-failure', gaveUpOn: { topic, partition, offset } };
  }
  const dlq = readDeadLetterHeaders(record.headers);
  const topic = dlq.originalTopic;
  if (topic === undefined || !TOPIC_NAME.test(topic) || dlq.attempts === undefined)
    return undefined;
  const { key, value, headers } = record;
  return { key, value, headers, dlq, source: 'handler' };
};

/**
 * Decides what happens to one DLQ record: republish it to its original topic with
 * `x-dlq-attempts` + 1, park it, or wait for its `x-dlq-not-before`. Pure: no I/O,
 * the clock comes in `options.now`.
 *
 * @example
 * const decision = republishDecision(record, {
 *   now: new Date(), maxAttempts: 3, parkingLotTopic: 'orders.parking-lot',
 *   republishTopics: new Set(['orders']),
 * });
 * if (decision.action !== 'wait') messages.push(decision.message);
 */
export const republishDecision = (
  record: DecodedRecord,
  options: RepublishOptions,
): RepublishDecision => {
  const letter = readLetter(record, options);
  if (letter === undefined) {
    const why = 'neither x-dlq-* headers nor an AWS on-failure envelope';
    const message = deadLetter(record, new PoisonRecordError('UNDECODABLE_DEAD_LETTER', why), {
      topic: options.parkingLotTopic,
      now: options.now,
    });
    // the attempts deadLetter wrote: the record's own, or 1
    const attempts = readDeadLetterHeaders(record.headers).attempts ?? 1;
    return { action: 'park', reason: 'UNDECODABLE', attempts, message };
  }
  if ('action' in letter) return letter;

  const { dlq, source, gaveUpOn } = letter;
  const attempts = dlq.attempts ?? 1;
  const topic = dlq.originalTopic!;
  if (attempts >= options.maxAttempts) return park(letter, 'ATTEMPTS_EXHAUSTED', options);
  // a re-encoded value is the event's raw text, not the bytes the producer wrote
  if (dlq.valueReencoded || !options.republishTopics.has(topic))
    return park(letter, 'NOT_REPUBLISHABLE', options);

  // an unreadable not-before holds nothing back: a bad header must not stall a partition
  const waitMs = dlq.notBefore ? dlq.notBefore.getTime() - options.now.getTime() : 0;
  if (dlq.notBefore && waitMs > 0)
    return { action: 'wait', notBefore: dlq.notBefore, waitMs, attempts };

  const headers = toOutboundHeaders(letter.headers);
  headers[DLQ_HEADERS.attempts] = String(attempts + 1);
  return {
    action: 'republish',
    attempts: attempts + 1,
    source,
    // no partition: the key decides, as it did for the producer; no timestamp: a
    // fresh one, or retention and MaximumRecordAgeInSeconds would see an old record
    message: { topic, key: letter.key, value: letter.value, headers },
    ...(gaveUpOn ? { gaveUpOn } : {}),
  };
};

/** How long an invocation may wait in-process for a record's back-off. */
export interface BackoffLimits {
  /** Longest single wait. Default 10 s. */
  maxWaitMs?: number;
  /** Time kept free before the invocation's deadline (to commit). Default 5 s. */
  marginMs?: number;
}

/**
 * Whether to wait `waitMs` in-process or stop the partition now. Pure.
 *
 * @param remainingMs the invocation's remaining time now; `undefined` when unknown
 *   (no Lambda context): only `maxWaitMs` bounds the wait.
 * @example
 * backoffStep(1_500, 60_000) // { action: 'sleep', ms: 1500 }
 * backoffStep(30_000, 60_000) // { action: 'stop' }: longer than maxWaitMs
 * backoffStep(1_500, 6_000) // { action: 'stop' }: would eat into the 5 s margin
 */
export const backoffStep = (
  waitMs: number,
  remainingMs: number | undefined,
  limits: BackoffLimits = {},
): { action: 'sleep'; ms: number } | { action: 'stop' } => {
  const budget = Math.min(
    limits.maxWaitMs ?? 10_000,
    remainingMs === undefined ? Number.POSITIVE_INFINITY : remainingMs - (limits.marginMs ?? 5_000),
  );
  return waitMs <= budget ? { action: 'sleep', ms: Math.max(0, waitMs) } : { action: 'stop' };
};
