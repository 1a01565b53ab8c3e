/**
 * What a handler's answer means for a Kafka batch, as Lambda reads it.
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 * https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
 * (the success and failure conditions of a partial batch response)
 */

export type BatchOutcome =
  | { kind: 'ok' }
  /** Lowest failed offset per partition key; partitions not named succeeded. */
  | { kind: 'partial'; lowest: Map<string, number> }
  /** The answer cannot be used: Lambda retries the whole batch. */
  | { kind: 'invalid'; reason: string };

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const offsetOf = (value: unknown): number | undefined => {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  // Lenient on purpose: what Lambda does with an offset sent as a decimal string is not
  // documented, and refusing it here would retry batches that may work on AWS.
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return Number(value);
  return undefined;
};

/**
 * Reads a handler's answer against the offsets of the event it was given.
 *
 * - without `ReportBatchItemFailures` any answer is a success;
 * - no answer, no `batchItemFailures`, `null` or `[]`: success;
 * - a failure per partition at its lowest reported offset: `partial`;
 * - `batchItemFailures` that is not a list, an item without an `itemIdentifier` object
 *   with `partition` and `offset`, or one naming a partition or offset not in the
 *   event: `invalid` (Lambda retries the whole batch).
 *
 * @param offsets the event's offsets per partition key
 * @example
 * readBatchOutcome(
 *   { batchItemFailures: [{ itemIdentifier: { partition: 'orders-0', offset: 7 } }] },
 *   new Map([['orders-0', new Set([5, 6, 7, 8])]]),
 *   true,
 * ) // { kind: 'partial', lowest: Map { 'orders-0' => 7 } }
 */
export const readBatchOutcome = (
  response: unknown,
  offsets: ReadonlyMap<string, ReadonlySet<number>>,
  reportBatchItemFailures: boolean,
): BatchOutcome => {
  if (!reportBatchItemFailures || !isObject(response)) return { kind: 'ok' };
  const failures = response.batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'ok' };
  if (!Array.isArray(failures)) {
    return { kind: 'invalid', reason: 'batchItemFailures is not a list' };
  }
  const lowest = new Map<string, number>();
  for (const [i, item] of failures.entries()) {
    const identifier = isObject(item) ? item.itemIdentifier : undefined;
    if (!isObject(identifier)) {
      return { kind: 'invalid', reason: `batchItemFailures[${i}] has no itemIdentifier object` };
    }
    const partition = identifier.partition;
    const offset = offsetOf(identifier.offset);
    if (typeof partition !== 'string' || offset === undefined) {
      return {
        kind: 'invalid',
        reason: `batchItemFailures[${i}].itemIdentifier ${JSON.stringify(identifier).slice(0, 200)} is not {partition: "<topic>-<partition>", offset: <number>}`,
      };
    }
    if (!offsets.get(partition)?.has(offset)) {
      return {
        kind: 'invalid',
        reason: `batchItemFailures[${i}] names ${partition}@${offset}, which is not in the event`,
      };
    }
    const seen = lowest.get(partition);
    if (seen === undefined || offset < seen) lowest.set(partition, offset);
  }
  return lowest.size === 0 ? { kind: 'ok' } : { kind: 'partial', lowest };
};
