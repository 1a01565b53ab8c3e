/**
 * A local mapping's settings, resolved once from its options and its serverless.yml
 * mapping: the event's envelope, the retry policy, the batch limits. Pure.
 */
import { type RetryPolicy, retryPolicy } from './afterResponse.ts';
import type { BatchLimits } from './batches.ts';
import { type EventEnvelope, MAX_PAYLOAD_BYTES } from './eventPayload.ts';
import type { StartLocalMappingOptions } from './types.ts';

const LOCAL_CLUSTER_ARN = (region: string, account: string) =>
  `arn:aws:kafka:${region}:${account}:cluster/local/00000000-0000-0000-0000-000000000000-1`;

export interface MappingSettings {
  brokers: string[];
  clientId: string;
  accountId: string;
  functionArn: string;
  /** The event without its records. */
  envelope: EventEnvelope;
  policy: RetryPolicy;
  limits: BatchLimits;
  /** Most invocations at once across partitions. */
  maxConcurrency: number;
  /** The function timeout. */
  timeoutMs: number;
  /** Fetching a partition pauses at this many records or bytes buffered. */
  highWater: { records: number; bytes: number };
}

/**
 * The settings of a mapping started with `options`.
 *
 * @example
 * mappingSettings({ mapping, handler, brokers: '127.0.0.1:9092' }).envelope
 * // { eventSource: 'aws:kafka', eventSourceArn: 'arn:aws:kafka:…:cluster/local/…', bootstrapServers: '127.0.0.1:9092' }
 */
export const mappingSettings = (options: StartLocalMappingOptions): MappingSettings => {
  const { mapping } = options;
  const brokers = (
    typeof options.brokers === 'string' ? options.brokers.split(',') : options.brokers
  )
    .map((b) => b.trim())
    .filter(Boolean);
  const accountId = options.accountId ?? '000000000000';
  const maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
  return {
    brokers,
    clientId: options.clientId ?? `local-esm-${mapping.functionName}`,
    accountId,
    functionArn: `arn:aws:lambda:${mapping.region}:${accountId}:function:${mapping.deployedFunctionName}`,
    envelope:
      mapping.eventSource === 'SelfManagedKafka'
        ? { eventSource: 'SelfManagedKafka', bootstrapServers: brokers.join(',') }
        : {
            eventSource: 'aws:kafka',
            eventSourceArn: mapping.eventSourceArn ?? LOCAL_CLUSTER_ARN(mapping.region, accountId),
            bootstrapServers: brokers.join(','),
          },
    policy: retryPolicy(mapping, {
      initialMs: options.retryBackoff?.initialMs ?? 500,
      maxMs: options.retryBackoff?.maxMs ?? 10_000,
    }),
    limits: {
      batchSize: mapping.batchSize,
      maxPayloadBytes,
      windowMs: mapping.maximumBatchingWindowInSeconds * 1_000,
    },
    maxConcurrency: options.maxConcurrency ?? Number.POSITIVE_INFINITY,
    timeoutMs: options.timeoutMs ?? mapping.timeoutSeconds * 1_000,
    highWater: { records: Math.max(2 * mapping.batchSize, 500), bytes: 2 * maxPayloadBytes },
  };
};
