/**
 * Types for Kafka events delivered by Lambda event-source mappings.
 * `@types/aws-lambda` types the MSK event but has no self-managed variant and
 * no Kafka batch-response type, so they live here.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */

/** A header as Lambda delivers it: one key, its value as an array of byte numbers. */
export type KafkaEventHeader = Record<string, number[]>;

export interface SchemaMetadata {
  dataFormat: string;
  schemaId: string;
}

/** One record as it appears in the event (key and value base64, may be absent/null). */
export interface KafkaEventRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  key?: string | null;
  value: string | null;
  headers: KafkaEventHeader[];
  keySchemaMetadata?: SchemaMetadata;
  valueSchemaMetadata?: SchemaMetadata;
}

/** Records keyed `"<topic>-<partition>"`. Topic names may contain `-` and `.`. */
export type KafkaEventRecords = Record<string, KafkaEventRecord[]>;

export interface MSKEvent {
  eventSource: 'aws:kafka';
  eventSourceArn: string;
  bootstrapServers: string;
  records: KafkaEventRecords;
}

export interface SelfManagedKafkaEvent {
  eventSource: 'SelfManagedKafka';
  bootstrapServers: string;
  records: KafkaEventRecords;
}

export type KafkaEvent = MSKEvent | SelfManagedKafkaEvent;

/** `{partition: "<topic>-<partition>", offset}`: an object, not a string. */
export interface KafkaItemIdentifier {
  partition: string;
  offset: number;
}

export interface KafkaBatchItemFailure {
  itemIdentifier: KafkaItemIdentifier;
}

/** Partial batch response for Kafka mappings with `ReportBatchItemFailures`. */
export interface KafkaBatchResponse {
  batchItemFailures: KafkaBatchItemFailure[];
}

/** Header map: repeated header names keep every value, in order. */
export type HeaderMap = Map<string, Buffer[]>;

/**
 * A record decoded for processing. Decoding never throws: a record whose key,
 * value or headers cannot be decoded carries `decodeError` (a poison code) and
 * as much of its raw form as exists, so it can still be dead-lettered.
 */
export interface DecodedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: HeaderMap;
  keySchemaMetadata?: SchemaMetadata;
  valueSchemaMetadata?: SchemaMetadata;
  /** Set when key/value/headers could not be decoded. */
  decodeError?: { code: 'INVALID_BASE64' | 'RECORD_TOO_LARGE'; message: string };
  /** Raw base64 value as received, kept so a dead letter never loses the input. */
  rawValue: string | null;
}

/** All records of one topic-partition of a batch, in offset order. */
export interface PartitionBatch {
  /** `"<topic>-<partition>"`, exactly as the event keyed it. */
  key: string;
  topic: string;
  partition: number;
  records: DecodedRecord[];
}
