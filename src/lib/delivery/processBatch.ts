import { type PipelineError, PoisonRecordError, toPipelineError } from '../errors.ts';
import { buildBatchResponse } from '../events/batchResponse.ts';
import type { DecodedRecord, KafkaBatchResponse, PartitionBatch } from '../events/types.ts';
import type { OutboundMessage, TransactionalCheckpoint } from '../kafka/types.ts';
import { deadLetter } from './deadLetter.ts';

/** What a partition writer must offer: the transactional producer cache of the Kafka module. */
export interface PartitionWriter {
  readonly usable: boolean;
  init(): Promise<void>;
  write(messages: OutboundMessage[], checkpoint?: TransactionalCheckpoint): Promise<unknown>;
}

export interface DeliveryKafka {
  transactionalProducer(transactionalId: string): { producer: PartitionWriter; fresh: boolean };
  committedOffsets(groupId: string, topic: string): Promise<Map<number, number>>;
}

/**
 * What a record processor may return instead of a bare message list: the messages, and
 * a `detail` about the record (e.g. an order's status) that reaches `onOutcome` only
 * once the record's transaction committed.
 */
export interface ProcessedRecord<TDetail = unknown> {
  messages: OutboundMessage[];
  detail?: TDetail;
}

/** Turns one record into the messages it produces, or throws a {@link PipelineError}. */
export type RecordProcessor<TDetail = unknown> = (
  record: DecodedRecord,
) =>
  | OutboundMessage[]
  | ProcessedRecord<TDetail>
  | Promise<OutboundMessage[] | ProcessedRecord<TDetail>>;

export type RecordOutcome<TDetail = unknown> =
  | {
      kind: 'ok';
      record: DecodedRecord;
      messages: number;
      /** What the record processor said about the record, when it said anything. */
      detail?: TDetail;
    }
  | { kind: 'poison'; record: DecodedRecord; error: PipelineError }
  | { kind: 'retriable'; record: DecodedRecord; error: PipelineError }
  | { kind: 'skipped'; record: DecodedRecord; checkpoint: number };

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
  /** Checkpoint after this batch (next offset to process). */
  checkpoint?: number;
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

/**
 * A container's checkpoint cache: the next offset to process per partition,
 * trusted only while the producer that committed it is the one in use.
 */
const cachedCheckpoints = new WeakMap<PartitionWriter, number>();

export const transactionalIdFor = (prefix: string, topic: string, partition: number) =>
  `${prefix}-${topic}-${partition}`;

const readCheckpoint = async <TDetail>(
  options: DeliveryOptions<TDetail>,
  producer: PartitionWriter,
  fresh: boolean,
  topic: string,
  partition: number,
): Promise<number | undefined> => {
  if (!fresh && cachedCheckpoints.has(producer)) return cachedCheckpoints.get(producer);
  // initTransactions first: it completes a transaction left open by a crashed or
  // stale container, so what is read next is what really committed.
  await producer.init();
  const offsets = await options.kafka.committedOffsets(options.checkpointGroup, topic);
  const checkpoint = offsets.get(partition);
  if (checkpoint !== undefined) cachedCheckpoints.set(producer, checkpoint);
  return checkpoint;
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

const TRACE_HEADERS = new Set(['traceparent', 'tracestate']);

/**
 * The messages with the partition span's trace context on them. A carried `traceparent`
 * or `tracestate` (any spelling of the name) is replaced by the propagation's; when the
 * propagation names a new parent without a `tracestate` of its own, a carried
 * `tracestate` is dropped: it belongs to the other trace (W3C Trace Context).
 */
export const withPropagation = (
  messages: OutboundMessage[],
  propagation: Readonly<Record<string, string>> | undefined,
): OutboundMessage[] => {
  if (!propagation || Object.keys(propagation).length === 0) return messages;
  const replaced = new Set(Object.keys(propagation).map((name) => name.toLowerCase()));
  if (replaced.has('traceparent')) replaced.add('tracestate');
  return messages.map((m) => {
    const headers: NonNullable<OutboundMessage['headers']> = {};
    for (const [name, value] of Object.entries(m.headers ?? {})) {
      const lower = name.toLowerCase();
      if (!(TRACE_HEADERS.has(lower) && replaced.has(lower))) headers[name] = value;
    }
    return { ...m, headers: { ...headers, ...propagation } };
  });
};

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown }).then === 'function';

const runPartition = async <TDetail>(
  batch: PartitionBatch,
  options: DeliveryOptions<TDetail>,
  propagation: Readonly<Record<string, string>> | undefined,
): Promise<PartitionResult> => {
  const now = options.now ?? (() => new Date());
  const result = emptyResult(batch);
  const first = batch.records[0];
  if (!first) return result;
  const id = transactionalIdFor(options.transactionalIdPrefix, batch.topic, batch.partition);
  const { producer, fresh } = options.kafka.transactionalProducer(id);

  let checkpoint: number | undefined;
  try {
    checkpoint = await readCheckpoint(options, producer, fresh, batch.topic, batch.partition);
  } catch (error) {
    return { ...result, failedAt: first.offset, error: toError(error) };
  }

  const outbound: OutboundMessage[] = [];
  let firstUnprocessed: number | undefined;
  let nextOffset: number | undefined;
  const pending: RecordOutcome<TDetail>[] = [];
  for (const record of batch.records) {
    if (checkpoint !== undefined && record.offset < checkpoint) {
      result.skipped++;
      options.onOutcome?.({ kind: 'skipped', record, checkpoint });
      continue;
    }
    firstUnprocessed ??= record.offset;
    try {
      if (record.decodeError)
        throw new PoisonRecordError(record.decodeError.code, record.decodeError.message);
      let processed = options.processRecord(record);
      // a synchronous processor costs no promise per record
      if (isPromise(processed)) processed = await processed;
      const messages = Array.isArray(processed) ? processed : processed.messages;
      for (let m = 0; m < messages.length; m++) outbound.push(messages[m]!);
      const outcome: RecordOutcome<TDetail> = { kind: 'ok', record, messages: messages.length };
      if (!Array.isArray(processed) && processed.detail !== undefined)
        outcome.detail = processed.detail;
      pending.push(outcome);
    } catch (thrown) {
      const error = toError(thrown);
      if (error.retriable) {
        result.failedAt = record.offset;
        result.error = error;
        options.onOutcome?.({ kind: 'retriable', record, error });
        break;
      }
      outbound.push(
        deadLetter(record, error, {
          topic: options.deadLetterTopic,
          now: now(),
          backoff: options.backoff,
        }),
      );
      pending.push({ kind: 'poison', record, error });
    }
    nextOffset = record.offset + 1;
  }

  if (nextOffset === undefined) {
    // nothing new: everything was skipped, or the first new record failed
    result.checkpoint = checkpoint;
    return result;
  }

  const marker: TransactionalCheckpoint = {
    groupId: options.checkpointGroup,
    topic: batch.topic,
    partition: batch.partition,
    nextOffset,
  };
  outbound.push({
    topic: options.checkpointTopic,
    key: `${options.checkpointGroup}/${batch.topic}/${batch.partition}`,
    value: JSON.stringify({ ...marker, transactionalId: id, committedAt: now().toISOString() }),
  });

  try {
    await producer.write(withPropagation(outbound, propagation), marker);
  } catch (error) {
    // nothing of this transaction is visible: report from the first record it held
    cachedCheckpoints.delete(producer);
    return {
      ...result,
      failedAt: firstUnprocessed ?? first.offset,
      error: toError(error),
      checkpoint,
    };
  }
  cachedCheckpoints.set(producer, nextOffset);
  for (const outcome of pending) {
    if (outcome.kind === 'ok') result.ok++;
    else result.deadLettered++;
    options.onOutcome?.(outcome);
  }
  result.checkpoint = nextOffset;
  await options.afterCommit?.(result);
  return result;
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
  const totals = { partitions: partitions.length, ok: 0, deadLettered: 0, skipped: 0, stopped: 0 };
  for (const p of partitions) {
    totals.ok += p.ok;
    totals.deadLettered += p.deadLettered;
    totals.skipped += p.skipped;
    if (p.failedAt !== undefined) totals.stopped++;
  }
  return totals;
};
