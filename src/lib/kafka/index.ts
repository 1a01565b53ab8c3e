/**
 * Public face of the Kafka module: the client, its types, and the one way the
 * handlers get a client from their environment.
 */
import { KafkaClient, type KafkaClient as KafkaClientType } from './client.ts';
import { buildKafkaConfig, type ConnectionDeps, readConnectionSettings } from './connection.ts';

export type { KafkaClientConfig, PlacedMessage, TransactionalProducer } from './client.ts';
export { KafkaClient } from './client.ts';
export { buildKafkaConfig, readConnectionSettings, resolveBrokers } from './connection.ts';
export type {
  OutboundHeaders,
  OutboundMessage,
  TransactionalCheckpoint,
  WrittenRecord,
} from './types.ts';

/**
 * Reads the connection settings now (a misconfiguration fails the Lambda init with
 * one clear message) and returns a getter that builds the client on first use:
 * broker discovery and secrets are I/O, done once per container and cached.
 *
 * @example
 * const kafka = kafkaFromEnvironment();           // at init
 * const client = await kafka();                    // in the handler, cached after the first call
 */
export const kafkaFromEnvironment = (
  env: NodeJS.ProcessEnv = process.env,
  deps?: ConnectionDeps,
): (() => Promise<KafkaClientType>) => {
  const settings = readConnectionSettings(env);
  let client: Promise<KafkaClientType> | undefined;
  return () => {
    client ??= buildKafkaConfig(settings, deps)
      .then((config) => new KafkaClient(config))
      .catch((error: unknown) => {
        client = undefined; // a failed discovery or secret read is tried again next time
        throw error;
      });
    return client;
  };
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
