/**
 * The seams where the code telemetry observes hands it what happened. Small structural
 * shapes, owned here so that telemetry never imports what it observes (delivery, the
 * producer function, the order rules): those import telemetry, not the reverse, and any
 * value of the right shape fits (delivery's `RecordOutcome` and `PartitionResult` do).
 */
import type { DecodedRecord, PartitionBatch } from '../events/types.ts';

/** A failure as telemetry reads it: its stable code and a message. */
export interface ObservedError {
  readonly code: string;
  readonly message: string;
}

/** What telemetry reads of a record: where it lives, its key, headers and value. */
export type ObservedRecord = Pick<
  DecodedRecord,
  'topic' | 'partition' | 'offset' | 'key' | 'headers' | 'value'
>;

/** One record's outcome, as logs and metrics read it. */
export type ObservedOutcome =
  | { readonly kind: 'ok'; readonly record: ObservedRecord; readonly messages: number }
  | {
      readonly kind: 'poison' | 'retriable';
      readonly record: ObservedRecord;
      readonly error: ObservedError;
    }
  | { readonly kind: 'skipped'; readonly record: ObservedRecord; readonly checkpoint: number };

/** What a partition came to, as its span reads it. */
export interface PartitionSummary {
  readonly ok: number;
  readonly deadLettered: number;
  readonly skipped: number;
  /** Checkpoint after the batch (next offset to process). */
  readonly checkpoint?: number;
  /** Offset reported in `batchItemFailures`, if the partition stopped. */
  readonly failedAt?: number;
  readonly error?: ObservedError;
}

/** A partition's trace: started before its records are processed, ended after its commit. */
export interface PartitionSpan {
  /**
   * Trace-context headers (W3C `traceparent`, `tracestate`) of the span that writes this
   * partition's transaction; written on every message, replacing carried ones. Empty when
   * tracing is off, so carried context passes through untouched.
   */
  readonly propagation: Readonly<Record<string, string>>;
  end(result: PartitionSummary): void;
}

/** Telemetry seam of the delivery loop: tracing hangs off it instead of being woven through it. */
export interface DeliveryTelemetry {
  startPartition(batch: PartitionBatch): PartitionSpan;
}
