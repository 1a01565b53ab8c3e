/**
 * Bounded reads for operator tooling (the parking-lot tool): read a set of
 * partition ranges `read_committed` and stop, and read a consumer group's committed
 * offsets with their metadata. It drives kafkajs through `KafkaClient.raw` and
 * reaches the cluster through a {@link KafkaClient}, so discovery and auth are the
 * functions' own.
 */
import { randomUUID } from 'node:crypto';
import type { HeaderMap } from '../events/types.ts';
import type { KafkaClient } from './client.ts';
import { fromKafkaError } from './errors.ts';

/** A record as read from a topic. Offsets are decimal strings (they may exceed 2^53). */
export interface StoredRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Epoch milliseconds. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: HeaderMap;
}

/** One partition's offsets: `low` is the first readable offset, `high` the high-water mark. */
export interface PartitionBounds {
  topic: string;
  partition: number;
  low: string;
  high: string;
  /** First offset whose timestamp is at or after `since`, when asked; `high` when none. */
  since?: string;
}

/** Offsets `[from, to)` of one partition to read. */
export interface ReadRange {
  topic: string;
  partition: number;
  from: string;
  to: string;
}

/** How a bounded read ended. */
export interface ReadSummary {
  /** Every range was read to its end. */
  complete: boolean;
  /** Ranges not read to their end by the deadline, from the next offset still unread. */
  unfinished: ReadRange[];
  records: number;
}

const retriable = (error: unknown) => (error as { retriable?: boolean }).retriable === true;

/** Retries what kafkajs's admin does not retry itself (a coordinator loading or moving). */
const withRetries = async <T>(what: () => Promise<T>): Promise<T> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await what();
    } catch (error) {
      if (!retriable(error) || attempt >= 5) throw fromKafkaError(error);
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
};

const withAdmin = async <T>(
  client: KafkaClient,
  use: (admin: ReturnType<KafkaClient['raw']['admin']>) => Promise<T>,
): Promise<T> => {
  const admin = client.raw.admin();
  try {
    await admin.connect();
    return await use(admin);
  } catch (error) {
    throw fromKafkaError(error);
  } finally {
    await admin.disconnect().catch(() => {});
  }
};

/**
 * The low and high-water marks of every partition of `topics`, taken now, and with
 * `since` the first offset of each partition written at or after that time.
 *
 * @example
 * const bounds = await partitionBounds(client, ['orders.parking-lot'], { since: new Date(Date.now() - 3_600_000) });
 */
export const partitionBounds = async (
  client: KafkaClient,
  topics: readonly string[],
  options: { since?: Date } = {},
): Promise<PartitionBounds[]> =>
  withAdmin(client, async (admin) => {
    const out: PartitionBounds[] = [];
    for (const topic of topics) {
      const offsets = await withRetries(() => admin.fetchTopicOffsets(topic));
      const byTime = options.since
        ? await withRetries(() =>
            admin.fetchTopicOffsetsByTimestamp(topic, options.since!.getTime()),
          )
        : [];
      for (const p of offsets) {
        const bounds: PartitionBounds = {
          topic,
          partition: p.partition,
          low: p.low,
          high: p.high,
        };
        if (options.since) {
          // ListOffsets answers -1 when no record is that recent
          const at = byTime.find((b) => b.partition === p.partition)?.offset ?? '-1';
          bounds.since = BigInt(at) < 0n ? p.high : at;
        }
        out.push(bounds);
      }
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  });

/**
 * Reads the ranges `read_committed` and hands each record to `onRecord` in offset order
 * per partition; returns when every range is read to its end or at `timeoutMs`, whichever
 * comes first: it never waits for records that are not there. An open transaction holds
 * a `read_committed` reader back until it ends, which the timeout bounds too.
 *
 * The consumer joins a throwaway group (`groupId`, never committed, deleted afterwards):
 * kafkajs has no group-less assignment.
 *
 * @example
 * const summary = await readRanges(client, {
 *   groupId: 'svc-dev-dlq-tool', ranges: [{ topic: 'orders.parking-lot', partition: 0, from: '0', to: '42' }],
 *   timeoutMs: 30_000, onRecord: (r) => console.log(r.offset),
 * });
 */
export const readRanges = async (
  client: KafkaClient,
  options: {
    /** Prefix of the throwaway consumer group; a random suffix is added. */
    groupId: string;
    ranges: readonly ReadRange[];
    timeoutMs: number;
    onRecord: (record: StoredRecord) => void;
  },
): Promise<ReadSummary> => {
  const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;
  const pending = new Map<string, ReadRange & { next: bigint; end: bigint }>();
  for (const r of options.ranges) {
    const next = BigInt(r.from);
    const end = BigInt(r.to);
    if (next < end) pending.set(key(r.topic, r.partition), { ...r, next, end });
  }
  if (pending.size === 0) return { complete: true, unfinished: [], records: 0 };

  const topics = [...new Set([...pending.values()].map((r) => r.topic))];
  const groupId = `${options.groupId}.${randomUUID()}`;
  const consumer = client.raw.consumer({
    groupId,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    sessionTimeout: 10_000,
    heartbeatInterval: 1_000,
    maxWaitTimeInMs: 250,
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
  });
  let records = 0;
  let finish: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let crash: unknown;
  const advance = (topic: string, partition: number, lastOffset: string) => {
    const range = pending.get(key(topic, partition));
    if (!range) return;
    const next = BigInt(lastOffset) + 1n;
    if (next > range.next) range.next = next;
    if (range.next >= range.end) {
      pending.delete(key(topic, partition));
      consumer.pause([{ topic, partitions: [partition] }]);
      if (pending.size === 0) finish();
    }
  };
  const { events } = consumer;
  // also fires for batches that held only transaction markers or aborted records,
  // which never reach eachBatch: how the reader learns it passed the end
  consumer.on(events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.lastOffset !== null) advance(payload.topic, payload.partition, payload.lastOffset);
  });
  consumer.on(events.GROUP_JOIN, ({ payload }) => {
    for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
      for (const partition of partitions) {
        const range = pending.get(key(topic, partition));
        // the group is new: it starts at the beginning unless sought to the range
        if (range) consumer.seek({ topic, partition, offset: String(range.next) });
        else consumer.pause([{ topic, partitions: [partition] }]);
      }
    }
  });
  consumer.on(events.CRASH, ({ payload }) => {
    if (!payload.restart) {
      crash = payload.error;
      finish();
    }
  });

  const timer = setTimeout(finish, options.timeoutMs);
  try {
    await consumer.connect();
    for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch }) => {
        const range = pending.get(key(batch.topic, batch.partition));
        if (!range) return;
        for (const m of batch.messages) {
          const offset = BigInt(m.offset);
          if (offset < range.next || offset >= range.end) continue;
          const headers: HeaderMap = new Map();
          for (const [name, v] of Object.entries(m.headers ?? {})) {
            const values = (Array.isArray(v) ? v : [v]).filter((x) => x !== undefined);
            headers.set(
              name,
              values.map((x) => (typeof x === 'string' ? Buffer.from(x) : x)),
            );
          }
          records++;
          options.onRecord({
            topic: batch.topic,
            partition: batch.partition,
            offset: m.offset,
            timestamp: Number(m.timestamp),
            key: m.key ?? null,
            value: m.value ?? null,
            headers,
          });
        }
      },
    });
    await finished;
  } catch (error) {
    crash ??= error;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect().catch(() => {});
    await withAdmin(client, (admin) => admin.deleteGroups([groupId])).catch(() => {});
  }
  if (crash !== undefined) throw fromKafkaError(crash);
  const unfinished = [...pending.values()].map(({ topic, partition, next, end }) => ({
    topic,
    partition,
    from: String(next),
    to: String(end),
  }));
  return { complete: unfinished.length === 0, unfinished, records };
};

/** A committed consumer offset with its metadata. */
export interface CommittedOffset {
  partition: number;
  offset: string;
  metadata: string | null;
}

/**
 * The committed offsets of `groupId` for `topic` with their metadata (partitions with
 * no commit are absent). An offset committed in a transaction shows once it committed.
 */
export const committedOffsetsWithMetadata = async (
  client: KafkaClient,
  groupId: string,
  topic: string,
): Promise<CommittedOffset[]> =>
  withAdmin(client, async (admin) => {
    const [result] = await withRetries(() => admin.fetchOffsets({ groupId, topics: [topic] }));
    return (result?.partitions ?? [])
      .filter((p) => BigInt(p.offset) >= 0n)
      .map((p) => ({ partition: p.partition, offset: p.offset, metadata: p.metadata ?? null }));
  });

/** Ids of the consumer groups whose id starts with `prefix`. */
export const consumerGroupIds = async (client: KafkaClient, prefix: string): Promise<string[]> =>
  withAdmin(client, async (admin) => {
    const { groups } = await withRetries(() => admin.listGroups());
    return groups
      .map((g) => g.groupId)
      .filter((id) => id.startsWith(prefix))
      .sort();
  });
