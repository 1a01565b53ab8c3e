/**
 * What a partition's checkpoint knows besides its next offset: which offsets below it
 * the handler never saw. Pure: no I/O.
 *
 * ## Why
 *
 * Lambda's mapping can give up on a record whose result already committed: a batch
 * commits, the invocation fails before it answers (a crash, a timeout), and every
 * retry fails too (the broker is unreachable for longer than the retries last). The
 * mapping then sends the record on to its on-failure destination (`orders.dlq`, as an
 * AWS envelope) and resumes after it. The same envelope is written when the mapping
 * gave up on a record the handler never processed. Both lie below the checkpoint, so
 * the checkpoint alone cannot tell "already processed" from "skipped by the mapping";
 * republishDlq must republish the second and must not republish the first.
 *
 * ## The record
 *
 * The handler processes a partition in offset order, from its checkpoint on. The only
 * way an offset below the checkpoint was never seen is a batch that began above the
 * checkpoint: the mapping moved on without the handler. So each commit records that
 * *gap* (`[checkpoint, first offset of the batch)`) in the checkpoint's offset
 * metadata, committed in the same transaction. Transaction markers and compacted
 * records also open gaps; they are never delivered, so they never meet an envelope and
 * only take room. The list keeps the newest gaps within a fixed budget; `horizon` is
 * the offset from which it is complete. Below the horizon the answer is `unknown`.
 */

/** A half-open offset range `[from, to)`. */
export type OffsetRange = readonly [from: number, to: number];

/** A partition's checkpoint: the next offset to process and what was skipped below it. */
export interface CheckpointState {
  nextOffset: number;
  /** Offsets from here up to `nextOffset` were either processed or lie in `gaps`. */
  horizon: number;
  /** Ranges the handler never saw (the mapping skipped them, or nothing was there), oldest first. */
  gaps: readonly OffsetRange[];
}

/** How a record below a partition's checkpoint fared. */
export type OffsetStatus =
  /** Processed and committed: its result (or dead letter) exists. */
  | 'processed'
  /** Never seen by the handler: the mapping moved past it. */
  | 'skipped'
  /** At or above the checkpoint: not processed (yet). */
  | 'unprocessed'
  /** Below the horizon: the record does not say. */
  | 'unknown';

/** Most gaps kept; with the offsets below, the metadata stays far under Kafka's 4 KiB. */
export const MAX_GAPS = 200;
const VERSION = 'g1';

/**
 * The offset metadata of a checkpoint: `g1;<horizon>;<gaps>` in base 36, each gap as
 * `<from − previous to>+<length>`, so a long list stays short.
 *
 * @example
 * encodeCheckpoint({ nextOffset: 120, horizon: 0, gaps: [[40, 41]] }) // 'g1;0;14+1'
 */
export const encodeCheckpoint = (state: CheckpointState): string => {
  let previous = state.horizon;
  const gaps = state.gaps.map(([from, to]) => {
    const part = `${(from - previous).toString(36)}+${(to - from).toString(36)}`;
    previous = to;
    return part;
  });
  return `${VERSION};${state.horizon.toString(36)};${gaps.join(',')}`;
};

const BASE36 = /^[0-9a-z]{1,12}$/;

/**
 * The state of a checkpoint read back. Metadata that is absent or not ours (an older
 * release, another tool) knows nothing below the checkpoint: the horizon is the
 * checkpoint itself.
 */
export const decodeCheckpoint = (
  nextOffset: number,
  metadata: string | undefined,
): CheckpointState => {
  const nothingKnown: CheckpointState = { nextOffset, horizon: nextOffset, gaps: [] };
  const parts = metadata?.split(';');
  if (parts?.length !== 3 || parts[0] !== VERSION || !BASE36.test(parts[1]!)) return nothingKnown;
  const horizon = Number.parseInt(parts[1]!, 36);
  if (horizon > nextOffset) return nothingKnown;
  const gaps: OffsetRange[] = [];
  let previous = horizon;
  for (const part of parts[2] ? parts[2].split(',') : []) {
    const [start, length] = part.split('+');
    if (!start || !length || !BASE36.test(start) || !BASE36.test(length)) return nothingKnown;
    const from = previous + Number.parseInt(start, 36);
    const to = from + Number.parseInt(length, 36);
    if (to <= from || to > nextOffset) return nothingKnown;
    gaps.push([from, to]);
    previous = to;
  }
  return { nextOffset, horizon, gaps };
};

/**
 * The checkpoint after a commit that processed records from `firstProcessed` up to
 * `nextOffset`. A first processed offset above the old checkpoint opens a gap; with no
 * earlier checkpoint nothing below `firstProcessed` is known.
 *
 * @example
 * advanceCheckpoint({ nextOffset: 100, horizon: 0, gaps: [] }, 105, 200)
 * // { nextOffset: 200, horizon: 0, gaps: [[100, 105]] }
 */
export const advanceCheckpoint = (
  previous: CheckpointState | undefined,
  firstProcessed: number,
  nextOffset: number,
  maxGaps = MAX_GAPS,
): CheckpointState => {
  if (!previous) return { nextOffset, horizon: firstProcessed, gaps: [] };
  const gaps =
    firstProcessed > previous.nextOffset
      ? [...previous.gaps, [previous.nextOffset, firstProcessed] as const]
      : [...previous.gaps];
  let { horizon } = previous;
  // the oldest gaps go first; the horizon moves past what is forgotten
  const dropped = gaps.splice(0, Math.max(0, gaps.length - maxGaps));
  if (dropped.length > 0) horizon = dropped[dropped.length - 1]![1];
  return { nextOffset, horizon, gaps };
};

/**
 * Whether the record at `offset` was processed, skipped by the mapping, is still to
 * come, or cannot be told.
 *
 * @example
 * offsetStatus({ nextOffset: 200, horizon: 0, gaps: [[100, 105]] }, 102) // 'skipped'
 */
export const offsetStatus = (state: CheckpointState, offset: number): OffsetStatus => {
  if (offset >= state.nextOffset) return 'unprocessed';
  if (offset < state.horizon) return 'unknown';
  for (const [from, to] of state.gaps) if (offset >= from && offset < to) return 'skipped';
  return 'processed';
};
