/**
 * The mapping's partitions and the batches it builds from them: what is buffered per
 * partition, how an invocation's batch is cut from the buffers (batch size, 6 MB
 * payload cap, batching window) and split in two (BisectBatchOnFunctionError). Pure.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
import type { KafkaEventRecord } from '../../lib/events/types.ts';
import { type EventEnvelope, type EventRecordEntry, EventSize } from './eventPayload.ts';
import type { PartitionSlice } from './types.ts';

/** One assigned (or formerly assigned) partition of the mapping's topic. */
export interface PartitionState {
  partition: number;
  /** `"<topic>-<partition>"`. */
  key: string;
  assigned: boolean;
  /** Fetched records not yet handled, in offset order: the head is the next to deliver. */
  buffer: EventRecordEntry[];
  bufferBytes: number;
  /** Lowest offset not buffered yet (-1 before the first fetch). */
  fetchNext: number;
  /** Every offset below was fetched, control records included (-1 unknown). */
  fetchedThrough: number;
  /** An invocation, an on-failure write or a commit holds the partition. */
  busy: boolean;
  /** No delivery before this time (retry back-off). */
  notBefore: number;
  /** The head failed `attempts` invocations in a row (partial batch responses). */
  failure?: { offset: number; attempts: number } | undefined;
  paused: boolean;
  /** Next offset to commit, and the last one committed (-1: none yet). */
  commitTarget: number;
  committed: number;
  committedKnown: boolean;
}

/** A partition's records in one batch. */
export interface Slice {
  state: PartitionState;
  entries: EventRecordEntry[];
}

/** One invocation's records; kept whole to be retried exactly after a function error. */
export interface Batch {
  slices: Slice[];
  invokeCount: number;
  notBefore: number;
}

/** Limits a batch is cut to (the mapping's configuration). */
export interface BatchLimits {
  batchSize: number;
  maxPayloadBytes: number;
  windowMs: number;
}

export const countOf = (batch: Batch): number =>
  batch.slices.reduce((n, s) => n + s.entries.length, 0);

/**
 * Splits a batch in two halves of records, in event order (earlier records first).
 *
 * @example
 * bisect(batchOf5) // [batch of the first 3 records, batch of the last 2]
 */
export const bisect = (batch: Batch): [Batch, Batch] => {
  const half = Math.ceil(countOf(batch) / 2);
  const first: Slice[] = [];
  const second: Slice[] = [];
  let taken = 0;
  for (const { state, entries } of batch.slices) {
    const room = Math.max(0, half - taken);
    if (room > 0) first.push({ state, entries: entries.slice(0, room) });
    if (entries.length > room) second.push({ state, entries: entries.slice(room) });
    taken += Math.min(room, entries.length);
  }
  return [
    { slices: first, invokeCount: 0, notBefore: 0 },
    { slices: second, invokeCount: 0, notBefore: 0 },
  ];
};

/** What the buffers of the partitions ready now make. */
export type NextBatch =
  /** A batch to invoke now. */
  | { kind: 'batch'; slices: Slice[] }
  /** The head of `state` alone makes an event over the payload cap: never delivered. */
  | { kind: 'oversize'; state: PartitionState }
  /** Not full and the batching window is still open: wait until `until`. */
  | { kind: 'wait'; until: number };

/**
 * Cuts the next batch from the buffers of `ready` partitions (each with records), in
 * their order: up to the batch size and the payload cap; a batch neither full nor
 * capped waits for the batching window, counted from its oldest record.
 *
 * @example
 * nextBatch([state], envelope, { batchSize: 100, maxPayloadBytes: 6_291_456, windowMs: 500 }, Date.now())
 */
export const nextBatch = (
  ready: readonly PartitionState[],
  envelope: EventEnvelope,
  limits: BatchLimits,
  now: number,
): NextBatch => {
  const size = new EventSize(envelope);
  const slices: Slice[] = [];
  let count = 0;
  let capped = false;
  for (const state of ready) {
    let slice: Slice | undefined;
    for (const entry of state.buffer) {
      if (count >= limits.batchSize) break;
      if (size.with(state.key, entry.bytes) > limits.maxPayloadBytes) {
        if (count === 0) return { kind: 'oversize', state };
        capped = true;
        break;
      }
      size.add(state.key, entry.bytes);
      if (!slice) {
        slice = { state, entries: [] };
        slices.push(slice);
      }
      slice.entries.push(entry);
      count++;
    }
    if (capped || count >= limits.batchSize) break;
  }
  const oldest = Math.min(...ready.map((s) => s.buffer[0]!.receivedAt));
  if (!capped && count < limits.batchSize && now < oldest + limits.windowMs)
    return { kind: 'wait', until: oldest + limits.windowMs };
  return { kind: 'batch', slices };
};

/**
 * The event a batch makes, as JSON, and its slices for the report.
 *
 * @example
 * const { payload, slices } = eventOf(batch, envelope); // payload: '{"eventSource":"aws:kafka",...}'
 */
export const eventOf = (
  batch: Batch,
  envelope: EventEnvelope,
): { payload: string; slices: PartitionSlice[] } => {
  const records: Record<string, KafkaEventRecord[]> = {};
  const slices: PartitionSlice[] = [];
  for (const { state, entries } of batch.slices) {
    records[state.key] = entries.map((e) => e.record);
    slices.push({
      key: state.key,
      partition: state.partition,
      firstOffset: entries[0]!.record.offset,
      lastOffset: entries.at(-1)!.record.offset,
      count: entries.length,
    });
  }
  return { payload: JSON.stringify({ ...envelope, records }), slices };
};
