/**
 * The pure half of a partition's delivery: what its records come to (results, dead
 * letters, outcomes, the next offset) before anything is written. No I/O of its own:
 * the record processor and the clock are injected. `processBatch.ts` commits the plan.
 *
 * Each record is decoded when the loop reaches it and let go after it: what the plan
 * keeps until the commit is the results' bytes (`ResultBytes`), the dead letters, the
 * outcomes a reporter asked for, and offsets.
 */
import {
  type PipelineError,
  PoisonRecordError,
  RetriableError,
  toPipelineError,
} from '../errors.ts';
import type { DecodedRecord } from '../events/types.ts';
import type { OutboundMessage } from '../kafka/index.ts';
import { deadLetter } from './deadLetter.ts';
import { ResultBytes } from './resultBytes.ts';

/**
 * What a record processor may return instead of a bare message list: the messages, and
 * a `detail` about the record (e.g. an order's status) that reaches `onOutcome` only
 * once the record's transaction committed.
 */
export interface ProcessedRecord<TDetail = unknown> {
  messages: OutboundMessage[];
  detail?: TDetail;
}

/**
 * Turns one record into the messages it produces, or throws a {@link PipelineError}.
 * A processor may instead write its results into `results` (as bytes, kept until the
 * commit in the returned messages' place, in the same order) and return no messages.
 */
export type RecordProcessor<TDetail = unknown> = (
  record: DecodedRecord,
  results: ResultBytes,
  /** Whether the plan keeps the `ok` outcome: a processor may skip making a `detail` when not. */
  keepDetail?: boolean,
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

/** Time kept for the commit: planning stops this long before the deadline. */
export const COMMIT_RESERVE_MS = 1_000;

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown }).then === 'function';

/**
 * A partition's records in offset order, decoded when asked for: what the plan reads.
 * An `EventPartition` (events/decode.ts) is one; {@link recordList} makes an array one.
 */
export interface PlanRecords {
  readonly length: number;
  /** The `i`-th record's offset, without decoding it. */
  offsetAt(i: number): number;
  /** The `i`-th record, decoded. */
  recordAt(i: number): DecodedRecord;
}

/**
 * Already decoded records as {@link PlanRecords}.
 *
 * @example
 * planPartition(recordList(batch.records), checkpoint, options);
 */
export const recordList = (records: readonly DecodedRecord[]): PlanRecords => ({
  length: records.length,
  offsetAt: (i) => records[i]!.offset,
  recordAt: (i) => records[i]!,
});

/** What a partition's records come to before anything is written. */
export interface PartitionPlan<TDetail = unknown> {
  /**
   * What the transaction writes, in record order: dead letters and processors'
   * messages as they are, and a number `n` for the `n`-th result in `results`.
   */
  outbound: Array<OutboundMessage | number>;
  /** Results written as bytes by the processor. */
  results: ResultBytes;
  /**
   * Outcomes in record order, up to where the plan stopped: every one when the options
   * ask to `keepOutcomes`, else only those that are not `ok` (each `ok` outcome would
   * keep its decoded record alive until the commit).
   */
  outcomes: RecordOutcome<TDetail>[];
  /** Records processed, dead-lettered and skipped (below the checkpoint). */
  counts: { ok: number; poison: number; skipped: number };
  /** The first record at or above the checkpoint, when the plan reached one. */
  firstUnprocessed?: number;
  /** Offset after the last record planned; none when nothing new was planned. */
  nextOffset?: number;
  /** Where and why the plan stopped short of the batch's end. */
  stop?: { offset: number; error: PipelineError; stage: 'record' | 'deadline' };
}

/**
 * The plan's messages, in record order, results built from their bytes: what the
 * commit writes (before the checkpoint record).
 *
 * @example
 * await producer.write([...planMessages(plan), checkpointRecord], marker);
 */
export const planMessages = (plan: PartitionPlan<unknown>): OutboundMessage[] => {
  const { outbound, results } = plan;
  const messages = new Array<OutboundMessage>(outbound.length);
  for (let i = 0; i < outbound.length; i++) {
    const entry = outbound[i]!;
    messages[i] = typeof entry === 'number' ? results.message(entry) : entry;
  }
  return messages;
};

/** What a plan needs besides the records: the processor, the DLQ, the clock, the deadline. */
export interface PlanOptions<TDetail> {
  processRecord: RecordProcessor<TDetail>;
  /** Where poison records go. */
  deadLetterTopic: string;
  /** Republish back-off written into `x-dlq-not-before`. */
  backoff?: { baseMs: number; maxMs: number };
  now: () => Date;
  /** Planning stops (`TIMEOUT`, stage `deadline`) once this epoch-ms time has passed. */
  planUntil?: number;
  /** Keep every `ok` outcome (with its record) for a reporter; default: counts only. */
  keepOutcomes?: boolean;
}

/**
 * Plans one partition: skips records below `checkpoint`, decodes each later record
 * and turns it into its messages or results (or a dead letter), and stops at the first
 * retriable failure or when `planUntil` has passed. No I/O of its own: the processor
 * and the clock are injected.
 *
 * @example
 * const plan = await planPartition(recordList(batch.records), 120, { processRecord, deadLetterTopic: 'orders.dlq', now: () => new Date() });
 */
export const planPartition = async <TDetail>(
  records: PlanRecords,
  checkpoint: number | undefined,
  options: PlanOptions<TDetail>,
): Promise<PartitionPlan<TDetail>> => {
  // every field from the start: a field added later is a new hidden class, which a full
  // GC between invocations collects, deoptimizing the code that read plans (--trace-deopt)
  const plan: PartitionPlan<TDetail> = {
    outbound: [],
    results: new ResultBytes(),
    outcomes: [],
    counts: { ok: 0, poison: 0, skipped: 0 },
    firstUnprocessed: undefined,
    nextOffset: undefined,
    stop: undefined,
  };
  const { outbound, outcomes, results, counts } = plan;
  const { planUntil, processRecord } = options;
  const keepOutcomes = options.keepOutcomes === true;
  let planned = 0;
  for (let i = 0; i < records.length; i++) {
    const offset = records.offsetAt(i);
    if (checkpoint !== undefined && offset < checkpoint) {
      counts.skipped++;
      outcomes.push({ kind: 'skipped', record: records.recordAt(i), checkpoint });
      continue;
    }
    plan.firstUnprocessed ??= offset;
    // a clock read every 64 records: cheap, and far finer than any deadline
    if (planUntil !== undefined && (planned++ & 63) === 0 && Date.now() > planUntil) {
      plan.stop = {
        offset,
        stage: 'deadline',
        error: new RetriableError(
          'TIMEOUT',
          `the invocation's deadline is near: stopped before offset ${offset}, ${COMMIT_RESERVE_MS} ms kept to commit what came before`,
        ),
      };
      break;
    }
    const record = records.recordAt(i);
    try {
      if (record.decodeError)
        throw new PoisonRecordError(record.decodeError.code, record.decodeError.message);
      const before = results.length;
      let processed = processRecord(record, results, keepOutcomes);
      // a synchronous processor costs no promise per record
      if (isPromise(processed)) processed = await processed;
      const messages = Array.isArray(processed) ? processed : processed.messages;
      for (let m = 0; m < messages.length; m++) outbound.push(messages[m]!);
      const after = results.length;
      for (let r = before; r < after; r++) outbound.push(r);
      counts.ok++;
      if (keepOutcomes) {
        const outcome: RecordOutcome<TDetail> = {
          kind: 'ok',
          record,
          messages: messages.length + after - before,
        };
        if (!Array.isArray(processed) && processed.detail !== undefined)
          outcome.detail = processed.detail;
        outcomes.push(outcome);
      }
    } catch (thrown) {
      const error = toPipelineError(thrown);
      if (error.retriable) {
        outcomes.push({ kind: 'retriable', record, error });
        plan.stop = { offset, error, stage: 'record' };
        break;
      }
      outbound.push(
        deadLetter(record, error, {
          topic: options.deadLetterTopic,
          now: options.now(),
          backoff: options.backoff,
        }),
      );
      counts.poison++;
      outcomes.push({ kind: 'poison', record, error });
    }
    plan.nextOffset = offset + 1;
  }
  return plan;
};
