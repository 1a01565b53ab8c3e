/**
 * One topic read by a consumer group that commits its offsets by hand, and the admin
 * reads that go with it (committed offsets, topic ends, offsets by time). The local
 * event-source mapping (src/local/esm) consumes through this, so kafkajs stays behind
 * the Kafka module.
 */
import type { Admin, Consumer, EachBatchPayload } from 'kafkajs';
import type { KafkaClient } from './client.ts';

/** A consumed message as the Kafka client hands it over. */
export interface ConsumedMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers?: Record<string, Buffer | string | Array<Buffer | string> | null | undefined>;
}

/** What one fetch brought for one partition. */
export interface FetchedBatch {
  partition: number;
  messages: ConsumedMessage[];
  /** The partition's last fetched offset, transaction markers included. */
  lastOffset: string;
  /** Marks every message up to `offset` handled, so fetching goes on past it. */
  resolveOffset(offset: string): void;
}

/** What the consumer tells its owner. */
export interface TopicConsumerListeners {
  /** The group gave this member `partitions` (every partition it holds now). */
  assigned(partitions: number[]): void;
  /** A fetch begins: from here on a commit is no longer dropped. */
  fetchStarted(): void;
  /** `batch` returned for `partition`; everything below `lastOffset + 1` was fetched. */
  batchProcessed(partition: number, lastOffset: string): void;
  /** The consumer failed; `restart` when it starts again by itself. */
  crashed(error: Error, restart: boolean): void;
  /** Called per fetched partition batch; a batch left unresolved is fetched again. */
  batch(batch: FetchedBatch): Promise<void>;
}

export interface TopicConsumerOptions {
  groupId: string;
  topic: string;
}

/** A partition's first and next offsets. */
export interface PartitionBounds {
  partition: number;
  low: number;
  high: number;
}

/** Tries of a group-offset read while a fresh broker's coordinator is still loading. */
const COORDINATOR_TRIES = 20;
const COORDINATOR_WAIT_MS = 250;

/**
 * A consumer group member on one topic, with manual commits, and an admin connection.
 *
 * @example
 * const consumer = new TopicConsumer(client, { groupId: 'orders-esm', topic: 'orders' });
 * await consumer.connect();
 * await consumer.run({ assigned, fetchStarted, batchProcessed, crashed, batch }, { fromBeginning: true });
 * consumer.commit([{ partition: 0, offset: 42 }]);
 */
export class TopicConsumer {
  readonly topic: string;
  readonly #groupId: string;
  readonly #admin: Admin;
  readonly #consumer: Consumer;

  constructor(client: KafkaClient, options: TopicConsumerOptions) {
    this.topic = options.topic;
    this.#groupId = options.groupId;
    this.#admin = client.raw.admin();
    this.#consumer = client.raw.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
  }

  /** Connects the admin connection (the consumer connects in {@link run}). */
  async connect(): Promise<void> {
    await this.#admin.connect();
  }

  /** Throws when the topic cannot be read (absent, or not allowed). */
  async checkTopic(): Promise<void> {
    await this.#admin.fetchTopicMetadata({ topics: [this.topic] });
  }

  /** The topic's `message.timestamp.type` as the MSK event names it; `CREATE_TIME` when unknown. */
  async timestampType(): Promise<'CREATE_TIME' | 'LOG_APPEND_TIME'> {
    try {
      const described = await this.#admin.describeConfigs({
        includeSynonyms: false,
        // kafkajs' ConfigResourceTypes.TOPIC
        resources: [{ type: 2, name: this.topic, configNames: ['message.timestamp.type'] }],
      });
      const value = described.resources[0]?.configEntries.find(
        (e) => e.configName === 'message.timestamp.type',
      )?.configValue;
      return value === 'LogAppendTime' ? 'LOG_APPEND_TIME' : 'CREATE_TIME';
    } catch {
      return 'CREATE_TIME';
    }
  }

  /**
   * The group's committed offset per partition (-1: none). With `waitForCoordinator`,
   * a retriable error (a coordinator still loading on a fresh broker, which kafkajs's
   * admin does not retry) is tried again for a few seconds.
   */
  async committedOffsets(
    options: { waitForCoordinator?: boolean } = {},
  ): Promise<Map<number, number>> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [result] = await this.#admin.fetchOffsets({
          groupId: this.#groupId,
          topics: [this.topic],
        });
        return new Map((result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      } catch (error) {
        const retriable = (error as { retriable?: boolean }).retriable === true;
        if (!options.waitForCoordinator || !retriable || attempt >= COORDINATOR_TRIES) throw error;
        await new Promise((r) => setTimeout(r, COORDINATOR_WAIT_MS));
      }
    }
  }

  /** Each partition's first and next offsets. */
  async bounds(): Promise<PartitionBounds[]> {
    const offsets = await this.#admin.fetchTopicOffsets(this.topic);
    return offsets.map((p) => ({
      partition: p.partition,
      low: Number(p.low),
      high: Number(p.high),
    }));
  }

  /** Per partition, the first offset at or after `timestampMs` (-1: none). */
  async offsetsAt(timestampMs: number): Promise<Map<number, number>> {
    const offsets = await this.#admin.fetchTopicOffsetsByTimestamp(this.topic, timestampMs);
    return new Map(offsets.map((p) => [p.partition, Number(p.offset)]));
  }

  /** Joins the group and starts fetching; offsets are committed only by {@link commit}. */
  async run(listeners: TopicConsumerListeners, options: { fromBeginning: boolean }): Promise<void> {
    const consumer = this.#consumer;
    const { events } = consumer;
    consumer.on(events.GROUP_JOIN, ({ payload }) => {
      listeners.assigned(payload.memberAssignment[this.topic] ?? []);
    });
    consumer.on(events.FETCH_START, () => listeners.fetchStarted());
    consumer.on(events.END_BATCH_PROCESS, ({ payload }) => {
      listeners.batchProcessed(payload.partition, payload.lastOffset);
    });
    consumer.on(events.CRASH, ({ payload }) => listeners.crashed(payload.error, payload.restart));
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: options.fromBeginning });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: ({ batch, resolveOffset }: EachBatchPayload) =>
        listeners.batch({
          partition: batch.partition,
          messages: batch.messages,
          lastOffset: batch.lastOffset(),
          resolveOffset,
        }),
    });
  }

  /** Stops fetching `partitions` (all of the topic's when not given). */
  pause(partitions?: number[]): void {
    this.#consumer.pause([{ topic: this.topic, ...(partitions ? { partitions } : {}) }]);
  }

  resume(partitions: number[]): void {
    this.#consumer.resume([{ topic: this.topic, partitions }]);
  }

  /** Fetches `partition` from `offset` next. */
  seek(partition: number, offset: number): void {
    this.#consumer.seek({ topic: this.topic, partition, offset: String(offset) });
  }

  /** Commits the next offset to read per partition. */
  async commit(offsets: ReadonlyArray<{ partition: number; offset: number }>): Promise<void> {
    await this.#consumer.commitOffsets(
      offsets.map(({ partition, offset }) => ({
        topic: this.topic,
        partition,
        offset: String(offset),
      })),
    );
  }

  /** Leaves the group and closes both connections; never throws. */
  async disconnect(): Promise<void> {
    await this.#consumer.disconnect().catch(() => {});
    await this.#admin.disconnect().catch(() => {});
  }
}
