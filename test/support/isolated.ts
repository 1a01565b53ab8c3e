import { type PipelineConfig, readPipelineConfig } from '../../src/lib/config.ts';
import { DEAD_LETTER_TOPIC_CONFIG } from '../../src/lib/delivery/deadLetter.ts';
import type { KafkaClient } from '../../src/lib/kafka/client.ts';
import { uniqueName } from './stackEnv.ts';

/**
 * Pipeline settings no other test shares: topics and a service name (hence
 * transactional ids and checkpoint groups) under a fresh prefix.
 */
export const isolatedPipelineConfig = (
  prefix: string,
  env: Record<string, string> = {},
): PipelineConfig => {
  const id = uniqueName(prefix);
  return readPipelineConfig({
    SERVICE_NAME: id,
    STAGE: 'test',
    TOPIC_ORDERS: `${id}.orders`,
    TOPIC_PROCESSED: `${id}.processed`,
    TOPIC_DLQ: `${id}.dlq`,
    TOPIC_PARKING_LOT: `${id}.parking-lot`,
    TOPIC_CHECKPOINTS: `${id}.checkpoints`,
    ...env,
  });
};

/** Creates the pipeline's topics of `config` as the README asks (checkpoints compacted, dead letters larger). */
export const createPipelineTopics = async (
  client: KafkaClient,
  config: PipelineConfig,
  partitions: Partial<Record<keyof PipelineConfig['topics'], number>> & { all?: number } = {},
) => {
  const n = (name: keyof PipelineConfig['topics']) => partitions[name] ?? partitions.all ?? 3;
  await client.ensureTopics([
    { topic: config.topics.orders, partitions: n('orders') },
    { topic: config.topics.processed, partitions: n('processed') },
    { topic: config.topics.dlq, partitions: n('dlq'), config: DEAD_LETTER_TOPIC_CONFIG },
    {
      topic: config.topics.parkingLot,
      partitions: n('parkingLot'),
      config: DEAD_LETTER_TOPIC_CONFIG,
    },
    {
      topic: config.topics.checkpoints,
      partitions: n('checkpoints'),
      config: { 'cleanup.policy': 'compact' },
    },
  ]);
};
