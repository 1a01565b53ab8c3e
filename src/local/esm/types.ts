import type { Context } from 'aws-lambda';
import type { KafkaEvent } from '../../lib/events/types.ts';
import type { EventRecordFormat } from '../../lib/formats/index.ts';
import type { SchemaRegistryStep } from './schemaRegistry.ts';

export type StartingPosition = 'TRIM_HORIZON' | 'LATEST' | 'AT_TIMESTAMP';

/**
 * One Kafka event-source mapping of `serverless.yml` (an `msk` or `kafka` event of a
 * function, with what `resources.extensions` adds to the generated
 * `AWS::Lambda::EventSourceMapping`), in the terms of the Lambda API.
 */
export interface LocalMapping {
  /** The function's key under `functions:` (`processOrders`). */
  functionName: string;
  /** The deployed name: `name:` of the function, else `<service>-<stage>-<key>`. */
  deployedFunctionName: string;
  /** `handler` as written: `src/handlers/processOrders.handler`. */
  handlerPath: string;
  /** Logical id of the `AWS::Lambda::EventSourceMapping` in the compiled template. */
  logicalId: string;
  /** `aws:kafka` for an `msk` event, `SelfManagedKafka` for a `kafka` event. */
  eventSource: KafkaEvent['eventSource'];
  /** The MSK cluster ARN when the config resolves to one (a `!Ref` does not). */
  eventSourceArn?: string;
  topic: string;
  batchSize: number;
  maximumBatchingWindowInSeconds: number;
  startingPosition: StartingPosition;
  /** Seconds since the epoch, for `AT_TIMESTAMP`. */
  startingPositionTimestamp?: number;
  consumerGroupId: string;
  enabled: boolean;
  /** `FunctionResponseTypes` holds `ReportBatchItemFailures`. */
  reportBatchItemFailures: boolean;
  /** As configured: -1 means infinite (Lambda caps it at 10 when an on-failure destination is set). */
  maximumRetryAttempts: number;
  /** -1 means infinite. Read, not emulated (see `index.ts`). */
  maximumRecordAgeInSeconds: number;
  bisectBatchOnFunctionError: boolean;
  /** Topic name of a `kafka://<topic>` on-failure destination. */
  onFailureDestination?: string;
  /**
   * `SchemaRegistryConfig` of a Glue registry (its ARN): the mapping runs the registry
   * step on each record (schemaRegistry.ts). Only the `VALUE` attribute is validated.
   */
  schemaRegistry?: { uri: string; eventRecordFormat: EventRecordFormat };
  /** Function timeout (function, else provider, else 6 s as Lambda). */
  timeoutSeconds: number;
  memorySize: number;
  region: string;
  service: string;
  stage: string;
  /** Provider and function `environment`, string values only. */
  environment: Record<string, string>;
  /** What the config asks for that the local mapping cannot honour. */
  warnings: string[];
}

export interface ReadMappingsOptions {
  /** Default: `provider.stage`, else `dev` (as `--stage`). */
  stage?: string;
  /** Default: `provider.region`, else `us-east-1` (as `--region`). */
  region?: string;
  /** `--param name=value` values; win over the file's `params:`. */
  params?: Record<string, string>;
  /** Source of `${env:...}`; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The handler as the local mapping calls it (the Lambda Node.js signature). */
export type LambdaHandler = (
  event: KafkaEvent,
  context: Context,
  callback?: (error?: unknown, result?: unknown) => void,
) => Promise<unknown> | unknown;

/** `[first, last]` offsets and count of one partition of an invocation. */
export interface PartitionSlice {
  /** `"<topic>-<partition>"`. */
  key: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  count: number;
}

export type InvocationOutcome = 'ok' | 'partial' | 'error' | 'timeout' | 'invalid-response';

/** What happened to one invocation (one line of the CLI's log). */
export interface InvocationReport {
  type: 'invocation';
  functionName: string;
  requestId: string;
  slices: PartitionSlice[];
  records: number;
  /** Bytes of the event as JSON. */
  payloadBytes: number;
  /** 1 for a first delivery of this exact batch, more for retries of it. */
  attempt: number;
  durationMs: number;
  outcome: InvocationOutcome;
  /** Lowest failed offset per partition key (`partial`). */
  failures?: Array<{ partition: string; offset: number }>;
  /** Error message (`error`, `timeout`, `invalid-response`). */
  error?: string;
  /** What the mapping does next with the records that were not handled. */
  next: 'done' | 'retry' | 'bisect' | 'on-failure';
}

export interface OnFailureReport {
  type: 'on-failure';
  functionName: string;
  /** Destination topic, or `undefined` when the records were discarded (no destination). */
  destination: string | undefined;
  condition: string;
  records: Array<{ partition: string; offset: number }>;
}

export interface WarningReport {
  type: 'warning';
  functionName: string;
  message: string;
}

export type LocalMappingEvent = InvocationReport | OnFailureReport | WarningReport;

/** Counters of a running mapping (a live view). */
export interface LocalMappingStats {
  /** Handler invocations, retries included. */
  invocations: number;
  /** Records delivered, redeliveries included. */
  recordsDelivered: number;
  /** Invocations that threw, timed out or answered with an identifier not in the event. */
  failedInvocations: number;
  /** Invocations that reported `batchItemFailures`. */
  partialFailures: number;
  /** Batches split in two after a function error. */
  bisections: number;
  /** Records written to the on-failure destination. */
  onFailureRecords: number;
  /** Records given up with no destination to write them to. */
  discardedRecords: number;
  /** Invocations running now. */
  inFlight: number;
  /** Most invocations that ran at once. */
  maxInFlight: number;
  /** Invocations per container, in the order the containers were given. */
  invocationsByContainer: number[];
}

export interface StartLocalMappingOptions {
  mapping: LocalMapping;
  /**
   * The function's warm containers: one handler, or several (each its own module
   * instance, so its own clients and caches). Lambda may give any batch of a partition
   * to any warm container, so each invocation goes to one picked at random among those
   * not busy (among all when every one is).
   */
  handler: LambdaHandler | readonly LambdaHandler[];
  /** Random source of the container choice (a seeded one makes a run repeatable). Default `Math.random`. */
  random?: () => number;
  /** `host:port` list or comma-separated string. */
  brokers: string[] | string;
  /** Default `local-esm-<function>`. */
  clientId?: string;
  /** Default `000000000000`. */
  accountId?: string;
  /** Exponential back-off between retries: `initialMs * 2^(attempt-1)`, at most `maxMs`. */
  retryBackoff?: { initialMs?: number; maxMs?: number };
  /** Most invocations at once across partitions (never more than one per partition). Default: unbounded. */
  maxConcurrency?: number;
  /** Default 6 MiB, Lambda's invocation payload limit. */
  maxPayloadBytes?: number;
  /** Default `mapping.timeoutSeconds`. */
  timeoutMs?: number;
  /** Called for every invocation, on-failure write and warning. */
  onEvent?: (event: LocalMappingEvent) => void;
  /** How long to wait for the consumer group to assign partitions. Default 30 s. */
  joinTimeoutMs?: number;
  /** The registry step's look-up; default: the Glue registry of `mapping.schemaRegistry`. */
  schemaRegistry?: SchemaRegistryStep;
}

export interface LocalMappingHandle {
  readonly stats: Readonly<LocalMappingStats>;
  /** Resolves when caught up: no lag, nothing buffered, nothing in flight or waiting to retry. */
  idle(options?: { timeoutMs?: number }): Promise<void>;
  /** Stops fetching, lets running invocations finish and commit, then leaves the group. */
  stop(): Promise<void>;
}
