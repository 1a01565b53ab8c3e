/**
 * The few OpenTelemetry semantic-convention names the pipeline's spans use, pinned to
 * `@opentelemetry/semantic-conventions` 1.45.0 (messaging attributes live in its
 * `incubating` entry point). Copied rather than imported: the incubating entry is a
 * 770 KB module, and a test (`test/unit/telemetry/semconv.test.ts`) fails if any name
 * here drifts from the pinned package.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_DESTINATION_PARTITION_ID = 'messaging.destination.partition.id';
export const ATTR_MESSAGING_CONSUMER_GROUP_NAME = 'messaging.consumer.group.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
export const ATTR_MESSAGING_KAFKA_OFFSET = 'messaging.kafka.offset';
export const ATTR_MESSAGING_KAFKA_MESSAGE_KEY = 'messaging.kafka.message.key';
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_SERVICE_NAME = 'service.name';
export const ATTR_CLOUD_PROVIDER = 'cloud.provider';
export const ATTR_CLOUD_PLATFORM = 'cloud.platform';
export const ATTR_CLOUD_REGION = 'cloud.region';
export const ATTR_FAAS_NAME = 'faas.name';
export const ATTR_FAAS_VERSION = 'faas.version';

export const MESSAGING_SYSTEM_VALUE_KAFKA = 'kafka';
export const MESSAGING_OPERATION_TYPE_VALUE_PROCESS = 'process';
export const MESSAGING_OPERATION_TYPE_VALUE_SEND = 'send';
export const CLOUD_PROVIDER_VALUE_AWS = 'aws';
export const CLOUD_PLATFORM_VALUE_AWS_LAMBDA = 'aws_lambda';

/**
 * Attributes of this product (no convention covers them); namespaced so they never
 * collide with a registered one.
 */
export const ATTR_PIPELINE_FIRST_OFFSET = 'order_pipeline.kafka.offset.first';
export const ATTR_PIPELINE_LAST_OFFSET = 'order_pipeline.kafka.offset.last';
export const ATTR_PIPELINE_RECORDS_OK = 'order_pipeline.records.ok';
export const ATTR_PIPELINE_RECORDS_DEAD_LETTERED = 'order_pipeline.records.dead_lettered';
export const ATTR_PIPELINE_RECORDS_SKIPPED = 'order_pipeline.records.skipped';
export const ATTR_PIPELINE_FAILED_OFFSET = 'order_pipeline.kafka.offset.failed';
export const ATTR_PIPELINE_CHECKPOINT = 'order_pipeline.checkpoint';
/** The function's name in serverless.yml (the deployed name is the resource's `faas.name`). */
export const ATTR_PIPELINE_FUNCTION = 'order_pipeline.function';
