/**
 * Consumed records in the MSK event shape, and the size of an event as JSON measured
 * as it grows (Lambda caps an invocation payload at 6 MB).
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
import { toEventRecord } from '../../lib/events/decode.ts';
import type { KafkaEvent, KafkaEventRecord } from '../../lib/events/types.ts';
import type { ConsumedMessage } from '../../lib/kafka/index.ts';
import type { SchemaRegistryFailureReason } from './schemaRegistry.ts';

/** Lambda's synchronous invocation payload limit: 6 MB (6 × 1024 × 1024 bytes). */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** The event without its records. */
export interface EventEnvelope {
  eventSource: KafkaEvent['eventSource'];
  /** MSK only. */
  eventSourceArn?: string;
  bootstrapServers: string;
}

/** A record in the event's shape with its size as JSON. */
export interface EventRecordEntry {
  record: KafkaEventRecord;
  bytes: number;
  /** When the mapping received it (epoch ms): the batching window counts from here. */
  receivedAt: number;
  /** Why the schema-registry step failed it (schemaRegistry.ts): never delivered. */
  registryFailure?: SchemaRegistryFailureReason;
  /** It failed the registry step and is in the on-failure destination: handled. */
  registrySent?: boolean;
}

/**
 * A consumed message in the event's shape: key and value base64 (key left out when
 * null, value `null` when null), headers as one-key objects of byte numbers. A null
 * header value becomes an empty byte array.
 *
 * @example
 * toEventRecordEntry('orders', 0, message, 'CREATE_TIME').record.value // 'eyJ...'
 */
export const toEventRecordEntry = (
  topic: string,
  partition: number,
  message: ConsumedMessage,
  timestampType: string,
  receivedAt = Date.now(),
): EventRecordEntry => {
  const headers: Record<string, Buffer | string | Array<Buffer | string>> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value === undefined) continue;
    headers[name] = Array.isArray(value)
      ? value.map((v) => v ?? Buffer.alloc(0))
      : (value ?? Buffer.alloc(0));
  }
  const record = toEventRecord({
    topic,
    partition,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    timestampType,
    key: message.key,
    value: message.value,
    headers,
  });
  return { record, bytes: Buffer.byteLength(JSON.stringify(record)), receivedAt };
};

/**
 * Bytes of an event as JSON, kept as partitions and records are added, without
 * serialising it: the envelope, then per partition `"<key>":[...]`, records joined by commas.
 */
export class EventSize {
  #bytes: number;
  readonly #partitions = new Map<string, number>();

  constructor(envelope: EventEnvelope) {
    this.#bytes = Buffer.byteLength(JSON.stringify({ ...envelope, records: {} }));
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Bytes once a record of `bytes` is added to partition `key`. */
  with(key: string, bytes: number): number {
    const count = this.#partitions.get(key);
    if (count !== undefined) return this.#bytes + bytes + 1;
    const separator = this.#partitions.size > 0 ? 1 : 0;
    return this.#bytes + separator + Buffer.byteLength(JSON.stringify(key)) + 3 + bytes;
  }

  add(key: string, bytes: number): void {
    this.#bytes = this.with(key, bytes);
    this.#partitions.set(key, (this.#partitions.get(key) ?? 0) + 1);
  }
}
