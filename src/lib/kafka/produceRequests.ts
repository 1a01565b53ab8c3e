/**
 * Produce requests: messages cut into requests the broker accepts, sent in order, and
 * the partition and offset of every message worked out from the answers. kafkajs
 * reports only a base offset per partition and request.
 */
import kafkajs from 'kafkajs';
import type { OutboundMessage, PlacedMessage } from './types.ts';

type KafkaJsProducer = ReturnType<InstanceType<typeof kafkajs.Kafka>['producer']>;
type KafkaJsMessage = Parameters<KafkaJsProducer['send']>[0]['messages'][number];

const partitionOf = new WeakMap<object, number>();

// The default partitioner (murmur2, as the Java client), remembering where each
// message went so a caller learns the partition and offset of every message.
export const recordingPartitioner = () => {
  const partition = kafkajs.Partitioners.DefaultPartitioner();
  return (args: Parameters<typeof partition>[0]) => {
    const p = partition(args);
    partitionOf.set(args.message, p);
    return p;
  };
};

/**
 * Bytes per produce request: kafkajs sends each partition's messages of a call as one
 * record batch and never splits it, and a broker refuses a batch over
 * `message.max.bytes` (1 MiB by default) with MESSAGE_TOO_LARGE on every retry. Sends
 * are cut into requests below that; a transaction may span many requests.
 */
const MAX_REQUEST_BYTES = 768 * 1024;
// per-record framing in a v2 record batch (varints, attributes, header counts): generous
const RECORD_OVERHEAD = 64;

const sizeOf = (v: Buffer | string | null | undefined) =>
  v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;

const messageBytes = (m: OutboundMessage) => {
  let n = RECORD_OVERHEAD + sizeOf(m.key) + sizeOf(m.value);
  for (const [name, v] of Object.entries(m.headers ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) n += Buffer.byteLength(name) + sizeOf(one) + 8;
  }
  return n;
};

type Chunk = {
  byTopic: Map<string, KafkaJsMessage[]>;
  ordered: Array<{ topic: string; message: KafkaJsMessage }>;
};

/** kafkajs messages grouped per topic, in requests of at most `maxBytes` each. */
export const toKafkaJsChunks = (
  messages: OutboundMessage[],
  maxBytes = MAX_REQUEST_BYTES,
): Chunk[] => {
  const chunks: Chunk[] = [];
  let chunk: Chunk | undefined;
  let bytes = 0;
  for (const m of messages) {
    const size = messageBytes(m);
    if (!chunk || (bytes + size > maxBytes && chunk.ordered.length > 0)) {
      chunk = { byTopic: new Map(), ordered: [] };
      chunks.push(chunk);
      bytes = 0;
    }
    bytes += size;
    const message: KafkaJsMessage = {
      key: m.key,
      value: m.value,
      headers: m.headers,
      ...(m.partition === undefined ? {} : { partition: m.partition }),
      ...(m.timestamp === undefined ? {} : { timestamp: m.timestamp }),
    };
    const list = chunk.byTopic.get(m.topic) ?? [];
    if (list.length === 0) chunk.byTopic.set(m.topic, list);
    list.push(message);
    chunk.ordered.push({ topic: m.topic, message });
  }
  return chunks;
};

/** Sends chunk after chunk (in order, so offsets within a partition stay in message order). */
export const sendChunks = async (
  chunks: Chunk[],
  send: (
    topicMessages: Array<{ topic: string; messages: KafkaJsMessage[] }>,
  ) => Promise<Array<{ topicName: string; partition: number; baseOffset?: string }>>,
): Promise<PlacedMessage[]> => {
  const placed: PlacedMessage[] = [];
  for (const chunk of chunks) {
    const metadata = await send(
      [...chunk.byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })),
    );
    placed.push(...placeMessages(chunk.ordered, metadata));
  }
  return placed;
};

/**
 * Offsets per message: kafkajs sends all messages of one partition in one
 * request as one record batch, so the n-th message of a partition sits at the
 * batch's base offset + n.
 */
const placeMessages = (
  ordered: Array<{ topic: string; message: KafkaJsMessage }>,
  metadata: Array<{ topicName: string; partition: number; baseOffset?: string }>,
): PlacedMessage[] => {
  const base = new Map<string, bigint>();
  for (const r of metadata)
    base.set(`${r.topicName}\u0000${r.partition}`, BigInt(r.baseOffset ?? '-1'));
  const seen = new Map<string, bigint>();
  return ordered.map(({ topic, message }) => {
    const partition = message.partition ?? partitionOf.get(message) ?? -1;
    const k = `${topic}\u0000${partition}`;
    const n = seen.get(k) ?? 0n;
    seen.set(k, n + 1n);
    const b = base.get(k) ?? -1n;
    const offset = b < 0n ? '-1' : String(b + n);
    return { topic, partition, baseOffset: String(b), offset };
  });
};
