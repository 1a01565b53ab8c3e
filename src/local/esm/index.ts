/**
 * The local Kafka event-source mapping: reads the mappings `serverless.yml` deploys and
 * runs them against a real broker, invoking handlers in-process with MSK events.
 *
 * Emulated as Lambda documents it: the event shape; batch size, batching window and the
 * 6 MB payload cap; one invocation at a time per partition (partitions run in
 * parallel); the consumer group and its committed offsets (StartingPosition fixed when
 * the group is new); partial batch responses (resume at the lowest failed offset per
 * partition; an identifier not in the event fails the whole batch); retries with
 * exponential back-off up to MaximumRetryAttempts (-1 with a destination means 10);
 * BisectBatchOnFunctionError; the `kafka://` on-failure destination with AWS's JSON
 * envelope; the function timeout (as a failed invocation); a Glue `SchemaRegistryConfig`
 * (VALUE validated, `JSON` / `SOURCE`, metadata set, failures sent on with AWS's reason:
 * schemaRegistry.ts).
 *
 * Not emulated: MaximumRecordAgeInSeconds, FilterCriteria, SQS/SNS/S3 destinations
 * (failed records are discarded with a warning), Confluent-compatible schema registries
 * and KEY validation, several topics per mapping, authentication (brokers come from
 * `KAFKA_BROKERS`), poller scaling, and the isolation of a Lambda sandbox (a timed-out
 * handler keeps running in-process; its partitions stay held until it returns).
 */
export { type BatchOutcome, readBatchOutcome } from './batchOutcome.ts';
export { MAX_PAYLOAD_BYTES } from './eventPayload.ts';
export { type InvokeResult, invokeHandler } from './invokeHandler.ts';
export { createLambdaContext } from './lambdaContext.ts';
export { formatEvent } from './logLine.ts';
export { readMappings } from './readMappings.ts';
export {
  applySchemaRegistry,
  SCHEMA_REGISTRY_FAILURE_REASONS,
  type SchemaRegistryFailureReason,
  type SchemaRegistryStep,
} from './schemaRegistry.ts';
export { loadServerlessConfig, parseServerlessYaml, resolveVariables } from './serverlessConfig.ts';
export { startLocalMapping } from './startLocalMapping.ts';
export type * from './types.ts';
