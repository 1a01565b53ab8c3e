/**
 * The Kafka module's face: everything outside `src/lib/kafka` imports it from here.
 * Behind it kafkajs (the only place it is imported) can be swapped for another client;
 * in front of it the product speaks the client-neutral types of `types.ts`.
 */
import { KafkaClient } from './client.ts';
import {
  buildKafkaConfig,
  type ConnectionDeps,
  clearConnectionCaches,
  readConnectionSettings,
} from './connection.ts';

export type {
  KafkaClientConfig,
  ProducerHooks,
  TransactionalProducer,
  TransactionalProducerOptions,
} from './client.ts';
export { KafkaClient } from './client.ts';
export {
  type ConsumedMessage,
  type FetchedBatch,
  type PartitionBounds,
  TopicConsumer,
  type TopicConsumerListeners,
  type TopicConsumerOptions,
} from './consumer.ts';
export { beforeDeadline, type CallBounds, timeLeft } from './deadline.ts';
export { toOutboundHeaders } from './headers.ts';
export {
  type CommittedOffset,
  committedOffsetsWithMetadata,
  consumerGroupIds,
  partitionBounds,
  type ReadRange,
  readRanges,
  type StoredRecord,
} from './reader.ts';
export type {
  CommittedCheckpoint,
  OutboundHeaders,
  OutboundMessage,
  PlacedMessage,
  TransactionalCheckpoint,
  WrittenRecord,
} from './types.ts';

/** A getter of the container's Kafka client that can also let go of it. */
export interface KafkaGetter {
  (): Promise<KafkaClient>;
  /**
   * Closes the client and forgets it, with the cached brokers and secrets: the next call
   * builds a new one. For a refused login: a rotated SCRAM secret is read again.
   */
  renew(): Promise<void>;
}

/**
 * Reads the connection settings now (a misconfiguration fails the Lambda init with
 * one clear message) and returns a getter that builds the client on first use:
 * broker discovery and secrets are I/O, done once per container and cached.
 *
 * @example
 * const kafka = kafkaFromEnvironment();           // at init
 * const client = await kafka();                    // in the handler, cached after the first call
 * await kafka.renew();                             // after AUTHENTICATION_FAILED: a new login next time
 */
export const kafkaFromEnvironment = (
  env: NodeJS.ProcessEnv = process.env,
  deps?: ConnectionDeps,
): KafkaGetter => {
  const settings = readConnectionSettings(env);
  let client: Promise<KafkaClient> | undefined;
  const getter = () => {
    client ??= buildKafkaConfig(settings, deps)
      .then((config) => new KafkaClient(config))
      .catch((error: unknown) => {
        client = undefined; // a failed discovery or secret read is tried again next time
        throw error;
      });
    return client;
  };
  const renew = async () => {
    const old = client;
    client = undefined;
    clearConnectionCaches();
    await (await old?.catch(() => undefined))?.close().catch(() => undefined);
  };
  return Object.assign(getter, { renew });
};

/**
 * Under `serverless invoke local` (which sets `IS_LOCAL=true`) the process must be
 * free to exit once the handler answered, as a Lambda sandbox would be frozen: the
 * Kafka client's open connections would otherwise hold it until the broker drops
 * idle connections (10 minutes). Elsewhere the client stays open for warm invocations.
 */
export const closeAfterEachInvocationWhenLocal = <TArgs extends unknown[], TResult>(
  handler: (...args: TArgs) => Promise<TResult>,
  kafka: () => Promise<{ close(): Promise<void> }>,
  env: NodeJS.ProcessEnv = process.env,
): ((...args: TArgs) => Promise<TResult>) => {
  if (env.IS_LOCAL !== 'true') return handler;
  return async (...args) => {
    try {
      return await handler(...args);
    } finally {
      await (await kafka().catch(() => undefined))?.close();
    }
  };
};
