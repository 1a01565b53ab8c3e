/**
 * The JSON envelope Lambda writes to a Kafka-topic on-failure destination
 * (`kafka://topic`): one message per failed record, keyed with the record's key,
 * holding failure metadata and the original event reduced to that record.
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 * ("Record format for a Kafka destination")
 */

import type { EventRecordInput } from './decode.ts';
import { decodeKafkaEvent, toEventRecord } from './decode.ts';
import type { DecodedRecord, KafkaEvent } from './types.ts';

/**
 * Conditions seen on AWS pages: the Kafka-destination page writes `RetriesExhausted`,
 * the SQS/SNS destination page `RetryAttemptsExhausted` (and `MaximumPayloadSizeExceeded`).
 * Parsing accepts any string and hands it on unchanged.
 */
const ON_FAILURE_CONDITIONS = [
  'RetriesExhausted',
  'RetryAttemptsExhausted',
  'MaximumPayloadSizeExceeded',
] as const;

export type OnFailureCondition = (typeof ON_FAILURE_CONDITIONS)[number];

export interface OnFailureEnvelope {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: string;
    approximateInvokeCount: number;
  };
  /** `null` when the function was never invoked (for example `MaximumPayloadSizeExceeded`). */
  responseContext: {
    statusCode: number;
    executedVersion: string;
    functionError?: string;
  } | null;
  version: string;
  /** When the envelope was written, ISO-8601. */
  timestamp: string;
  KafkaBatchInfo: {
    batchSize: number;
    /** Absent for self-managed Kafka. */
    eventSourceArn?: string;
    bootstrapServers: string;
    /** Bytes of `payload` as JSON. */
    payloadSize: number;
    recordInfo: {
      /** The record's offset, as a decimal string. */
      offset: string;
      /** The record's timestamp, ISO-8601. */
      timestamp: string;
    };
  };
  /** The original event holding only the failed record. */
  payload: KafkaEvent;
}

/** What a consumer of the destination topic needs from an envelope. */
export interface ParsedOnFailureEnvelope {
  condition: string;
  /** 0 when the envelope does not say. */
  approximateInvokeCount: number;
  /** When AWS gave up on the record, ISO-8601 ('' when the envelope does not say). */
  timestamp: string;
  /** The failed record, decoded by the same decoder as a live event. */
  original: DecodedRecord;
  requestId?: string;
  functionArn?: string;
  functionError?: string;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Cheap byte checks before JSON.parse: dead letters written by the handler are orders
// (JSON objects too), and most of them must be told apart without a parse.
const MARK_REQUEST_CONTEXT = Buffer.from('"requestContext"');
const MARK_BATCH_INFO = Buffer.from('"KafkaBatchInfo"');
const MARK_PAYLOAD = Buffer.from('"payload"');

const firstNonSpace = (value: Buffer): number => {
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!;
    if (b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return b;
  }
  return -1;
};

/** The envelope as an object when it has a condition and Kafka batch info or a payload. */
const parseEnvelopeObject = (value: Buffer | null): Record<string, unknown> | undefined => {
  if (value === null || value.length === 0) return undefined;
  if (firstNonSpace(value) !== 0x7b) return undefined;
  if (!value.includes(MARK_REQUEST_CONTEXT)) return undefined;
  if (!value.includes(MARK_BATCH_INFO) && !value.includes(MARK_PAYLOAD)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  const { requestContext, KafkaBatchInfo, payload } = parsed;
  if (!isObject(requestContext) || typeof requestContext.condition !== 'string') return undefined;
  if (!isObject(KafkaBatchInfo) && !isObject(payload)) return undefined;
  return parsed;
};

/**
 * Whether a message value is an AWS on-failure envelope (a JSON object with a
 * `requestContext.condition` string and a `KafkaBatchInfo` or `payload` object), as
 * opposed to a dead letter written by the handler. An envelope may still carry no
 * usable record (see {@link parseOnFailureEnvelope}). Never throws.
 *
 * @example
 * isOnFailureEnvelope(Buffer.from(JSON.stringify(envelope))) // true
 * isOnFailureEnvelope(Buffer.from('{"orderId":"o-1"}')) // false
 */
export const isOnFailureEnvelope = (value: Buffer | null): boolean =>
  parseEnvelopeObject(value) !== undefined;

/**
 * Reads an on-failure envelope and decodes the record it carries with
 * {@link decodeKafkaEvent}. When the payload holds several records (AWS writes one),
 * the first in event order is returned.
 *
 * @returns `undefined` when the value is not an envelope, or its payload is missing, not
 * a Kafka event, or holds no record (a dead letter nobody can republish).
 * @example
 * const parsed = parseOnFailureEnvelope(message.value);
 * if (parsed) republish(parsed.original, { attempts: parsed.approximateInvokeCount });
 */
export const parseOnFailureEnvelope = (value: Buffer): ParsedOnFailureEnvelope | undefined => {
  const envelope = parseEnvelopeObject(value);
  if (!envelope) return undefined;
  let original: DecodedRecord | undefined;
  try {
    for (const batch of decodeKafkaEvent(envelope.payload)) {
      original = batch.records[0];
      if (original) break;
    }
  } catch {
    return undefined;
  }
  if (!original) return undefined;

  const request = envelope.requestContext as Record<string, unknown>;
  const response = isObject(envelope.responseContext) ? envelope.responseContext : undefined;
  const count = request.approximateInvokeCount;
  const parsed: ParsedOnFailureEnvelope = {
    condition: request.condition as string,
    approximateInvokeCount: typeof count === 'number' && Number.isFinite(count) ? count : 0,
    timestamp: typeof envelope.timestamp === 'string' ? envelope.timestamp : '',
    original,
  };
  if (typeof request.requestId === 'string') parsed.requestId = request.requestId;
  if (typeof request.functionArn === 'string') parsed.functionArn = request.functionArn;
  if (typeof response?.functionError === 'string') parsed.functionError = response.functionError;
  return parsed;
};

export interface BuildOnFailureEnvelopeInput {
  /** The failed record, decoded or as it appeared in the event. */
  record: EventRecordInput | DecodedRecord;
  /** Default `aws:kafka`. */
  eventSource?: KafkaEvent['eventSource'];
  /** MSK cluster ARN; leave out for self-managed Kafka. */
  eventSourceArn?: string;
  bootstrapServers: string;
  requestId: string;
  functionArn: string;
  /** Invocations made for this record (the first one and the retries). */
  approximateInvokeCount: number;
  /** Default `RetriesExhausted`, what the Kafka-destination page shows. */
  condition?: OnFailureCondition | (string & {});
  /** Default `{statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled'}`. */
  responseContext?: OnFailureEnvelope['responseContext'];
  /** When the envelope is written; default now. */
  now?: Date;
}

/**
 * Builds the envelope AWS writes for one failed record, field for field, so the
 * local event-source mapping can emulate a `kafka://` on-failure destination. Write it
 * as `JSON.stringify(envelope)` with the record's key as message key (AWS keeps the key).
 *
 * @example
 * const envelope = buildOnFailureEnvelope({
 *   record, bootstrapServers: 'localhost:9092', requestId: randomUUID(),
 *   functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:processOrders',
 *   approximateInvokeCount: 3,
 * });
 * await producer.send({ topic: 'orders.dlq', messages: [{ key: record.key, value: JSON.stringify(envelope) }] });
 */
export const buildOnFailureEnvelope = (input: BuildOnFailureEnvelopeInput): OnFailureEnvelope => {
  const eventRecord = toEventRecord(input.record);
  const records = { [`${eventRecord.topic}-${eventRecord.partition}`]: [eventRecord] };
  const payload: KafkaEvent =
    input.eventSource === 'SelfManagedKafka'
      ? { eventSource: 'SelfManagedKafka', bootstrapServers: input.bootstrapServers, records }
      : {
          eventSource: 'aws:kafka',
          eventSourceArn: input.eventSourceArn ?? '',
          bootstrapServers: input.bootstrapServers,
          records,
        };
  const recordTime = new Date(eventRecord.timestamp);
  const batchInfo: OnFailureEnvelope['KafkaBatchInfo'] = {
    batchSize: 1,
    bootstrapServers: input.bootstrapServers,
    payloadSize: Buffer.byteLength(JSON.stringify(payload)),
    recordInfo: {
      offset: String(eventRecord.offset),
      timestamp: Number.isNaN(recordTime.getTime()) ? '' : recordTime.toISOString(),
    },
  };
  if (input.eventSourceArn !== undefined && input.eventSource !== 'SelfManagedKafka') {
    batchInfo.eventSourceArn = input.eventSourceArn;
  }
  return {
    requestContext: {
      requestId: input.requestId,
      functionArn: input.functionArn,
      condition: input.condition ?? 'RetriesExhausted',
      approximateInvokeCount: input.approximateInvokeCount,
    },
    responseContext:
      input.responseContext === undefined
        ? { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' }
        : input.responseContext,
    version: '1.0',
    timestamp: (input.now ?? new Date()).toISOString(),
    KafkaBatchInfo: batchInfo,
    payload,
  };
};
