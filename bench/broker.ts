/**
 * The broker the broker-bound figures (`produce`, `e2e`) use, and the topics each
 * run creates for itself (unique names, deleted at the end) so other runs and
 * tests on the same broker are not disturbed.
 */

import { readStackEnv } from '../scripts/stack.ts';
import { KafkaClient } from '../src/lib/kafka/client.ts';

/** `KAFKA_BROKERS`, else the running local stack's (`npm run stack:up`). */
export const benchBrokers = (): string[] => {
  const brokers = process.env.KAFKA_BROKERS ?? readStackEnv()?.KAFKA_BROKERS;
  if (!brokers)
    throw new Error('no broker: set KAFKA_BROKERS or start the local stack (npm run stack:up)');
  return brokers.split(',').map((b) => b.trim());
};

export const benchClient = (clientId: string): KafkaClient =>
  new KafkaClient({ clientId, brokers: benchBrokers(), requestTimeout: 30_000 });

export interface BenchTopic {
  topic: string;
  partitions: number;
  config?: Record<string, string>;
}

/** Creates the run's topics; returns a function that deletes them again. */
export const createBenchTopics = async (
  client: KafkaClient,
  topics: BenchTopic[],
): Promise<() => Promise<void>> => {
  await client.ensureTopics(topics);
  return async () => {
    const admin = client.raw.admin();
    try {
      await admin.connect();
      await admin.deleteTopics({ topics: topics.map((t) => t.topic), timeout: 10_000 });
    } catch {
      // best effort: a leftover topic with a unique name harms nobody
    } finally {
      await admin.disconnect().catch(() => {});
    }
  };
};
