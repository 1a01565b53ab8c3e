import { type PipelineError, RetriableError, toPipelineError } from '../errors.ts';
import { buildBatchResponse } from '../events/batchResponse.ts';
import type { KafkaBatchResponse, PartitionBatch } from '../events/types.ts';
import type {
  CommittedCheckpoint,
  OutboundMessage,
  TransactionalCheckpoint,
} from '../kafka/index.ts';
import { type CallBounds, timeLeft } from '../kafka/index.ts';
import { withPropagation } from '../telemetry/propagation.ts';
import {
  advanceCheckpoint,
  type CheckpointState,
  decodeCheckpoint,
  encodeCheckpoint,
} from './checkpoint.ts';
import {
  COMMIT_RESERVE_MS,
  type PartitionPlan,
  type PlanRecords,
  planMessages,
  planPartition,
  type RecordOutcome,
  type RecordProcessor,
  recordList,
} from './planPartition.ts';

export type {
  PartitionPlan,
  PlanOptions,
  PlanRecords,
  ProcessedRecord,
  RecordOutcome,
  RecordProcessor,
} from './planPartition.ts';
export { COMMIT_RESERVE_MS, planMessages, planPartition, recordList } from './planPartition.ts';

/** What a partition writer must offer: the transactional producer cache of the Kafka module. */
export interface PartitionWriter {
  readonly usable: boolean;
  init(bounds?: CallBounds): Promise<void>;
  write(
    messages: OutboundMessage[],
    checkpoint?: TransactionalCheckpoint,
    bounds?: CallBounds,
  ): Promise<unknown>;
}

export interface DeliveryKafka {
  transactionalProducer(transactionalId: string): { producer: PartitionWriter; fresh: boolean };
  committedCheckpoints(
    groupId: string,
    topic: string,
    bounds?: CallBounds,
  ): Promise<Map<number, CommittedCheckpoint>>;
}

/**
 * A container's checkpoint cache: each partition's checkpoint, trusted only while the
 * producer that committed it is the one in use (a new producer reads it back). Owned by
 * the handler, so two handlers in one process are two containers.
 */
export type CheckpointCache = WeakMap<PartitionWriter, CheckpointState>;

/** Where a partition stopped: reading its checkpoint, at a record, at the deadline, or committing. */
export type StopStage = 'checkpoint' | 'record' | 'deadline' | 'commit';

export interface PartitionResult {
  key: string;
  topic: string;
  partition: number;
  ok: number;
  deadLettered: number;
  skipped: number;
  /** Offset reported in `batchItemFailures`, if the partition stopped. */
  failedAt?: number;
  error?: PipelineError;
  /** Where it stopped, with `failedAt`. */
  stage?: StopStage;
  /** Checkpoint after this batch (next offset to process). */
  checkpoint?: number;
  /**
   * Times the cached producer had been fenced by another container and was replaced
   * (re-init, checkpoint read again) within this invocation.
   */
  reinits: number;
}

/** A partition's trace: started before its records are processed, ended after its commit. */
export interface PartitionSpan {
  /**
   * Trace-context headers (W3C `traceparent`, `tracestate`) of the span that writes this
   * partition's transaction; written on every message, replacing carried ones. Empty when
   * tracing is off, so carried context passes through untouched.
   */
  readonly propagation: Readonly<Record<string, string>>;
  end(result: PartitionResult): void;
}

/** Telemetry seam: tracing hangs off the delivery loop instead of being woven through it. */
export interface DeliveryTelemetry {
  startPartition(batch: PartitionBatch): PartitionSpan;
}

export interface DeliveryOptions<TDetail = unknown> {
  kafka: DeliveryKafka;
  /** `<service>-<stage>-<fn>`; the transactional id is `<prefix>-<topic>-<partition>`. */
  transactionalIdPrefix: string;
  /** Consumer group whose committed offsets are the checkpoints (never the mapping's own group). */
  checkpointGroup: string;
  /** Compacted topic that records each checkpoint, readable by people and tools. */
  checkpointTopic: string;
  deadLetterTopic: string;
  /** Republish back-off written into `x-dlq-not-before`. */
  backoff?: { baseMs: number; maxMs: number };
  processRecord: RecordProcessor<TDetail>;
  now?: () => Date;
  /**
   * When the invocation must have answered (epoch ms, Lambda's deadline less a margin):
   * every Kafka call is bounded by it, and a partition that cannot finish in time is
   * reported from its first unprocessed record. None: calls are bounded by the client's
   * own timeouts only.
   */
  deadline?: number;
  /** The container's checkpoint cache; without one every partition reads its checkpoint. */
  checkpointCache?: CheckpointCache;
  telemetry?: DeliveryTelemetry;
  /**
   * Called for every record's outcome (logs, metrics, traces hang off it): `ok` and
   * `poison` only after the partition's transaction committed, so what is counted is
   * what happened.
   */
  onOutcome?: (outcome: RecordOutcome<TDetail>) => void;
  /** Test seam for fault injection: runs after a partition's transaction committed. */
  afterCommit?: (result: PartitionResult) => void | Promise<void>;
}

export interface BatchResult {
  response: KafkaBatchResponse;
  partitions: PartitionResult[];
}

export const transactionalIdFor = (prefix: string, topic: string, partition: number) =>
  `${prefix}-${topic}-${partition}`;

/**
 * When an invocation must have answered (epoch ms): Lambda's deadline
 * (`context.getRemainingTimeInMillis()`) less `marginMs`, or `defaultTimeoutMs` from now
 * less the margin when there is no Lambda context.
 *
 * @example
 * const deadline = invocationDeadline(context, { deadlineMarginMs: 2_000, defaultTimeoutMs: 30_000 });
 */
export const invocationDeadline = (
  context: { getRemainingTimeInMillis?: () => number } | undefined,
  limits: { deadlineMarginMs: number; defaultTimeoutMs: number },
  now = Date.now(),
): number => {
  const remaining = context?.getRemainingTimeInMillis?.();
  const left =
    typeof remaining === 'number' && Number.isFinite(remaining)
      ? remaining
      : limits.defaultTimeoutMs;
  return now + left - limits.deadlineMarginMs;
};

/** Below this much time left, a partition is not started (nor started again). */
const MIN_START_MS = 500;

const readCheckpoint = async <TDetail>(
  options: DeliveryOptions<TDetail>,
  producer: PartitionWriter,
  fresh: boolean,
  batch: PartitionBatch,
  bounds: CallBounds,
): Promise<CheckpointState | undefined> => {
  const cache = options.checkpointCache;
  if (!fresh && cache?.has(producer)) return cache.get(producer);
  // initTransactions first: it completes a transaction left open by a crashed or
  // stale container, so what is read next is what really committed.
  await producer.init(bounds);
  const committed = await options.kafka.committedCheckpoints(
    options.checkpointGroup,
    batch.topic,
    bounds,
  );
  const found = committed.get(batch.partition);
  if (found === undefined) return undefined;
  const state = decodeCheckpoint(found.nextOffset, found.metadata);
  cache?.set(producer, state);
  return state;
};

// A kafkajs error also has `code` and `retriable` (a numeric protocol code): only
// PipelineErrors pass as they are, anything else is mapped to a stable code.
const toError = toPipelineError;

const emptyResult = (batch: PartitionBatch): PartitionResult => ({
  key: batch.key,
  topic: batch.topic,
  partition: batch.partition,
  ok: 0,
  deadLettered: 0,
  skipped: 0,
  reinits: 0,
});

/**
 * Processes one partition's records in offset order inside one transaction:
 * results and dead letters and the checkpoint commit together or not at all.
 * Stops at the first retriable failure and reports it; records below the
 * committed checkpoint (a redelivery of committed work) are skipped.
 */
export const processPartition = async <TDetail = unknown>(
  batch: PartitionBatch,
  options: DeliveryOptions<TDetail>,
): Promise<PartitionResult> => {
  const span = options.telemetry?.startPartition(batch);
  let result: PartitionResult | undefined;
  try {
    result = await runPartition(batch, options, span?.propagation);
    return result;
  } finally {
    span?.end(result ?? emptyResult(batch));
  }
};

/** A batch's records as the plan reads them: decoded as reached when the batch allows it. */
const planRecords = (batch: PartitionBatch | (PartitionBatch & PlanRecords)): PlanRecords =>
  'recordAt' in batch ? batch : recordList(batch.records);

const stopped = (
  result: PartitionResult,
  failedAt: number,
  error: PipelineError,
  stage: StopStage,
): PartitionResult => ({ ...result, failedAt, error, stage });

const runPartition = async <TDetail>(
  batch: PartitionBatch,
  options: DeliveryOptions<TDetail>,
  propagation: Readonly<Record<string, string>> | undefined,
): Promise<PartitionResult> => {
  const now = options.now ?? (() => new Date());
  const result = emptyResult(batch);
  const records = planRecords(batch);
  if (records.length === 0) return result;
  const firstOffset = records.offsetAt(0);
  const { deadline } = options;
  const bounds: CallBounds = { deadline };
  const id = transactionalIdFor(options.transactionalIdPrefix, batch.topic, batch.partition);
  const emit = (plan: PartitionPlan<TDetail>, committed: boolean) => {
    result.skipped += plan.counts.skipped;
    // what is counted is what committed
    if (committed) {
      result.ok += plan.counts.ok;
      result.deadLettered += plan.counts.poison;
    }
    const { onOutcome } = options;
    if (!onOutcome) return;
    for (const outcome of plan.outcomes)
      if (committed || (outcome.kind !== 'ok' && outcome.kind !== 'poison')) onOutcome(outcome);
  };
  // A cached producer fenced by another container (the partition's batches moved there
  // and back) is replaced once: re-init, read the checkpoint again, plan again.
  const mayReinit = (error: PipelineError, fresh: boolean) =>
    error.code === 'PRODUCER_FENCED' &&
    !fresh &&
    result.reinits === 0 &&
    timeLeft(deadline) > MIN_START_MS + COMMIT_RESERVE_MS;

  for (;;) {
    if (timeLeft(deadline) < MIN_START_MS)
      return stopped(
        result,
        firstOffset,
        new RetriableError(
          'TIMEOUT',
          `no time left before the invocation's deadline to start partition ${batch.key}`,
        ),
        'deadline',
      );
    const { producer, fresh } = options.kafka.transactionalProducer(id);

    let checkpoint: CheckpointState | undefined;
    try {
      checkpoint = await readCheckpoint(options, producer, fresh, batch, bounds);
    } catch (thrown) {
      const error = toError(thrown);
      if (mayReinit(error, fresh)) {
        result.reinits++;
        continue;
      }
      return stopped(result, firstOffset, error, 'checkpoint');
    }

    const plan = await planPartition(records, checkpoint?.nextOffset, {
      processRecord: options.processRecord,
      deadLetterTopic: options.deadLetterTopic,
      backoff: options.backoff,
      now,
      planUntil: deadline === undefined ? undefined : deadline - COMMIT_RESERVE_MS,
      keepOutcomes: options.onOutcome !== undefined,
    });
    const stop = (r: PartitionResult) =>
      plan.stop ? stopped(r, plan.stop.offset, plan.stop.error, plan.stop.stage) : r;

    if (plan.nextOffset === undefined || plan.firstUnprocessed === undefined) {
      // nothing new: everything was skipped, or the first new record stopped the plan
      emit(plan, false);
      return stop({ ...result, checkpoint: checkpoint?.nextOffset });
    }

    const next = advanceCheckpoint(checkpoint, plan.firstUnprocessed, plan.nextOffset);
    const marker: TransactionalCheckpoint = {
      groupId: options.checkpointGroup,
      topic: batch.topic,
      partition: batch.partition,
      nextOffset: plan.nextOffset,
      metadata: encodeCheckpoint(next),
    };
    const outbound = planMessages(plan);
    outbound.push({
      topic: options.checkpointTopic,
      key: `${options.checkpointGroup}/${batch.topic}/${batch.partition}`,
      value: JSON.stringify({
        groupId: marker.groupId,
        topic: marker.topic,
        partition: marker.partition,
        nextOffset: marker.nextOffset,
        horizon: next.horizon,
        gaps: next.gaps,
        transactionalId: id,
        committedAt: now().toISOString(),
      }),
    });

    try {
      await producer.write(withPropagation(outbound, propagation), marker, bounds);
    } catch (thrown) {
      // nothing of this transaction is visible (or, after a timeout, it is unknown
      // whether it is: the producer is discarded and the next one finds out)
      options.checkpointCache?.delete(producer);
      const error = toError(thrown);
      if (mayReinit(error, fresh)) {
        result.reinits++;
        continue;
      }
      emit(plan, false);
      return {
        ...stopped(result, plan.firstUnprocessed, error, 'commit'),
        checkpoint: checkpoint?.nextOffset,
      };
    }
    options.checkpointCache?.set(producer, next);
    emit(plan, true);
    const done = stop({ ...result, checkpoint: plan.nextOffset });
    await options.afterCommit?.(done);
    return done;
  }
};

/**
 * Processes every partition of a batch (partitions in parallel, each with its
 * own transaction) and builds the partial batch response: one identifier per
 * stopped partition, at its first unprocessed offset.
 */
export const processBatch = async <TDetail = unknown>(
  partitions: PartitionBatch[],
  options: DeliveryOptions<TDetail>,
): Promise<BatchResult> => {
  const results = await Promise.all(partitions.map((p) => processPartition(p, options)));
  return {
    partitions: results,
    response: buildBatchResponse(
      results
        .filter((r) => r.failedAt !== undefined)
        .map((r) => ({ partitionKey: r.key, offset: r.failedAt! })),
    ),
  };
};

/** A batch's totals, for a summary log line: records committed, skipped, partitions stopped. */
export const batchTotals = (partitions: readonly PartitionResult[]) => {
  const totals = {
    partitions: partitions.length,
    ok: 0,
    deadLettered: 0,
    skipped: 0,
    stopped: 0,
    reinits: 0,
  };
  for (const p of partitions) {
    totals.ok += p.ok;
    totals.deadLettered += p.deadLettered;
    totals.skipped += p.skipped;
    totals.reinits += p.reinits;
    if (p.failedAt !== undefined) totals.stopped++;
  }
  return totals;
};
