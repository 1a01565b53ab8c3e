/** Client-neutral types: nothing outside `src/lib/kafka` sees a kafkajs type. */

/** Header values as written: one or many values per name, bytes or text. */
export type OutboundHeaders = Record<string, Buffer | string | Array<Buffer | string>>;

export interface OutboundMessage {
  topic: string;
  /** Explicit partition; without it the key decides (murmur2, as the Java client). */
  partition?: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: OutboundHeaders;
  /** Epoch milliseconds as a string; defaults to now. */
  timestamp?: string;
}

/** Where a written message landed. */
export interface WrittenRecord {
  topic: string;
  partition: number;
  /** Base offset of the produce request that carried the message. */
  baseOffset: string;
}

/** A message with the partition and offset it was written at. */
export interface PlacedMessage extends WrittenRecord {
  offset: string;
}

/** A consumer offset committed inside the same transaction as the messages. */
export interface TransactionalCheckpoint {
  groupId: string;
  topic: string;
  partition: number;
  /** The next offset to process. */
  nextOffset: number;
  /** Offset metadata committed with it (`offset.metadata.max.bytes`, 4 KiB by default). */
  metadata?: string;
}

/** A committed consumer offset as read back. */
export interface CommittedCheckpoint {
  nextOffset: number;
  metadata?: string;
}
