/**
 * The mapping's side of the consumer group: which partitions it holds, what it fetched
 * and buffered for each (paused above a high-water mark), and the offsets it commits
 * once records are handled. Fetching never waits for the handler: a record to deliver
 * again is still in its partition's buffer, so a retry never seeks.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { safeMessage } from '../../lib/errors.ts';
import type { FetchedBatch, TopicConsumer } from '../../lib/kafka/index.ts';
import type { PartitionState } from './batches.ts';
import { type EventRecordEntry, toEventRecordEntry } from './eventPayload.ts';

const errorText = (error: unknown) => safeMessage(error, 300);

/** What the partitions need of the mapping that owns them. */
export interface PartitionHooks {
  /** Something may be ready to deliver. */
  changed(): void;
  /** A partition went to another member: forget batches waiting for it. */
  revoked(state: PartitionState): void;
  /** Runs `work` holding `states` (as an invocation would). */
  hold(states: PartitionState[], work: () => Promise<void>): void;
  warn(message: string): void;
  /** The wait before try `attempt + 1` of a failed read or commit. */
  delay(attempt: number): number;
  stopping(): boolean;
  /** Runs on fetched entries before they are buffered (the schema-registry step); `false`: drop them, they are fetched again. */
  prepare?(entries: EventRecordEntry[]): Promise<boolean>;
}

/** Where fetching starts. */
export interface FetchStart {
  /** TRIM_HORIZON: a partition without a commit is read from its start. */
  fromBeginning: boolean;
  /** Where partitions without a committed offset start (read before joining). */
  startingOffsets: Map<number, number>;
  /** The MSK event's `timestampType` of the topic's records. */
  timestampType: string;
}

export class TopicPartitions {
  readonly #consumer: TopicConsumer;
  readonly #hooks: PartitionHooks;
  /** Fetching a partition pauses at this many records or bytes buffered, resumes below half. */
  readonly #highWater: { records: number; bytes: number };
  #start: FetchStart = {
    fromBeginning: false,
    startingOffsets: new Map(),
    timestampType: 'CREATE_TIME',
  };
  readonly #states = new Map<number, PartitionState>();
  /** Partitions whose starting offset is to be committed once the consumer runs. */
  readonly #startCommits: PartitionState[] = [];
  #onJoined: (() => void) | undefined;
  /** The group assigned partitions at least once. */
  joined = false;
  /** Why the consumer stopped for good, if it did. */
  crash: Error | undefined;

  constructor(
    consumer: TopicConsumer,
    hooks: PartitionHooks,
    highWater: { records: number; bytes: number },
  ) {
    this.#consumer = consumer;
    this.#hooks = hooks;
    this.#highWater = highWater;
  }

  /** Joins the group and starts fetching; resolves on the first assignment or `stop`. */
  async run(start: FetchStart): Promise<Promise<void>> {
    this.#start = start;
    const joined = new Promise<void>((resolve) => {
      this.#onJoined = resolve;
    });
    await this.#consumer.run(
      {
        assigned: (partitions) => this.#assign(partitions),
        fetchStarted: () => {
          // A busy partition commits with the work that holds it.
          const starting = this.#startCommits.splice(0).filter((st) => st.assigned && !st.busy);
          if (starting.length > 0) this.#hooks.hold(starting, () => this.commit(starting));
        },
        batchProcessed: (partition, lastOffset) => {
          const state = this.#states.get(partition);
          if (state?.assigned)
            state.fetchedThrough = Math.max(state.fetchedThrough, Number(lastOffset) + 1);
        },
        crashed: (error, restart) => {
          this.#hooks.warn(
            `consumer crashed: ${errorText(error)}${restart ? ' (restarting)' : ''}`,
          );
          if (!restart) this.crash = error;
        },
        batch: (batch) => this.#receive(batch),
      },
      { fromBeginning: start.fromBeginning },
    );
    return joined;
  }

  /** Releases a wait for the first assignment (stopping). */
  release(): void {
    this.#onJoined?.();
  }

  /** Every partition known, in partition order, starting at `cursor` (round robin). */
  inRotation(cursor: number): PartitionState[] {
    const all = [...this.#states.values()].sort((a, b) => a.partition - b.partition);
    if (all.length === 0) return all;
    const start = cursor % all.length;
    return [...all.slice(start), ...all.slice(0, start)];
  }

  #assign(partitions: number[]): void {
    const assigned = new Set(partitions);
    for (const state of this.#states.values()) {
      if (state.assigned && !assigned.has(state.partition)) this.#revoke(state);
    }
    const fresh: PartitionState[] = [];
    for (const partition of partitions) {
      const known = this.#states.get(partition);
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
      if (known?.paused) this.#consumer.resume([partition]);
      // A partition given back keeps its state object: an invocation of it still running
      // keeps it busy, so two never run at once.
      const state: PartitionState = known
        ? Object.assign(known, fields, { paused: false })
        : {
            partition,
            key: `${this.#consumer.topic}-${partition}`,
            busy: false,
            paused: false,
            ...fields,
          };
      this.#states.set(partition, state);
      fresh.push(state);
      const start = this.#start.startingOffsets.get(partition);
      if (start !== undefined) {
        // Sought now, before the consumer's first fetch, then committed.
        this.#start.startingOffsets.delete(partition);
        this.#consumer.seek(partition, start);
        state.fetchedThrough = start;
        state.commitTarget = start;
      }
    }
    if (fresh.length > 0) {
      void this.#loadCommitted(fresh);
      // kafkajs drops commits silently until its consumer runs, which the first fetch shows.
      this.#startCommits.push(...fresh.filter((s) => s.commitTarget >= 0));
    }
    this.joined = true;
    this.#onJoined?.();
    this.#hooks.changed();
  }

  /** A partition given to another member: what was buffered for it is dropped. */
  #revoke(state: PartitionState): void {
    state.assigned = false;
    state.buffer = [];
    state.bufferBytes = 0;
    this.#hooks.revoked(state);
  }

  async #loadCommitted(states: PartitionState[]): Promise<void> {
    for (let attempt = 1; !this.#hooks.stopping(); attempt++) {
      try {
        const committed = await this.#consumer.committedOffsets();
        for (const state of states) {
          const offset = committed.get(state.partition) ?? -1;
          state.committed = Math.max(state.committed, offset);
          state.fetchedThrough = Math.max(state.fetchedThrough, offset);
          state.committedKnown = true;
        }
        return;
      } catch (error) {
        if (attempt === 1)
          this.#hooks.warn(`cannot read committed offsets yet: ${errorText(error)}`);
        await sleep(this.#hooks.delay(attempt));
      }
    }
  }

  async #receive(batch: FetchedBatch): Promise<void> {
    const state = this.#states.get(batch.partition);
    if (!state?.assigned || this.#hooks.stopping()) return; // left unresolved: fetched again
    const now = Date.now();
    const entries: EventRecordEntry[] = [];
    for (const message of batch.messages) {
      // After a rebalance the consumer fetches again from the commit: skip what is held.
      if (Number(message.offset) < state.fetchNext) continue;
      entries.push(
        toEventRecordEntry(
          this.#consumer.topic,
          batch.partition,
          message,
          this.#start.timestampType,
          now,
        ),
      );
    }
    if (this.#hooks.prepare && entries.length > 0) {
      // left unresolved when dropped: fetched again
      if (!(await this.#hooks.prepare(entries)) || !state.assigned) return;
    }
    for (const entry of entries) {
      if (entry.record.offset < state.fetchNext) continue; // fetched twice while preparing
      state.buffer.push(entry);
      state.bufferBytes += entry.bytes;
      state.fetchNext = entry.record.offset + 1;
    }
    const last = batch.messages.at(-1);
    // Resolving the last message also moves past trailing transaction markers.
    if (last) batch.resolveOffset(last.offset);
    state.fetchedThrough = Math.max(state.fetchedThrough, Number(batch.lastOffset) + 1);
    const highWater = this.#highWater;
    if (
      !state.paused &&
      (state.buffer.length >= highWater.records || state.bufferBytes >= highWater.bytes)
    ) {
      state.paused = true;
      this.#consumer.pause([state.partition]);
    }
    this.#hooks.changed();
  }

  /**
   * Handled everything below `next`: drop it from the buffer, commit up to it. Records
   * the registry step already sent on that follow are handled too.
   */
  advance(state: PartitionState, next: number): void {
    if (!state.assigned) return;
    let drop = 0;
    let through = next;
    for (const { record, registrySent } of state.buffer) {
      if (record.offset >= next && !registrySent) break;
      through = Math.max(through, record.offset + 1);
      drop++;
    }
    for (const entry of state.buffer.splice(0, drop)) state.bufferBytes -= entry.bytes;
    state.commitTarget = Math.max(state.commitTarget, through);
    const highWater = this.#highWater;
    if (
      state.paused &&
      state.buffer.length < highWater.records / 2 &&
      state.bufferBytes < highWater.bytes / 2
    ) {
      state.paused = false;
      this.#consumer.resume([state.partition]);
    }
  }

  /** Commits what `states` handled; tries again until it works or the mapping stops. */
  async commit(states: PartitionState[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const due = states.filter((s) => s.assigned && s.commitTarget > s.committed);
      if (due.length === 0) return;
      const targets = due.map((s) => [s, s.commitTarget] as const);
      try {
        await this.#consumer.commit(
          targets.map(([s, offset]) => ({ partition: s.partition, offset })),
        );
        for (const [s, offset] of targets) s.committed = Math.max(s.committed, offset);
        return;
      } catch (error) {
        if (this.#hooks.stopping()) return;
        if (attempt === 1 || attempt % 10 === 0) {
          this.#hooks.warn(`committing offsets failed (attempt ${attempt}): ${errorText(error)}`);
        }
        await sleep(this.#hooks.delay(attempt));
      }
    }
  }

  /** Every assigned partition handled and committed what it fetched. */
  settled(): boolean {
    for (const s of this.#states.values()) {
      if (!s.assigned) continue;
      if (s.buffer.length > 0 || s.busy || !s.committedKnown || s.committed < s.commitTarget) {
        return false;
      }
    }
    return true;
  }

  /** The assigned partitions the topic has records beyond what was fetched, described. */
  async lag(): Promise<string[]> {
    const ends = await this.#consumer.bounds();
    return ends
      .filter((end) => {
        const s = this.#states.get(end.partition);
        return s?.assigned === true && s.fetchedThrough < end.high;
      })
      .map((e) => `${this.#consumer.topic}-${e.partition} ends at ${e.high}`);
  }

  /** One line per assigned partition, for a timeout's message. */
  describe(): string[] {
    return [...this.#states.values()]
      .filter((s) => s.assigned)
      .map(
        (s) =>
          `${s.key}: buffered ${s.buffer.length}, fetched to ${s.fetchedThrough}, committed ${s.committed}${s.busy ? ', busy' : ''}`,
      );
  }
}
