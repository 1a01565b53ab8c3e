/**
 * The pure half of a partition's delivery: what its records come to (results, dead
 * letters, outcomes, the next offset) before anything is written. No I/O of its own:
 * the record processor and the clock are injected. `processBatch.ts` commits the plan.
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

/** Time kept for the commit: planning stops this long before the deadline. */
export const COMMIT_RESERVE_MS = 1_000;

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown }).then === 'function';

/** What a partition's records come to before anything is written. */
export interface PartitionPlan<TDetail = unknown> {
  /** Results and dead letters, in record order. */
  outbound: OutboundMessage[];
  /** Every record's outcome in order, up to where the plan stopped. */
  outcomes: RecordOutcome<TDetail>[];
  /** The first record at or above the checkpoint, when the plan reached one. */
  firstUnprocessed?: number;
  /** Offset after the last record planned; none when nothing new was planned. */
  nextOffset?: number;
  /** Where and why the plan stopped short of the batch's end. */
  stop?: { offset: number; error: PipelineError; stage: 'record' | 'deadline' };
}

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
}

/**
 * Plans one partition: skips records below `checkpoint`, turns each later record into
 * its messages (or a dead letter), and stops at the first retriable failure or when
 * `planUntil` has passed. No I/O of its own: the processor and the clock are injected.
 *
 * @example
 * const plan = await planPartition(batch.records, 120, { processRecord, deadLetterTopic: 'orders.dlq', now: () => new Date() });
 */
export const planPartition = async <TDetail>(
  records: readonly DecodedRecord[],
  checkpoint: number | undefined,
  options: PlanOptions<TDetail>,
): Promise<PartitionPlan<TDetail>> => {
  const plan: PartitionPlan<TDetail> = { outbound: [], outcomes: [] };
  const { outbound, outcomes } = plan;
  const { planUntil } = options;
  let planned = 0;
  for (const record of records) {
    if (checkpoint !== undefined && record.offset < checkpoint) {
      outcomes.push({ kind: 'skipped', record, checkpoint });
      continue;
    }
    plan.firstUnprocessed ??= record.offset;
    // a clock read every 64 records: cheap, and far finer than any deadline
    if (planUntil !== undefined && (planned++ & 63) === 0 && Date.now() > planUntil) {
      plan.stop = {
        offset: record.offset,
        stage: 'deadline',
        error: new RetriableError(
          'TIMEOUT',
          `the invocation's deadline is near: stopped before offset ${record.offset}, ${COMMIT_RESERVE_MS} ms kept to commit what came before`,
        ),
      };
      break;
    }
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
      outcomes.push(outcome);
    } catch (thrown) {
      const error = toPipelineError(thrown);
      if (error.retriable) {
        outcomes.push({ kind: 'retriable', record, error });
        plan.stop = { offset: record.offset, error, stage: 'record' };
        break;
      }
      outbound.push(
        deadLetter(record, error, {
          topic: options.deadLetterTopic,
          now: options.now(),
          backoff: options.backoff,
        }),
      );
      outcomes.push({ kind: 'poison', record, error });
    }
    plan.nextOffset = record.offset + 1;
  }
  return plan;
};
