/**
 * republishDlq: gives dead letters another chance. Each record of the DLQ is sent
 * back to the topic it came from, one attempt later, once its back-off has passed,
 * or to the parking lot when its attempts are spent or it cannot be understood.
 *
 * ## What it reads
 *
 * - **Dead letters of processOrders**: the original key, value and headers plus the
 *   `x-dlq-*` contract (README "Dead letters"). Republished unchanged except
 *   `x-dlq-attempts`, which goes up by one; the `x-dlq-*` history and W3C trace
 *   context travel with the record. `x-dlq-failed-at` stays the time of the last
 *   failure: a republish is not a failure.
 * - **AWS on-failure envelopes** (a `kafka://` on-failure destination): the record in
 *   the envelope's payload is republished with its own key, value and headers and a
 *   fresh `x-dlq-*` set (`x-dlq-source: esm-on-failure`, `x-dlq-error-code:
 *   RETRIES_EXHAUSTED`, failure time = the envelope's timestamp). An envelope is told
 *   apart by its value, before any header is looked at, so headers AWS might copy
 *   onto the envelope message cannot make it pass for a handler's dead letter.
 * - **Anything else** (no usable `x-dlq-*` headers and not an envelope) goes to the
 *   parking lot with `x-dlq-error-code: UNDECODABLE_DEAD_LETTER`: never dropped, and
 *   the batch goes on.
 *
 * ## Attempts
 *
 * A dead letter carries the number of times the record was processed and failed
 * (1 after the first failure). While it is below `config.dlqMaxAttempts` the record
 * is republished with attempts + 1; at the maximum it is parked with every header.
 * With the default maximum 3: orders → dlq (1) → orders (2) → dlq (2) → orders (3)
 * → dlq (3) → parking lot. Also parked at once: records whose bytes were never known
 * (`x-dlq-value-encoding` set), envelopes for `MaximumPayloadSizeExceeded` (Lambda
 * can never deliver them), and dead letters naming a topic this function does not
 * republish to (`republishTopics`, by default only the orders topic: the DLQ must
 * not become a way to write anywhere the function's role can).
 *
 * ## Back-off (`x-dlq-not-before`)
 *
 * A record whose `x-dlq-not-before` lies in the future is not republished before then.
 * The wait happens in-process (a timer, no polling) when it fits the invocation: at
 * most `maxWaitMs` (default 10 s), and ending `marginMs` (default 5 s) before
 * `context.getRemainingTimeInMillis()` runs out, leaving time to commit. A longer wait
 * stops the partition at that record: earlier records commit, the record is reported
 * in `batchItemFailures`, and Lambda delivers the partition again from there (the
 * local event-source mapping retries with back-off). Records of a partition are
 * handled in offset order, so a waiting record holds back every later record of its
 * partition, due or not; other partitions of the batch run on in parallel.
 *
 * Each stop counts as a retry of the DLQ's event-source mapping. As deployed (10
 * retries, on-failure destination `kafka://orders.parking-lot`), a record still
 * waiting after the last retry reaches the parking lot as an AWS on-failure envelope:
 * parked early, not lost. Back-offs longer than those retries last need
 * `MaximumRetryAttempts: -1`, no `MaximumRecordAgeInSeconds` and no on-failure
 * destination (with one, AWS caps retries at 10).
 *
 * ## Delivery
 *
 * All of it runs through {@link processBatch}: one transaction per DLQ partition
 * holding the republished records, the parked ones and the checkpoint, so a DLQ batch
 * delivered again republishes nothing twice. A record the decoder could not read
 * (bad base64, too large) is dead-lettered by `processBatch` into the parking lot.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Context } from 'aws-lambda';
import { functionPrefix, type PipelineConfig } from '../config.ts';
import { RetriableError } from '../errors.ts';
import { decodeKafkaEvent } from '../events/decode.ts';
import type { DecodedRecord, KafkaBatchResponse } from '../events/types.ts';
import { beforeDeadline, type CommittedCheckpoint } from '../kafka/index.ts';
import { decodeCheckpoint, type OffsetStatus, offsetStatus } from './checkpoint.ts';
import type { DeadLetterSource } from './deadLetter.ts';
import {
  type CheckpointCache,
  type DeliveryKafka,
  type DeliveryTelemetry,
  invocationDeadline,
  type PartitionResult,
  type ProcessedRecord,
  processBatch,
  type RecordOutcome,
} from './processBatch.ts';
import {
  type BackoffLimits,
  backoffStep,
  type ParkReason,
  type RecordPosition,
  type RepublishDecision,
  republishDecision,
} from './republishDecision.ts';

/**
 * What republishDlq says about a record it handled (the `detail` of its `ok` outcome,
 * reported once its transaction committed): republished, or parked and why. A record
 * the decoder could not read is a `poison` outcome instead, parked by `processBatch`.
 */
export type RepublishOutcomeDetail =
  | {
      action: 'republish';
      attempts: number;
      topic: string;
      source: DeadLetterSource;
      /** For an on-failure envelope: what processOrders' checkpoint said of the record. */
      checkpoint?: OffsetStatus;
    }
  | { action: 'park'; reason: ParkReason; attempts: number }
  /** An on-failure envelope of a record whose result had committed: nothing to do. */
  | { action: 'drop'; reason: 'ALREADY_PROCESSED'; attempts: number; gaveUpOn: RecordPosition };

/** The outcome detail of a republish or park decision (with what the checkpoint said, for an envelope). */
const outcomeDetail = (
  decision: Exclude<RepublishDecision, { action: 'wait' }>,
  checkpoint?: OffsetStatus,
): RepublishOutcomeDetail =>
  decision.action === 'republish'
    ? {
        action: 'republish',
        attempts: decision.attempts,
        topic: decision.message.topic,
        source: decision.source,
        ...(checkpoint === undefined ? {} : { checkpoint }),
      }
    : { action: 'park', reason: decision.reason, attempts: decision.attempts };

export interface RepublishDlqDeps {
  config: PipelineConfig;
  /** The function's name in serverless.yml; part of transactional ids. */
  functionName?: string;
  /**
   * The function whose mapping writes on-failure envelopes to the DLQ (serverless.yml's
   * name): its checkpoints tell a record it processed from one its mapping skipped.
   */
  processingFunctionName?: string;
  kafka: () => Promise<DeliveryKafka>;
  /** Topics dead letters may go back to. Default: the orders topic. */
  republishTopics?: readonly string[];
  backoffLimits?: BackoffLimits;
  now?: () => Date;
  /** Test seam: how the handler waits. Default a timer. */
  sleep?: (ms: number) => Promise<void>;
  /** Every decision as it is made (before its partition's transaction commits). */
  onDecision?: (record: DecodedRecord, decision: RepublishDecision) => void;
  /** Traces: a CONSUMER span per DLQ partition, its PRODUCER child's context on every write. */
  telemetry?: DeliveryTelemetry;
  /**
   * Every record's outcome; `ok` and `poison` only once committed. An `ok` outcome's
   * `detail` says republished or parked: count those from it, not from `onDecision`.
   */
  onOutcome?: (outcome: RecordOutcome<RepublishOutcomeDetail>) => void;
  onBatch?: (summary: { partitions: PartitionResult[]; response: KafkaBatchResponse }) => void;
  afterCommit?: (result: PartitionResult) => void | Promise<void>;
}

/**
 * Builds the republishDlq Lambda handler for the DLQ's event-source mapping.
 * Configuration is read once by the caller; the Kafka client is created on first use
 * and kept for warm invocations. See the module comment for the rules and the back-off.
 *
 * @example
 * export const handler = createRepublishDlqHandler({ config: readPipelineConfig(), kafka: () => client });
 */
export const createRepublishDlqHandler = (deps: RepublishDlqDeps) => {
  const prefix = functionPrefix(deps.config, deps.functionName ?? 'republishDlq');
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => sleepFor(ms));
  const { topics } = deps.config;
  const decisionOptions = {
    maxAttempts: deps.config.dlqMaxAttempts,
    parkingLotTopic: topics.parkingLot,
    republishTopics: new Set(deps.republishTopics ?? [topics.orders]),
    backoff: { baseMs: deps.config.dlqBackoffBaseMs, maxMs: deps.config.dlqBackoffMaxMs },
  };

  const processedCheckpoints = `${functionPrefix(deps.config, deps.processingFunctionName ?? 'processOrders')}.checkpoints`;
  const checkpointCache: CheckpointCache = new WeakMap();

  return async (event: unknown, context?: Partial<Context>): Promise<KafkaBatchResponse> => {
    const remaining = context?.getRemainingTimeInMillis?.();
    const lambdaDeadline = remaining === undefined ? undefined : Date.now() + remaining;
    const deadline = invocationDeadline(context, deps.config);
    const partitions = decodeKafkaEvent(event, { maxRecordBytes: deps.config.maxRecordBytes });
    // broker discovery and the SCRAM secret are read on a cold start: bounded too
    const kafka = await beforeDeadline(deps.kafka(), { deadline }, 'Kafka client set-up');

    // processOrders' checkpoints, read once per topic per invocation and only when an
    // envelope needs them: did the record the mapping gave up on commit a result?
    const checkpoints = new Map<string, Promise<Map<number, CommittedCheckpoint>>>();
    const statusOf = async (at: RecordPosition): Promise<OffsetStatus> => {
      let read = checkpoints.get(at.topic);
      if (!read) {
        read = kafka.committedCheckpoints(processedCheckpoints, at.topic, { deadline });
        checkpoints.set(at.topic, read);
        read.catch(() => checkpoints.delete(at.topic));
      }
      const committed = (await read).get(at.partition);
      if (!committed) return 'unprocessed';
      return offsetStatus(decodeCheckpoint(committed.nextOffset, committed.metadata), at.offset);
    };

    const processRecord = async (
      record: DecodedRecord,
    ): Promise<ProcessedRecord<RepublishOutcomeDetail>> => {
      let decision = republishDecision(record, { ...decisionOptions, now: now() });
      if (decision.action === 'wait') {
        const remainingNow = lambdaDeadline === undefined ? undefined : lambdaDeadline - Date.now();
        const step = backoffStep(decision.waitMs, remainingNow, deps.backoffLimits);
        if (step.action === 'sleep') {
          await sleep(step.ms);
          decision = republishDecision(record, { ...decisionOptions, now: now() });
        }
      }
      deps.onDecision?.(record, decision);
      if (decision.action === 'wait') {
        throw new RetriableError(
          'BACKOFF_PENDING',
          `back-off: not before ${decision.notBefore.toISOString()} (${decision.waitMs} ms more)`,
        );
      }
      if (decision.action === 'republish' && decision.gaveUpOn) {
        const status = await statusOf(decision.gaveUpOn);
        // its result committed before the invocation failed: a copy would be a second one
        if (status === 'processed')
          return {
            messages: [],
            detail: {
              action: 'drop',
              reason: 'ALREADY_PROCESSED',
              attempts: decision.attempts - 1,
              gaveUpOn: decision.gaveUpOn,
            },
          };
        return { messages: [decision.message], detail: outcomeDetail(decision, status) };
      }
      return { messages: [decision.message], detail: outcomeDetail(decision) };
    };

    const { response, partitions: results } = await processBatch(partitions, {
      kafka,
      transactionalIdPrefix: prefix,
      checkpointGroup: `${prefix}.checkpoints`,
      checkpointTopic: topics.checkpoints,
      // what the decoder cannot read cannot be republished either
      deadLetterTopic: topics.parkingLot,
      now,
      deadline,
      checkpointCache,
      processRecord,
      telemetry: deps.telemetry,
      onOutcome: deps.onOutcome,
      afterCommit: deps.afterCommit,
    });
    deps.onBatch?.({ partitions: results, response });
    return response;
  };
};
