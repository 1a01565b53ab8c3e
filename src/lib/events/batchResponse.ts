/**
 * Partial batch response for Kafka event-source mappings with
 * `FunctionResponseTypes: [ReportBatchItemFailures]`.
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 */
import { PipelineError } from '../errors.ts';
import type { KafkaBatchResponse, KafkaItemIdentifier } from './types.ts';

/** A record the handler could not finish: its partition key as the event spelled it. */
export interface BatchItemFailure {
  /** `"<topic>-<partition>"`, exactly the event's key (`PartitionBatch.key`). */
  partitionKey: string;
  offset: number;
}

/**
 * The item identifier Lambda expects for a Kafka record: an object, not a string.
 *
 * @example
 * kafkaItemIdentifier('orders-3', 42) // { partition: 'orders-3', offset: 42 }
 */
export const kafkaItemIdentifier = (partitionKey: string, offset: number): KafkaItemIdentifier => {
  // An identifier naming nothing in the event makes Lambda retry the whole batch; a
  // malformed one is a bug here, so fail loudly instead of sending it.
  if (partitionKey === '' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new PipelineError(
      'INTERNAL',
      `invalid Kafka item identifier: partition ${JSON.stringify(partitionKey)}, offset ${offset}`,
    );
  }
  return { partition: partitionKey, offset };
};

/**
 * Builds the partial batch response: one entry per partition, at its lowest failed
 * offset. Lambda resumes a partition from that offset and delivers every later record
 * of it again, so more entries per partition would add nothing. Partitions appear in
 * the order of their first failure; no failures gives `{batchItemFailures: []}`.
 *
 * @throws PipelineError `INTERNAL` for an empty partition key or an offset that is not
 * a non-negative integer (the whole invocation then fails and Lambda retries the batch).
 * @example
 * buildBatchResponse([
 *   { partitionKey: 'orders-0', offset: 7 },
 *   { partitionKey: 'orders-0', offset: 5 },
 * ]) // { batchItemFailures: [{ itemIdentifier: { partition: 'orders-0', offset: 5 } }] }
 */
export const buildBatchResponse = (
  failures: ReadonlyArray<BatchItemFailure>,
): KafkaBatchResponse => {
  const lowest = new Map<string, number>();
  for (const { partitionKey, offset } of failures) {
    kafkaItemIdentifier(partitionKey, offset);
    const seen = lowest.get(partitionKey);
    if (seen === undefined || offset < seen) lowest.set(partitionKey, offset);
  }
  return {
    batchItemFailures: Array.from(lowest, ([partitionKey, offset]) => ({
      itemIdentifier: kafkaItemIdentifier(partitionKey, offset),
    })),
  };
};
