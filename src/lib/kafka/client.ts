/**
 * The Kafka client: transactional producers, checkpoint reads, topic set-up. With
 * `produceRequests.ts` beside it, the only importer of kafkajs in the product. Everything else speaks the client-neutral types of `./types.ts`, so the
 * client can be swapped (for example for `@platformatic/kafka` once Lambda's Node has
 * what it needs).
 */
import kafkajs from 'kafkajs';
import { beforeDeadline, type CallBounds } from './deadline.ts';
import { fromKafkaError } from './errors.ts';
import { recordingPartitioner, sendChunks, toKafkaJsChunks } from './produceRequests.ts';
import type {
  CommittedCheckpoint,
  OutboundMessage,
  PlacedMessage,
  TransactionalCheckpoint,
} from './types.ts';

type KafkaJs = InstanceType<typeof kafkajs.Kafka>;
type KafkaJsProducer = ReturnType<KafkaJs['producer']>;
type KafkaJsConfig = ConstructorParameters<typeof kafkajs.Kafka>[0];

/** What the client needs to reach the cluster (built by `connection.ts`). */
export interface KafkaClientConfig {
  clientId: string;
  brokers: string[] | (() => Promise<string[]>);
  ssl?: boolean | Record<string, unknown>;
  sasl?: KafkaJsConfig['sasl'];
  connectionTimeout?: number;
  requestTimeout?: number;
  retry?: KafkaJsConfig['retry'];
  /** Fault injection for tests, passed to every transactional producer of the client. */
  hooks?: ProducerHooks;
}

/** Fault-injection points of a transactional producer (tests only). */
export interface ProducerHooks {
  /** Runs inside each transaction after its sends, before its commit (EndTxn). */
  beforeCommit?: (transactionalId: string) => void | Promise<void>;
}

export interface TransactionalProducerOptions {
  /** Broker-side transaction timeout; a crashed writer's transaction is aborted after it. */
  transactionTimeoutMs?: number;
  hooks?: ProducerHooks;
}

/**
 * One transactional producer: every `write` is one Kafka transaction (messages
 * and an optional consumer-offset checkpoint), all or nothing. After any
 * failure the producer is closed and must not be used again: the owner makes a
 * new one, whose `initTransactions` resolves the old transaction and fences
 * any zombie with the same transactional id.
 */
export class TransactionalProducer {
  readonly transactionalId: string;
  #producer: KafkaJsProducer;
  #connected: Promise<void> | undefined;
  #broken = false;
  readonly #hooks: ProducerHooks | undefined;

  constructor(kafka: KafkaJs, transactionalId: string, options: TransactionalProducerOptions = {}) {
    this.transactionalId = transactionalId;
    this.#hooks = options.hooks;
    this.#producer = kafka.producer({
      transactionalId,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: options.transactionTimeoutMs ?? 60_000,
      createPartitioner: recordingPartitioner,
      // back-to-back transactions on one id meet CONCURRENT_TRANSACTIONS while the
      // coordinator writes the previous markers: retry after ~20 ms, not kafkajs's 100
      retry: { retries: 8, initialRetryTime: 20, maxRetryTime: 2_000 },
    });
  }

  /** False once a transaction failed: the owner must drop this producer. */
  get usable(): boolean {
    return !this.#broken;
  }

  /**
   * Gives the producer up after an error whose outcome is unknown (a timeout): it is
   * never used again, and its connections are closed in the background. The next
   * producer of the same id runs `initTransactions`, which fences this one and
   * completes whatever transaction it left open (Jepsen's advice for Kafka clients:
   * discard the producer after an indefinite error instead of reusing it).
   */
  #discard(tx?: { isActive(): boolean; abort(): Promise<void> }): void {
    this.#broken = true;
    void (async () => {
      if (tx?.isActive()) await tx.abort().catch(() => {});
      await this.close();
    })();
  }

  /**
   * Connects and runs `initTransactions` (fencing older producers with the same
   * id and completing their open transaction) before anything is read or written.
   * With a deadline, a late answer is a `TIMEOUT` and the producer is discarded.
   */
  async init(bounds?: CallBounds): Promise<void> {
    if (this.#broken)
      throw fromKafkaError(new Error(`producer ${this.transactionalId} is closed after a failure`));
    return beforeDeadline(this.#init(), bounds, `initTransactions of ${this.transactionalId}`, () =>
      this.#discard(),
    );
  }

  #init(): Promise<void> {
    this.#connected ??= (async () => {
      await this.#producer.connect();
      // kafkajs initialises the transactional producer id on the first
      // transaction; an empty one is started and aborted to do it eagerly.
      const tx = await this.#producer.transaction();
      await tx.abort();
    })().catch((error: unknown) => {
      this.#broken = true;
      throw fromKafkaError(error);
    });
    return this.#connected;
  }

  /**
   * Writes the messages and the checkpoint in one transaction, all or nothing. After
   * any failure the producer is closed; with a deadline, a transaction that has not
   * committed by then is a `TIMEOUT` of unknown outcome and the producer is discarded
   * at once (its transaction is aborted in the background, or by the next producer's
   * `initTransactions`).
   */
  async write(
    messages: OutboundMessage[],
    checkpoint?: TransactionalCheckpoint,
    bounds?: CallBounds,
  ): Promise<PlacedMessage[]> {
    if (this.#broken)
      throw fromKafkaError(new Error(`producer ${this.transactionalId} is closed after a failure`));
    let tx: Awaited<ReturnType<KafkaJsProducer['transaction']>> | undefined;
    let discarded = false;
    const transaction = async () => {
      await this.#init();
      const chunks = toKafkaJsChunks(messages);
      const active = await this.#producer.transaction();
      tx = active;
      const placed = await sendChunks(chunks, (topicMessages) =>
        active.sendBatch({ acks: -1, topicMessages }),
      );
      if (checkpoint) {
        await active.sendOffsets({
          consumerGroupId: checkpoint.groupId,
          topics: [
            {
              topic: checkpoint.topic,
              partitions: [
                {
                  partition: checkpoint.partition,
                  offset: String(checkpoint.nextOffset),
                  ...(checkpoint.metadata === undefined ? {} : { metadata: checkpoint.metadata }),
                },
              ],
            },
          ],
        });
      }
      await this.#hooks?.beforeCommit?.(this.transactionalId);
      await active.commit();
      return placed;
    };
    try {
      return await beforeDeadline(
        transaction(),
        bounds,
        `transaction of ${this.transactionalId}`,
        () => {
          discarded = true;
          this.#discard(tx);
        },
      );
    } catch (error) {
      if (!discarded) {
        this.#broken = true;
        if (tx?.isActive()) await tx.abort().catch(() => {});
        await this.close();
      }
      throw fromKafkaError(error);
    }
  }

  async close(): Promise<void> {
    this.#broken = true;
    await this.#producer.disconnect().catch(() => {});
  }
}

/**
 * The Kafka client of one container: a cache of transactional producers (one per
 * transactional id, kept across warm invocations), an admin connection for
 * reading checkpoints, and a plain idempotent producer.
 */
export class KafkaClient {
  readonly #kafka: KafkaJs;
  readonly #hooks: ProducerHooks | undefined;
  readonly #producers = new Map<string, TransactionalProducer>();
  #admin: Promise<ReturnType<KafkaJs['admin']>> | undefined;
  #plain: Promise<KafkaJsProducer> | undefined;

  constructor(config: KafkaClientConfig) {
    this.#hooks = config.hooks;
    this.#kafka = new kafkajs.Kafka({
      clientId: config.clientId,
      brokers: config.brokers,
      ssl: config.ssl as KafkaJsConfig['ssl'],
      sasl: config.sasl,
      connectionTimeout: config.connectionTimeout ?? 3_000,
      requestTimeout: config.requestTimeout ?? 10_000,
      retry: config.retry ?? { retries: 3, initialRetryTime: 100, maxRetryTime: 2_000 },
      logLevel: kafkajs.logLevel.NOTHING,
    });
  }

  /**
   * The cached producer for `transactionalId`, or a new one when there is none
   * or the cached one failed. `fresh` tells whether it was just created (its
   * owner's cached checkpoint can then not be trusted).
   */
  transactionalProducer(
    transactionalId: string,
    options?: TransactionalProducerOptions,
  ): { producer: TransactionalProducer; fresh: boolean } {
    const cached = this.#producers.get(transactionalId);
    if (cached?.usable) return { producer: cached, fresh: false };
    const producer = new TransactionalProducer(this.#kafka, transactionalId, {
      hooks: this.#hooks,
      ...options,
    });
    this.#producers.set(transactionalId, producer);
    return { producer, fresh: true };
  }

  /** Drops a producer from the cache and closes it (a tool that is done with a transactional id). */
  async dropProducer(transactionalId: string): Promise<void> {
    const p = this.#producers.get(transactionalId);
    this.#producers.delete(transactionalId);
    await p?.close();
  }

  async #adminClient() {
    this.#admin ??= (async () => {
      const admin = this.#kafka.admin();
      await admin.connect();
      return admin;
    })().catch((error: unknown) => {
      this.#admin = undefined;
      throw fromKafkaError(error);
    });
    return this.#admin;
  }

  /**
   * Committed offsets of `groupId` for `topic` with their metadata, per partition
   * (partitions with no commit are absent). A topic the broker does not know fails
   * fast with `UNKNOWN_TOPIC_OR_PARTITION`; with a deadline, a late answer is a `TIMEOUT`.
   */
  async committedCheckpoints(
    groupId: string,
    topic: string,
    bounds?: CallBounds,
  ): Promise<Map<number, CommittedCheckpoint>> {
    const read = async () => {
      // a coordinator that is loading or moving answers with a retriable error that
      // kafkajs's admin does not retry itself
      for (let attempt = 1; ; attempt++) {
        try {
          const admin = await this.#adminClient();
          const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
          const out = new Map<number, CommittedCheckpoint>();
          for (const p of result?.partitions ?? []) {
            const nextOffset = Number(p.offset);
            if (nextOffset >= 0)
              out.set(p.partition, { nextOffset, metadata: p.metadata ?? undefined });
          }
          return out;
        } catch (error) {
          const e = error as { retriable?: boolean; type?: string };
          const retriable = e.retriable === true && e.type !== 'UNKNOWN_TOPIC_OR_PARTITION';
          if (!retriable || attempt >= 5) {
            // closed, not only forgotten: an orphaned connection would hold the process
            // (under `invoke local`) until the broker drops idle connections, 10 minutes
            this.#resetAdmin();
            throw fromKafkaError(error, `committed offsets of ${groupId} on ${topic}`);
          }
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    };
    return beforeDeadline(read(), bounds, `checkpoint read of ${groupId} on ${topic}`, () =>
      this.#resetAdmin(),
    );
  }

  /** Forgets the admin connection (after a timeout: a late answer must land nowhere). */
  #resetAdmin(): void {
    const admin = this.#admin;
    this.#admin = undefined;
    void admin?.then((a) => a.disconnect()).catch(() => {});
  }

  /** Creates the topics that do not exist yet; returns the names it created. */
  async ensureTopics(
    topics: Array<{ topic: string; partitions: number; config?: Record<string, string> }>,
  ): Promise<string[]> {
    const admin = await this.#adminClient();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions,
        configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    // The metadata naming a leader can come before that broker hosts the partition: a
    // first write then fails with UNKNOWN_TOPIC_OR_PARTITION. ListOffsets goes to each
    // partition's leader, so its answer means every partition is ready.
    const deadline = Date.now() + 15_000;
    for (const { topic } of missing) {
      for (;;) {
        try {
          await admin.fetchTopicOffsets(topic);
          break;
        } catch (error) {
          if (Date.now() > deadline) throw fromKafkaError(error);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    }
    return missing.map((t) => t.topic);
  }

  /** A plain idempotent (not transactional) write; the produce benchmark's baseline. */
  async writeIdempotent(messages: OutboundMessage[]): Promise<PlacedMessage[]> {
    this.#plain ??= (async () => {
      const p = this.#kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: recordingPartitioner,
      });
      await p.connect();
      return p;
    })().catch((error: unknown) => {
      // a failed connect is not kept: the next write connects afresh
      this.#plain = undefined;
      throw fromKafkaError(error);
    });
    const producer = await this.#plain;
    try {
      return await sendChunks(toKafkaJsChunks(messages), (topicMessages) =>
        producer.sendBatch({ acks: -1, topicMessages }),
      );
    } catch (error) {
      throw fromKafkaError(error);
    }
  }

  /** Closes every connection of this client. */
  async close(): Promise<void> {
    await Promise.all([...this.#producers.values()].map((p) => p.close()));
    this.#producers.clear();
    if (this.#admin) await (await this.#admin.catch(() => undefined))?.disconnect().catch(() => {});
    if (this.#plain) await (await this.#plain.catch(() => undefined))?.disconnect().catch(() => {});
    this.#admin = undefined;
    this.#plain = undefined;
  }

  /** The raw kafkajs client, for the local tooling in `src/local` only. */
  get raw(): KafkaJs {
    return this.#kafka;
  }
}
