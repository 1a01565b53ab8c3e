/**
 * Where the mapping's fetching starts: each partition without a committed offset by
 * the mapping's StartingPosition (TRIM_HORIZON, LATEST or AT_TIMESTAMP).
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
import { ConfigurationError, safeMessage } from '../../lib/errors.ts';
import type { PartitionBounds, TopicConsumer } from '../../lib/kafka/index.ts';
import type { FetchStart } from './partitions.ts';
import type { LocalMapping } from './types.ts';

type Position = Pick<LocalMapping, 'startingPosition' | 'startingPositionTimestamp'>;
type Mapping = Position & Pick<LocalMapping, 'functionName' | 'topic'>;

/**
 * The starting offset of each partition in `missing`. Pure.
 *
 * @param byTime AT_TIMESTAMP only: the first offset at or after the timestamp (-1: none,
 *   then the partition starts at its end)
 * @example
 * startingOffsetsFor(new Set([0]), [{ partition: 0, low: 3, high: 9 }], { startingPosition: 'TRIM_HORIZON' })
 * // Map { 0 => 3 }
 */
export const startingOffsetsFor = (
  missing: ReadonlySet<number>,
  bounds: readonly PartitionBounds[],
  position: Position,
  byTime?: ReadonlyMap<number, number>,
): Map<number, number> => {
  const starts = new Map<number, number>();
  for (const { partition, low, high } of bounds) {
    if (!missing.has(partition)) continue;
    if (position.startingPosition === 'AT_TIMESTAMP') {
      const at = byTime?.get(partition) ?? -1;
      starts.set(partition, at < 0 ? high : at);
    } else starts.set(partition, position.startingPosition === 'TRIM_HORIZON' ? low : high);
  }
  return starts;
};

/**
 * Reads the group's commits and the topic's offsets, and returns where each partition
 * without a commit starts, fixed now (as a new mapping's position is fixed when it is
 * created).
 *
 * @example
 * const starts = await readStartingOffsets(consumer, mapping); // Map { 0 => 0, 1 => 0 }
 */
export const readStartingOffsets = async (
  consumer: TopicConsumer,
  position: Position,
): Promise<Map<number, number>> => {
  // a coordinator still loading (a fresh broker) must not kill the mapping
  const committed = await consumer.committedOffsets({ waitForCoordinator: true });
  const missing = new Set([...committed].filter(([, offset]) => offset < 0).map(([p]) => p));
  if (missing.size === 0) return new Map();
  const bounds = await consumer.bounds();
  const byTime =
    position.startingPosition === 'AT_TIMESTAMP'
      ? await consumer.offsetsAt((position.startingPositionTimestamp ?? 0) * 1_000)
      : undefined;
  return startingOffsetsFor(missing, bounds, position, byTime);
};

/**
 * Where the mapping's fetching starts: checks that the topic can be read, reads its
 * timestamp type, and fixes the starting offsets now (as a new mapping's position is
 * fixed when it is created); they are sought and committed once the group assigns the
 * partitions, which afterwards resume from their commits.
 *
 * @throws ConfigurationError when the topic cannot be read
 * @example
 * await partitions.run(await readFetchStart(consumer, mapping));
 */
export const readFetchStart = async (
  consumer: TopicConsumer,
  mapping: Mapping,
): Promise<FetchStart> => {
  try {
    await consumer.checkTopic();
  } catch (error) {
    throw new ConfigurationError(
      `${mapping.functionName}: topic ${mapping.topic} cannot be read (${safeMessage(error, 300)})`,
      { cause: error },
    );
  }
  const timestampType = await consumer.timestampType();
  return {
    fromBeginning: mapping.startingPosition === 'TRIM_HORIZON',
    startingOffsets: await readStartingOffsets(consumer, mapping),
    timestampType,
  };
};
