/**
 * Kafka events as Lambda delivers them: decoding (MSK and self-managed), the partial
 * batch response, and the envelope of a Kafka-topic on-failure destination.
 */

export type { BatchItemFailure } from './batchResponse.ts';
export { buildBatchResponse, kafkaItemIdentifier } from './batchResponse.ts';
export type {
  BuildKafkaEventInput,
  DecodeIssue,
  DecodeOptions,
  EventRecordInput,
  HeaderInput,
  HeaderInputValue,
  PartitionHint,
} from './decode.ts';
export {
  buildKafkaEvent,
  decodeHeaders,
  decodeKafkaEvent,
  decodeKafkaRecord,
  encodeHeaders,
  parsePartitionKey,
  toEventHeaders,
  toEventRecord,
  toHeaderMap,
} from './decode.ts';
export { lastHeaderText } from './headers.ts';
export type {
  BuildOnFailureEnvelopeInput,
  OnFailureCondition,
  OnFailureEnvelope,
  ParsedOnFailureEnvelope,
} from './onFailureEnvelope.ts';
export {
  buildOnFailureEnvelope,
  isOnFailureEnvelope,
  ON_FAILURE_CONDITIONS,
  parseOnFailureEnvelope,
} from './onFailureEnvelope.ts';
export type * from './types.ts';
