/**
 * A local Kafka event-source mapping: consumes a topic from a real broker with a
 * consumer group and invokes a handler in-process the way Lambda's MSK mapping does.
 *
 * Shape of the work: the consumer only fetches (partitions.ts buffers each fetched
 * message per partition, its offset resolved so fetching goes on); the dispatcher here
 * builds invocations from the buffers (batches.ts), at most one per partition at a
 * time, decides what follows each answer (afterResponse.ts), and commits offsets once
 * that says how far each partition got. Records to deliver again are still in the
 * buffer, so a retry never seeks.
 * https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 * https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { safeMessage } from '../../lib/errors.ts';
import type { KafkaEvent } from '../../lib/events/types.ts';
import { KafkaClient, TopicConsumer } from '../../lib/kafka/index.ts';
import { afterResponse, ignoresFailures, retryDelay } from './afterResponse.ts';
import { type Batch, bisect, countOf, eventOf, nextBatch, type PartitionState } from './batches.ts';
import { Containers } from './containers.ts';
import { type DeadLetter, deadLettersOf, writeOnFailure } from './onFailure.ts';
import { type PartitionHooks, TopicPartitions } from './partitions.ts';
import { prepareEntries, registryStepOf, sendRegistryFailures } from './schemaRegistry.ts';
import { type MappingSettings, mappingSettings } from './settings.ts';
import { readFetchStart } from './startingOffsets.ts';
import type {
  InvocationReport,
  LambdaHandler,
  LocalMapping,
  LocalMappingEvent,
  LocalMappingHandle,
  LocalMappingStats,
  StartLocalMappingOptions,
} from './types.ts';

const TIMED_OUT = Symbol('timed out');

const errorText = (error: unknown) => safeMessage(error, 300);

class LocalEventSourceMapping implements LocalMappingHandle {
  readonly #mapping: LocalMapping;
  readonly #settings: MappingSettings;
  readonly #containers: Containers;
  readonly #client: KafkaClient;
  readonly #consumer: TopicConsumer;
  readonly #onEvent: ((event: LocalMappingEvent) => void) | undefined;
  readonly #partitions: TopicPartitions;

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
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #stopped: Promise<void> | undefined;
  #toldIgnoredFailures = false;

  constructor(options: StartLocalMappingOptions) {
    const { mapping } = options;
    this.#mapping = mapping;
    this.#containers = new Containers(
      Array.isArray(options.handler) ? options.handler : [options.handler as LambdaHandler],
      options.random ?? Math.random,
      this.#stats.invocationsByContainer,
    );
    this.#onEvent = options.onEvent;
    this.#settings = mappingSettings(options);
    const registry = registryStepOf(options);
    this.#client = new KafkaClient({
      clientId: this.#settings.clientId,
      brokers: this.#settings.brokers,
    });
    this.#consumer = new TopicConsumer(this.#client, {
      groupId: mapping.consumerGroupId,
      topic: mapping.topic,
    });
    const hooks: PartitionHooks = {
      changed: () => this.#schedule(),
      revoked: (state) => {
        for (const batch of this.#pending)
          batch.slices = batch.slices.filter((s) => s.state !== state);
      },
      hold: (states, work) => this.#run(states, work),
      warn: (message) => this.#warn(message),
      delay: (attempt) => this.#delay(attempt),
      stopping: () => this.#stopping,
    };
    if (registry) hooks.prepare = (entries) => prepareEntries(entries, registry, hooks);
    this.#partitions = new TopicPartitions(this.#consumer, hooks, this.#settings.highWater);
  }

  get stats(): Readonly<LocalMappingStats> {
    return this.#stats;
  }

  // ------------------------------------------------------------------ start

  async start(joinTimeoutMs: number): Promise<void> {
    const { topic } = this.#mapping;
    await this.#consumer.connect();
    const joined = await this.#partitions.run(await readFetchStart(this.#consumer, this.#mapping));
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

  // ------------------------------------------------------------------ dispatching

  #delay(attempt: number): number {
    return retryDelay(attempt, this.#settings.policy.backoff);
  }

  /** Launches whatever can run now and sets a timer for the next thing that will. */
  #schedule = (): void => {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#stopping || !this.#partitions.joined) return;
    const now = Date.now();
    let wakeAt = Number.POSITIVE_INFINITY;
    const full = () => this.#stats.inFlight >= this.#settings.maxConcurrency;

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
      for (const s of this.#partitions.inRotation(this.#cursor)) {
        if (!s.assigned || s.busy || claimed.has(s) || s.buffer.length === 0) continue;
        if (s.notBefore > now) {
          wakeAt = Math.min(wakeAt, s.notBefore);
          continue;
        }
        ready.push(s);
      }
      if (ready.length === 0) break;
      const next = nextBatch(ready, this.#settings.envelope, this.#settings.limits, now);
      if (next.kind === 'oversize') {
        this.#run([next.state], () => this.#skipOversize(next.state));
        continue;
      }
      if (next.kind === 'wait') {
        wakeAt = Math.min(wakeAt, next.until);
        break;
      }
      this.#cursor++;
      this.#launch({ slices: next.slices, invokeCount: 0, notBefore: 0 });
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

  async #deliver(batch: Batch): Promise<void> {
    const held = batch.slices.map((s) => s.state);
    // records that fail the registry step go on first and are never delivered
    if (!(await sendRegistryFailures(batch, this.#writeOnFailure.bind(this)))) return;
    for (const s of held) this.#partitions.advance(s, -1);
    if (batch.slices.length === 0) return this.#partitions.commit(held);
    batch.invokeCount += 1;
    const requestId = randomUUID();
    const { payload, slices } = eventOf(batch, this.#settings.envelope);
    const count = countOf(batch);
    this.#stats.invocations += 1;
    this.#stats.recordsDelivered += count;
    this.#stats.inFlight += 1;
    this.#stats.maxInFlight = Math.max(this.#stats.maxInFlight, this.#stats.inFlight);
    const started = performance.now();
    // The handler gets its own copy, parsed from JSON as Lambda would hand it over.
    const result = await this.#containers
      .invoke(JSON.parse(payload) as KafkaEvent, requestId, {
        functionName: this.#mapping.deployedFunctionName,
        region: this.#mapping.region,
        accountId: this.#settings.accountId,
        memorySize: this.#mapping.memorySize,
        timeoutMs: this.#settings.timeoutMs,
        onTimeout: () =>
          this.#warn(
            `invocation ${requestId} timed out after ${this.#settings.timeoutMs} ms; waiting for it to return`,
          ),
      })
      .finally(() => {
        this.#stats.inFlight -= 1;
      });
    if (!this.#toldIgnoredFailures && ignoresFailures(result, this.#settings.policy)) {
      this.#toldIgnoredFailures = true;
      this.#warn(
        'the handler reports batchItemFailures but the mapping has no FunctionResponseTypes: [ReportBatchItemFailures]: ignored, as Lambda does',
      );
    }

    const decision = afterResponse(
      result,
      batch.slices.map(({ state, entries }) => ({
        key: state.key,
        offsets: entries.map((e) => e.record.offset),
        failure: state.failure,
      })),
      batch.invokeCount,
      this.#settings.policy,
      Date.now(),
    );
    const report: InvocationReport = {
      type: 'invocation',
      functionName: this.#mapping.functionName,
      requestId,
      slices,
      records: count,
      payloadBytes: Buffer.byteLength(payload),
      attempt: batch.invokeCount,
      durationMs: Math.round(performance.now() - started),
      outcome: decision.outcome,
      next: decision.next,
      ...(decision.failures ? { failures: decision.failures } : {}),
      ...(decision.error === undefined ? {} : { error: decision.error }),
    };
    const deadLetters = deadLettersOf(decision, batch.slices, requestId);
    if (decision.kind === 'per-partition') {
      if (decision.outcome === 'partial') this.#stats.partialFailures += 1;
      batch.slices.forEach(({ state }, i) => {
        const step = decision.steps[i]!;
        this.#partitions.advance(state, step.next);
        state.failure = step.kind === 'retry' ? step.failure : undefined;
        if (step.kind === 'retry') state.notBefore = step.notBefore;
      });
    } else {
      // the whole batch failed
      this.#stats.failedInvocations += 1;
      if (decision.kind === 'bisect') {
        const [first, second] = bisect(batch);
        first.notBefore = decision.notBefore;
        this.#pending.unshift(first, second);
        this.#stats.bisections += 1;
      } else if (decision.kind === 'retry') {
        batch.notBefore = decision.notBefore;
        this.#pending.unshift(batch);
      }
    }
    this.#emit(report);

    if (deadLetters.length > 0 && (await this.#writeOnFailure(deadLetters, 'RetriesExhausted'))) {
      for (const d of deadLetters) this.#partitions.advance(d.state, d.entry.record.offset + 1);
    }
    await this.#partitions.commit(batch.slices.map((s) => s.state));
  }

  /** A record too big for any invocation: never delivered, sent on (or discarded). */
  async #skipOversize(state: PartitionState): Promise<void> {
    const entry = state.buffer[0];
    if (!entry) return;
    this.#warn(
      `${state.key}@${entry.record.offset} alone makes an event over ${this.#settings.limits.maxPayloadBytes} bytes: not delivered`,
    );
    const written = await this.#writeOnFailure(
      [{ state, entry, approximateInvokeCount: 0, requestId: randomUUID(), responseContext: null }],
      'MaximumPayloadSizeExceeded',
    );
    if (written) this.#partitions.advance(state, entry.record.offset + 1);
    await this.#partitions.commit([state]);
  }

  /** Writes one AWS on-failure envelope per record; `false` if it could not (stopping). */
  #writeOnFailure(items: DeadLetter[], condition: string): Promise<boolean> {
    return writeOnFailure(items, condition, {
      functionName: this.#mapping.functionName,
      destination: this.#mapping.onFailureDestination,
      target: {
        topic: this.#mapping.topic,
        envelope: this.#settings.envelope,
        functionArn: this.#settings.functionArn,
      },
      write: (messages) => this.#client.writeIdempotent(messages),
      stats: this.#stats,
      report: (report) => this.#emit(report),
      warn: (message) => this.#warn(message),
      stopping: () => this.#stopping,
      delay: (attempt) => this.#delay(attempt),
    });
  }

  // ------------------------------------------------------------------ handle

  #quiet(): boolean {
    if (!this.#partitions.joined || this.#tasks.size > 0 || this.#pending.length > 0) return false;
    return this.#partitions.settled();
  }

  #describe(): string {
    return `${this.#tasks.size} running, ${this.#pending.length} waiting to retry; ${this.#partitions.describe().join('; ')}`;
  }

  async idle(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    let lag = '';
    for (;;) {
      if (this.#partitions.crash) throw this.#partitions.crash;
      if (this.#stopping) throw new Error(`${this.#mapping.functionName}: the mapping is stopped`);
      if (this.#quiet()) {
        const behind = await this.#partitions.lag();
        if (behind.length === 0 && this.#quiet()) return;
        lag = behind.join(', ');
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
      this.#partitions.release();
      try {
        this.#consumer.pause();
      } catch {
        // not running yet
      }
      // Running invocations finish and commit; a hung one is not waited for forever.
      await Promise.race([
        Promise.allSettled([...this.#tasks]),
        sleep(this.#settings.timeoutMs + 2_000),
      ]);
      await this.#consumer.disconnect();
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
