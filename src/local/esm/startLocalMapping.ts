/**
 * A local Kafka event-source mapping: consumes a topic from a real broker with a
 * consumer group and invokes a handler in-process the way Lambda's MSK mapping does.
 *
 * Shape of the work: the kafkajs consumer only fetches (each fetched message is
 * buffered per partition, its offset resolved so fetching goes on); a dispatcher builds
 * invocations from the buffers, at most one per partition at a time, and commits
 * offsets itself once the handler's answer says how far each partition got. Records
 * to deliver again are still in the buffer, so a retry never seeks.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigurationError, safeMessage } from '../../lib/errors.ts';
import { decodeKafkaRecord } from '../../lib/events/decode.ts';
import {
  buildOnFailureEnvelope,
  type OnFailureEnvelope,
} from '../../lib/events/onFailureEnvelope.ts';
import type { KafkaEvent, KafkaEventRecord } from '../../lib/events/types.ts';
import { KafkaClient } from '../../lib/kafka/index.ts';
import { readBatchOutcome } from './batchOutcome.ts';
import {
  type EventEnvelope,
  type EventRecordEntry,
  EventSize,
  MAX_PAYLOAD_BYTES,
  toEventRecordEntry,
} from './eventPayload.ts';
import { type InvokeResult, invokeHandler } from './invokeHandler.ts';
import type {
  InvocationReport,
  LambdaHandler,
  LocalMapping,
  LocalMappingEvent,
  LocalMappingHandle,
  LocalMappingStats,
  PartitionSlice,
  StartLocalMappingOptions,
} from './types.ts';

type KafkaJs = KafkaClient['raw'];
type Consumer = ReturnType<KafkaJs['consumer']>;
type Admin = ReturnType<KafkaJs['admin']>;
type RunConfig = NonNullable<Parameters<Consumer['run']>[0]>;
type EachBatchPayload = Parameters<NonNullable<RunConfig['eachBatch']>>[0];

const LOCAL_CLUSTER_ARN = (region: string, account: string) =>
  `arn:aws:kafka:${region}:${account}:cluster/local/00000000-0000-0000-0000-000000000000-1`;

interface PartitionState {
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
  failure?: { offset: number; attempts: number };
  paused: boolean;
  /** Next offset to commit, and the last one committed (-1: none yet). */
  commitTarget: number;
  committed: number;
  committedKnown: boolean;
}

interface Slice {
  state: PartitionState;
  entries: EventRecordEntry[];
}

/** One invocation's records; kept whole to be retried exactly after a function error. */
interface Batch {
  slices: Slice[];
  invokeCount: number;
  notBefore: number;
}

interface DeadLetter {
  state: PartitionState;
  entry: EventRecordEntry;
  approximateInvokeCount: number;
  requestId: string;
  responseContext: OnFailureEnvelope['responseContext'];
}

const TIMED_OUT = Symbol('timed out');

const errorText = (error: unknown) => safeMessage(error, 300);

const countOf = (batch: Batch) => batch.slices.reduce((n, s) => n + s.entries.length, 0);

/** Splits a batch in two halves of records, in event order (earlier records first). */
const bisect = (batch: Batch): [Batch, Batch] => {
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

class LocalEventSourceMapping implements LocalMappingHandle {
  readonly #mapping: LocalMapping;
  readonly #containers: readonly LambdaHandler[];
  readonly #busyContainers = new Set<number>();
  readonly #random: () => number;
  readonly #client: KafkaClient;
  readonly #admin: Admin;
  readonly #consumer: Consumer;
  readonly #envelope: EventEnvelope;
  readonly #accountId: string;
  readonly #functionArn: string;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #maxConcurrency: number;
  readonly #maxPayloadBytes: number;
  readonly #timeoutMs: number;
  readonly #windowMs: number;
  readonly #maxRetries: number;
  readonly #onEvent: ((event: LocalMappingEvent) => void) | undefined;
  readonly #highWater: { records: number; bytes: number };

  readonly #partitions = new Map<number, PartitionState>();
  /** Start offsets of partitions the group had no commit for (used on their first assignment). */
  readonly #startingOffsets = new Map<number, number>();
  /** Partitions whose starting offset is to be committed once the consumer runs. */
  readonly #startCommits: PartitionState[] = [];
  /** Batches waiting to be retried (or halves of a bisected one), oldest first. */
  readonly #pending: Batch[] = [];
  readonly #tasks = new Set<Promise<void>>();
  readonly #stats: LocalMappingStats = {
    invocations: 0,
    recordsDelivered: 0,
    failedInvocations: 0,
    partialFailures: 0,
    bisections: 0,
    onFailureRecords: 0,
    discardedRecords: 0,
    inFlight: 0,
    maxInFlight: 0,
    invocationsByContainer: [],
  };
  #timestampType = 'CREATE_TIME';
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #joined = false;
  #onJoined: (() => void) | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #crash: Error | undefined;
  #toldIgnoredFailures = false;

  constructor(options: StartLocalMappingOptions) {
    const { mapping } = options;
    this.#mapping = mapping;
    this.#containers = Array.isArray(options.handler)
      ? options.handler
      : [options.handler as LambdaHandler];
    if (this.#containers.length === 0) throw new Error('startLocalMapping: no handler given');
    this.#random = options.random ?? Math.random;
    this.#onEvent = options.onEvent;
    const brokers = (
      typeof options.brokers === 'string' ? options.brokers.split(',') : options.brokers
    )
      .map((b) => b.trim())
      .filter(Boolean);
    this.#client = new KafkaClient({
      clientId: options.clientId ?? `local-esm-${mapping.functionName}`,
      brokers,
    });
    this.#admin = this.#client.raw.admin();
    this.#consumer = this.#client.raw.consumer({
      groupId: mapping.consumerGroupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
    this.#accountId = options.accountId ?? '000000000000';
    this.#functionArn = `arn:aws:lambda:${mapping.region}:${this.#accountId}:function:${mapping.deployedFunctionName}`;
    this.#envelope =
      mapping.eventSource === 'SelfManagedKafka'
        ? { eventSource: 'SelfManagedKafka', bootstrapServers: brokers.join(',') }
        : {
            eventSource: 'aws:kafka',
            eventSourceArn:
              mapping.eventSourceArn ?? LOCAL_CLUSTER_ARN(mapping.region, this.#accountId),
            bootstrapServers: brokers.join(','),
          };
    this.#backoff = {
      initialMs: options.retryBackoff?.initialMs ?? 500,
      maxMs: options.retryBackoff?.maxMs ?? 10_000,
    };
    this.#maxConcurrency = options.maxConcurrency ?? Number.POSITIVE_INFINITY;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? MAX_PAYLOAD_BYTES;
    this.#timeoutMs = options.timeoutMs ?? mapping.timeoutSeconds * 1_000;
    this.#windowMs = mapping.maximumBatchingWindowInSeconds * 1_000;
    // "When you configure both infinite retries and an on-failure destination, Lambda
    // automatically applies a maximum of 10 retry attempts." (kafka-retry-configurations)
    this.#maxRetries =
      mapping.maximumRetryAttempts === -1 && mapping.onFailureDestination !== undefined
        ? 10
        : mapping.maximumRetryAttempts;
    this.#highWater = {
      records: Math.max(2 * mapping.batchSize, 500),
      bytes: 2 * this.#maxPayloadBytes,
    };
  }

  get stats(): Readonly<LocalMappingStats> {
    return this.#stats;
  }

  // ------------------------------------------------------------------ start

  async start(joinTimeoutMs: number): Promise<void> {
    const { topic } = this.#mapping;
    await this.#admin.connect();
    try {
      await this.#admin.fetchTopicMetadata({ topics: [topic] });
    } catch (error) {
      throw new ConfigurationError(
        `${this.#mapping.functionName}: topic ${topic} cannot be read (${errorText(error)})`,
        { cause: error },
      );
    }
    this.#timestampType = await this.#readTimestampType();
    await this.#readStartingOffsets();

    const joined = new Promise<void>((resolve) => {
      this.#onJoined = resolve;
    });
    const { events } = this.#consumer;
    this.#consumer.on(events.GROUP_JOIN, ({ payload }) => {
      this.#assign(payload.memberAssignment[topic] ?? []);
    });
    this.#consumer.on(events.FETCH_START, () => {
      // A busy partition commits with the work that holds it.
      const starting = this.#startCommits.splice(0).filter((st) => st.assigned && !st.busy);
      if (starting.length > 0) this.#run(starting, () => this.#commit(starting));
    });
    this.#consumer.on(events.END_BATCH_PROCESS, ({ payload }) => {
      const state = this.#partitions.get(payload.partition);
      if (state?.assigned) {
        state.fetchedThrough = Math.max(state.fetchedThrough, Number(payload.lastOffset) + 1);
      }
    });
    this.#consumer.on(events.CRASH, ({ payload }) => {
      this.#warn(
        `consumer crashed: ${errorText(payload.error)}${payload.restart ? ' (restarting)' : ''}`,
      );
      if (!payload.restart) this.#crash = payload.error;
    });
    await this.#consumer.connect();
    await this.#consumer.subscribe({
      topic,
      fromBeginning: this.#mapping.startingPosition === 'TRIM_HORIZON',
    });
    await this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.#receive(payload),
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), joinTimeoutMs);
    });
    const first = await Promise.race([joined, timedOut]);
    clearTimeout(timer);
    if (first === TIMED_OUT) {
      await this.stop();
      throw new Error(
        `${this.#mapping.functionName}: group ${this.#mapping.consumerGroupId} got no partitions of ${topic} within ${joinTimeoutMs} ms`,
      );
    }
  }

  async #readTimestampType(): Promise<string> {
    try {
      const described = await this.#admin.describeConfigs({
        includeSynonyms: false,
        // kafkajs' ConfigResourceTypes.TOPIC
        resources: [
          { type: 2, name: this.#mapping.topic, configNames: ['message.timestamp.type'] },
        ],
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
   * Where each partition without a committed offset starts, by StartingPosition, fixed
   * now (as a new mapping's position is fixed when it is created). The offsets are
   * sought and committed once the group assigns the partitions; afterwards the
   * mapping resumes from its commits.
   */
  async #readStartingOffsets(): Promise<void> {
    const { topic, consumerGroupId: groupId, startingPosition } = this.#mapping;
    // a coordinator still loading (a fresh broker) answers with a retriable error
    // that kafkajs's admin does not retry: the mapping must not die of it
    let current: Awaited<ReturnType<Admin['fetchOffsets']>>[number] | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        [current] = await this.#admin.fetchOffsets({ groupId, topics: [topic] });
        break;
      } catch (error) {
        if ((error as { retriable?: boolean }).retriable !== true || attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    const missing = new Set(
      (current?.partitions ?? []).filter((p) => Number(p.offset) < 0).map((p) => p.partition),
    );
    if (missing.size === 0) return;
    const bounds = await this.#admin.fetchTopicOffsets(topic);
    const high = new Map(bounds.map((p) => [p.partition, Number(p.high)]));
    let starts = bounds.map((p) => ({
      partition: p.partition,
      offset: Number(startingPosition === 'TRIM_HORIZON' ? p.low : p.high),
    }));
    if (startingPosition === 'AT_TIMESTAMP') {
      const byTime = await this.#admin.fetchTopicOffsetsByTimestamp(
        topic,
        (this.#mapping.startingPositionTimestamp ?? 0) * 1_000,
      );
      starts = byTime.map((p) => ({
        partition: p.partition,
        offset: Number(p.offset) < 0 ? (high.get(p.partition) ?? 0) : Number(p.offset),
      }));
    }
    for (const { partition, offset } of starts) {
      if (missing.has(partition)) this.#startingOffsets.set(partition, offset);
    }
  }

  #assign(partitions: number[]): void {
    const assigned = new Set(partitions);
    for (const state of this.#partitions.values()) {
      if (state.assigned && !assigned.has(state.partition)) this.#revoke(state);
    }
    const fresh: PartitionState[] = [];
    for (const partition of partitions) {
      const known = this.#partitions.get(partition);
      if (known?.assigned) continue;
      const fields = {
        assigned: true,
        buffer: [],
        bufferBytes: 0,
        fetchNext: -1,
        fetchedThrough: -1,
        notBefore: 0,
        failure: undefined,
        commitTarget: -1,
        committed: -1,
        committedKnown: false,
      };
      if (known?.paused) {
        this.#consumer.resume([{ topic: this.#mapping.topic, partitions: [partition] }]);
      }
      // A partition given back keeps its state object: an invocation of it still running
      // keeps it busy, so two never run at once.
      const state: PartitionState = known
        ? Object.assign(known, fields, { paused: false })
        : {
            partition,
            key: `${this.#mapping.topic}-${partition}`,
            busy: false,
            paused: false,
            ...fields,
          };
      this.#partitions.set(partition, state);
      fresh.push(state);
      const start = this.#startingOffsets.get(partition);
      if (start !== undefined) {
        // Sought now, before the consumer's first fetch, then committed.
        this.#startingOffsets.delete(partition);
        this.#consumer.seek({ topic: this.#mapping.topic, partition, offset: String(start) });
        state.fetchedThrough = start;
        state.commitTarget = start;
      }
    }
    if (fresh.length > 0) {
      void this.#loadCommitted(fresh);
      // kafkajs drops commits silently until its consumer runs, which the first fetch shows.
      this.#startCommits.push(...fresh.filter((s) => s.commitTarget >= 0));
    }
    this.#joined = true;
    this.#onJoined?.();
    this.#schedule();
  }

  /** A partition given to another member: what was buffered for it is dropped. */
  #revoke(state: PartitionState): void {
    state.assigned = false;
    state.buffer = [];
    state.bufferBytes = 0;
    for (const batch of this.#pending) batch.slices = batch.slices.filter((s) => s.state !== state);
  }

  async #loadCommitted(states: PartitionState[]): Promise<void> {
    for (let attempt = 1; !this.#stopping; attempt++) {
      try {
        const [result] = await this.#admin.fetchOffsets({
          groupId: this.#mapping.consumerGroupId,
          topics: [this.#mapping.topic],
        });
        const committed = new Map(
          (result?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
        );
        for (const state of states) {
          const offset = committed.get(state.partition) ?? -1;
          state.committed = Math.max(state.committed, offset);
          state.fetchedThrough = Math.max(state.fetchedThrough, offset);
          state.committedKnown = true;
        }
        return;
      } catch (error) {
        if (attempt === 1) this.#warn(`cannot read committed offsets yet: ${errorText(error)}`);
        await sleep(this.#delay(attempt));
      }
    }
  }

  // ------------------------------------------------------------------ fetching

  async #receive({ batch, resolveOffset }: EachBatchPayload): Promise<void> {
    const state = this.#partitions.get(batch.partition);
    if (!state?.assigned || this.#stopping) return; // left unresolved: fetched again
    const now = Date.now();
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      // After a rebalance the consumer fetches again from the commit: skip what is held.
      if (offset < state.fetchNext) continue;
      const entry = toEventRecordEntry(
        this.#mapping.topic,
        batch.partition,
        message,
        this.#timestampType,
        now,
      );
      state.buffer.push(entry);
      state.bufferBytes += entry.bytes;
      state.fetchNext = offset + 1;
    }
    const last = batch.messages.at(-1);
    // Resolving the last message also moves past trailing transaction markers.
    if (last) resolveOffset(last.offset);
    state.fetchedThrough = Math.max(state.fetchedThrough, Number(batch.lastOffset()) + 1);
    if (
      !state.paused &&
      (state.buffer.length >= this.#highWater.records || state.bufferBytes >= this.#highWater.bytes)
    ) {
      state.paused = true;
      this.#consumer.pause([{ topic: this.#mapping.topic, partitions: [state.partition] }]);
    }
    this.#schedule();
  }

  #maybeResume(state: PartitionState): void {
    if (
      state.paused &&
      state.buffer.length < this.#highWater.records / 2 &&
      state.bufferBytes < this.#highWater.bytes / 2
    ) {
      state.paused = false;
      this.#consumer.resume([{ topic: this.#mapping.topic, partitions: [state.partition] }]);
    }
  }

  // ------------------------------------------------------------------ dispatching

  #delay(attempt: number): number {
    return Math.min(this.#backoff.maxMs, this.#backoff.initialMs * 2 ** Math.max(0, attempt - 1));
  }

  #exhausted(failedInvocations: number): boolean {
    return this.#maxRetries >= 0 && failedInvocations > this.#maxRetries;
  }

  #inRotation(): PartitionState[] {
    const all = [...this.#partitions.values()].sort((a, b) => a.partition - b.partition);
    if (all.length === 0) return all;
    const start = this.#cursor % all.length;
    return [...all.slice(start), ...all.slice(0, start)];
  }

  /** Launches whatever can run now and sets a timer for the next thing that will. */
  #schedule = (): void => {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#stopping || !this.#joined) return;
    const now = Date.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    const full = () => this.#stats.inFlight >= this.#maxConcurrency;

    // Retries first. A partition held by an earlier waiting batch is not free for a later
    // one. A waiting slice must continue exactly where the partition (or the waiting slice
    // before it) stops; after a partial failure moved the partition back, it does not, and
    // those records are delivered afresh from the buffer instead.
    const claimed = new Set<PartitionState>();
    const expected = new Map<PartitionState, number | undefined>();
    for (const batch of [...this.#pending]) {
      batch.slices = batch.slices.filter((s) => {
        const next = expected.has(s.state)
          ? expected.get(s.state)
          : s.state.buffer[0]?.record.offset;
        const valid = s.state.assigned && s.entries[0]?.record.offset === next;
        expected.set(s.state, valid ? s.entries.at(-1)!.record.offset + 1 : Number.NaN);
        return valid;
      });
      if (batch.slices.length === 0) {
        this.#pending.splice(this.#pending.indexOf(batch), 1);
        continue;
      }
      const states = batch.slices.map((s) => s.state);
      const blocked = states.some((s) => s.busy || claimed.has(s));
      for (const s of states) claimed.add(s);
      if (blocked || full()) continue;
      if (batch.notBefore > now) {
        wakeAt = Math.min(wakeAt, batch.notBefore);
        continue;
      }
      this.#pending.splice(this.#pending.indexOf(batch), 1);
      this.#launch(batch);
    }

    // New batches from the buffers: full, at the payload cap, or the window is over.
    while (!full()) {
      const ready: PartitionState[] = [];
      for (const s of this.#inRotation()) {
        if (!s.assigned || s.busy || claimed.has(s) || s.buffer.length === 0) continue;
        if (s.notBefore > now) {
          wakeAt = Math.min(wakeAt, s.notBefore);
          continue;
        }
        ready.push(s);
      }
      if (ready.length === 0) break;

      const size = new EventSize(this.#envelope);
      const slices: Slice[] = [];
      let count = 0;
      let capped = false;
      let oversize: PartitionState | undefined;
      for (const state of ready) {
        let slice: Slice | undefined;
        for (const entry of state.buffer) {
          if (count >= this.#mapping.batchSize) break;
          if (size.with(state.key, entry.bytes) > this.#maxPayloadBytes) {
            if (count === 0) oversize = state;
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
        if (capped || count >= this.#mapping.batchSize) break;
      }
      if (oversize) {
        this.#run([oversize], () => this.#skipOversize(oversize));
        continue;
      }
      const oldest = Math.min(...ready.map((s) => s.buffer[0]!.receivedAt));
      if (!capped && count < this.#mapping.batchSize && now < oldest + this.#windowMs) {
        wakeAt = Math.min(wakeAt, oldest + this.#windowMs);
        break;
      }
      this.#cursor++;
      this.#launch({ slices, invokeCount: 0, notBefore: 0 });
    }

    if (wakeAt < Number.POSITIVE_INFINITY) {
      this.#timer = setTimeout(this.#schedule, Math.max(0, wakeAt - now));
    }
  };

  /** Runs `work` holding `states`; frees them and schedules again when it ends. */
  #run(states: PartitionState[], work: () => Promise<void>): void {
    for (const s of states) s.busy = true;
    const task = work()
      .catch((error: unknown) => this.#warn(`internal error: ${errorText(error)}`))
      .finally(() => {
        for (const s of states) s.busy = false;
        this.#tasks.delete(task);
        this.#schedule();
      });
    this.#tasks.add(task);
  }

  #launch(batch: Batch): void {
    this.#run(
      batch.slices.map((s) => s.state),
      () => this.#deliver(batch),
    );
  }

  // ------------------------------------------------------------------ invoking

  /** A container for the next invocation: at random among the idle ones (Lambda's choice is not ours). */
  #pickContainer(): number {
    const all = this.#containers.map((_, i) => i);
    const idle = all.filter((i) => !this.#busyContainers.has(i));
    const pool = idle.length > 0 ? idle : all;
    return pool[Math.min(pool.length - 1, Math.floor(this.#random() * pool.length))]!;
  }

  async #invoke(event: KafkaEvent, requestId: string): Promise<InvokeResult> {
    const container = this.#pickContainer();
    this.#busyContainers.add(container);
    this.#stats.invocationsByContainer[container] =
      (this.#stats.invocationsByContainer[container] ?? 0) + 1;
    try {
      return await this.#invokeOn(this.#containers[container]!, event, requestId);
    } finally {
      this.#busyContainers.delete(container);
    }
  }

  #invokeOn(handler: LambdaHandler, event: KafkaEvent, requestId: string): Promise<InvokeResult> {
    return invokeHandler(handler, event, {
      functionName: this.#mapping.deployedFunctionName,
      region: this.#mapping.region,
      accountId: this.#accountId,
      memorySize: this.#mapping.memorySize,
      timeoutMs: this.#timeoutMs,
      requestId,
      onTimeout: () =>
        this.#warn(
          `invocation ${requestId} timed out after ${this.#timeoutMs} ms; waiting for it to return`,
        ),
    });
  }

  async #deliver(batch: Batch): Promise<void> {
    batch.invokeCount += 1;
    const requestId = randomUUID();
    const records: Record<string, KafkaEventRecord[]> = {};
    const offsets = new Map<string, Set<number>>();
    const slices: PartitionSlice[] = [];
    for (const { state, entries } of batch.slices) {
      records[state.key] = entries.map((e) => e.record);
      offsets.set(state.key, new Set(entries.map((e) => e.record.offset)));
      slices.push({
        key: state.key,
        partition: state.partition,
        firstOffset: entries[0]!.record.offset,
        lastOffset: entries.at(-1)!.record.offset,
        count: entries.length,
      });
    }
    const payload = JSON.stringify({ ...this.#envelope, records });
    const count = countOf(batch);
    this.#stats.invocations += 1;
    this.#stats.recordsDelivered += count;
    this.#stats.inFlight += 1;
    this.#stats.maxInFlight = Math.max(this.#stats.maxInFlight, this.#stats.inFlight);
    const started = performance.now();
    // The handler gets its own copy, parsed from JSON as Lambda would hand it over.
    const result = await this.#invoke(JSON.parse(payload) as KafkaEvent, requestId).finally(() => {
      this.#stats.inFlight -= 1;
    });
    const report: InvocationReport = {
      type: 'invocation',
      functionName: this.#mapping.functionName,
      requestId,
      slices,
      records: count,
      payloadBytes: Buffer.byteLength(payload),
      attempt: batch.invokeCount,
      durationMs: Math.round(performance.now() - started),
      outcome: 'ok',
      next: 'done',
    };

    const now = Date.now();
    const deadLetters: DeadLetter[] = [];
    if (result.ok && !this.#mapping.reportBatchItemFailures && !this.#toldIgnoredFailures) {
      const failures = (result.response as { batchItemFailures?: unknown } | null)
        ?.batchItemFailures;
      if (Array.isArray(failures) && failures.length > 0) {
        this.#toldIgnoredFailures = true;
        this.#warn(
          'the handler reports batchItemFailures but the mapping has no FunctionResponseTypes: [ReportBatchItemFailures]: ignored, as Lambda does',
        );
      }
    }
    const outcome = result.ok
      ? readBatchOutcome(result.response, offsets, this.#mapping.reportBatchItemFailures)
      : undefined;

    if (outcome?.kind === 'ok') {
      for (const { state, entries } of batch.slices) {
        state.failure = undefined;
        this.#advance(state, entries.at(-1)!.record.offset + 1);
      }
    } else if (outcome?.kind === 'partial') {
      this.#stats.partialFailures += 1;
      report.outcome = 'partial';
      report.failures = [...outcome.lowest].map(([partition, offset]) => ({ partition, offset }));
      report.next = 'retry';
      for (const { state, entries } of batch.slices) {
        const failed = outcome.lowest.get(state.key);
        if (failed === undefined) {
          state.failure = undefined;
          this.#advance(state, entries.at(-1)!.record.offset + 1);
          continue;
        }
        // Lambda resumes the partition from its lowest failed offset.
        this.#advance(state, failed);
        const before = Math.max(
          state.failure?.offset === failed ? state.failure.attempts : 0,
          entries[0]!.record.offset === failed ? batch.invokeCount - 1 : 0,
        );
        const attempts = before + 1;
        if (this.#exhausted(attempts)) {
          state.failure = undefined;
          deadLetters.push({
            state,
            entry: entries.find((e) => e.record.offset === failed)!,
            approximateInvokeCount: attempts,
            requestId,
            responseContext: { statusCode: 200, executedVersion: '$LATEST' },
          });
          report.next = 'on-failure';
        } else {
          state.failure = { offset: failed, attempts };
          state.notBefore = now + this.#delay(attempts);
        }
      }
    } else {
      // A function error, a timeout, or an answer naming records not in the event:
      // the whole batch failed.
      this.#stats.failedInvocations += 1;
      if (!result.ok) {
        report.outcome = result.timedOut ? 'timeout' : 'error';
        report.error = result.error;
      } else if (outcome?.kind === 'invalid') {
        report.outcome = 'invalid-response';
        report.error = outcome.reason;
      }
      if (this.#mapping.bisectBatchOnFunctionError && count > 1) {
        const [first, second] = bisect(batch);
        first.notBefore = now + this.#delay(1);
        this.#pending.unshift(first, second);
        this.#stats.bisections += 1;
        report.next = 'bisect';
      } else if (this.#exhausted(batch.invokeCount)) {
        for (const { state, entries } of batch.slices) {
          for (const entry of entries) {
            deadLetters.push({
              state,
              entry,
              approximateInvokeCount: batch.invokeCount,
              requestId,
              responseContext: {
                statusCode: 200,
                executedVersion: '$LATEST',
                functionError: 'Unhandled',
              },
            });
          }
        }
        report.next = 'on-failure';
      } else {
        batch.notBefore = now + this.#delay(batch.invokeCount);
        this.#pending.unshift(batch);
        report.next = 'retry';
      }
    }
    this.#emit(report);

    if (deadLetters.length > 0 && (await this.#writeOnFailure(deadLetters, 'RetriesExhausted'))) {
      for (const d of deadLetters) this.#advance(d.state, d.entry.record.offset + 1);
    }
    await this.#commit(batch.slices.map((s) => s.state));
  }

  /** A record too big for any invocation: never delivered, sent on (or discarded). */
  async #skipOversize(state: PartitionState): Promise<void> {
    const entry = state.buffer[0];
    if (!entry) return;
    this.#warn(
      `${state.key}@${entry.record.offset} alone makes an event over ${this.#maxPayloadBytes} bytes: not delivered`,
    );
    const written = await this.#writeOnFailure(
      [
        {
          state,
          entry,
          approximateInvokeCount: 0,
          requestId: randomUUID(),
          responseContext: null,
        },
      ],
      'MaximumPayloadSizeExceeded',
    );
    if (written) this.#advance(state, entry.record.offset + 1);
    await this.#commit([state]);
  }

  /** Writes one AWS on-failure envelope per record; `false` if it could not (stopping). */
  async #writeOnFailure(items: DeadLetter[], condition: string): Promise<boolean> {
    const live = items.filter((d) => d.state.assigned);
    if (live.length === 0) return false;
    const destination = this.#mapping.onFailureDestination;
    const report = {
      type: 'on-failure' as const,
      functionName: this.#mapping.functionName,
      destination,
      condition,
      records: live.map((d) => ({ partition: d.state.key, offset: d.entry.record.offset })),
    };
    if (destination === undefined) {
      this.#stats.discardedRecords += live.length;
      this.#emit(report);
      return true;
    }
    const messages = live.map((d) => {
      const record = decodeKafkaRecord(d.entry.record, {
        partitionKey: d.state.key,
        topic: this.#mapping.topic,
        partition: d.state.partition,
      });
      const envelope = buildOnFailureEnvelope({
        record,
        eventSource: this.#envelope.eventSource,
        ...(this.#envelope.eventSourceArn === undefined
          ? {}
          : { eventSourceArn: this.#envelope.eventSourceArn }),
        bootstrapServers: this.#envelope.bootstrapServers,
        requestId: d.requestId,
        functionArn: this.#functionArn,
        approximateInvokeCount: d.approximateInvokeCount,
        condition,
        responseContext: d.responseContext,
      });
      // Lambda keeps the record's key on the destination message.
      return { topic: destination, key: record.key, value: JSON.stringify(envelope) };
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#client.writeIdempotent(messages);
        this.#stats.onFailureRecords += live.length;
        this.#emit(report);
        return true;
      } catch (error) {
        this.#warn(`writing to on-failure destination ${destination} failed: ${errorText(error)}`);
        if (this.#stopping) return false;
        await sleep(this.#delay(attempt));
      }
    }
  }

  // ------------------------------------------------------------------ progress

  /** Handled everything below `next`: drop it from the buffer, commit up to it. */
  #advance(state: PartitionState, next: number): void {
    if (!state.assigned) return;
    let drop = 0;
    while (drop < state.buffer.length && state.buffer[drop]!.record.offset < next) {
      state.bufferBytes -= state.buffer[drop]!.bytes;
      drop++;
    }
    state.buffer.splice(0, drop);
    state.commitTarget = Math.max(state.commitTarget, next);
    this.#maybeResume(state);
  }

  async #commit(states: PartitionState[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const due = states.filter((s) => s.assigned && s.commitTarget > s.committed);
      if (due.length === 0) return;
      const targets = due.map((s) => [s, s.commitTarget] as const);
      try {
        await this.#consumer.commitOffsets(
          targets.map(([s, offset]) => ({
            topic: this.#mapping.topic,
            partition: s.partition,
            offset: String(offset),
          })),
        );
        for (const [s, offset] of targets) s.committed = Math.max(s.committed, offset);
        return;
      } catch (error) {
        if (this.#stopping) return;
        if (attempt === 1 || attempt % 10 === 0) {
          this.#warn(`committing offsets failed (attempt ${attempt}): ${errorText(error)}`);
        }
        await sleep(this.#delay(attempt));
      }
    }
  }

  // ------------------------------------------------------------------ handle

  #quiet(): boolean {
    if (!this.#joined || this.#tasks.size > 0 || this.#pending.length > 0) return false;
    for (const s of this.#partitions.values()) {
      if (!s.assigned) continue;
      if (s.buffer.length > 0 || s.busy || !s.committedKnown || s.committed < s.commitTarget) {
        return false;
      }
    }
    return true;
  }

  #describe(): string {
    const parts = [...this.#partitions.values()]
      .filter((s) => s.assigned)
      .map(
        (s) =>
          `${s.key}: buffered ${s.buffer.length}, fetched to ${s.fetchedThrough}, committed ${s.committed}${s.busy ? ', busy' : ''}`,
      );
    return `${this.#tasks.size} running, ${this.#pending.length} waiting to retry; ${parts.join('; ')}`;
  }

  async idle(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    let lag = '';
    for (;;) {
      if (this.#crash) throw this.#crash;
      if (this.#stopping) throw new Error(`${this.#mapping.functionName}: the mapping is stopped`);
      if (this.#quiet()) {
        const ends = await this.#admin.fetchTopicOffsets(this.#mapping.topic);
        const behind = ends.filter((end) => {
          const s = this.#partitions.get(end.partition);
          return s?.assigned === true && s.fetchedThrough < Number(end.high);
        });
        if (behind.length === 0 && this.#quiet()) return;
        lag = behind
          .map((e) => `${this.#mapping.topic}-${e.partition} ends at ${e.high}`)
          .join(', ');
      }
      if (Date.now() >= deadline) {
        throw new Error(
          `${this.#mapping.functionName}: not idle after ${timeoutMs} ms (${this.#describe()}${lag ? `; ${lag}` : ''})`,
        );
      }
      await sleep(20);
    }
  }

  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping = true;
      if (this.#timer) clearTimeout(this.#timer);
      this.#onJoined?.();
      try {
        this.#consumer.pause([{ topic: this.#mapping.topic }]);
      } catch {
        // not running yet
      }
      // Running invocations finish and commit; a hung one is not waited for forever.
      await Promise.race([Promise.allSettled([...this.#tasks]), sleep(this.#timeoutMs + 2_000)]);
      await this.#consumer.disconnect().catch(() => {});
      await this.#admin.disconnect().catch(() => {});
      await this.#client.close();
    })();
    return this.#stopped;
  }

  #emit(event: LocalMappingEvent): void {
    try {
      this.#onEvent?.(event);
    } catch {
      // a listener's failure is not the mapping's
    }
  }

  #warn(message: string): void {
    this.#emit({ type: 'warning', functionName: this.#mapping.functionName, message });
  }
}

/**
 * Starts a local event-source mapping: joins the mapping's consumer group on the real
 * broker and invokes `handler` in-process with events exactly in the MSK shape, as
 * Lambda would (batch size, batching window, 6 MB payload cap, one invocation at a
 * time per partition, partial batch responses, retries with back-off, bisection, and a
 * `kafka://` on-failure destination). Resolves once the group assigned partitions.
 *
 * @example
 * const [mapping] = readMappings('serverless.yml');
 * const esm = await startLocalMapping({ mapping, handler, brokers: '127.0.0.1:9092' });
 * await esm.idle(); // everything produced so far is handled and committed
 * await esm.stop();
 */
export const startLocalMapping = async (
  options: StartLocalMappingOptions,
): Promise<LocalMappingHandle> => {
  const esm = new LocalEventSourceMapping(options);
  try {
    await esm.start(options.joinTimeoutMs ?? 30_000);
  } catch (error) {
    await esm.stop();
    throw error;
  }
  return esm;
};
