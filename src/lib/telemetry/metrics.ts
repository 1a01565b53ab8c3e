/**
 * The pipeline's CloudWatch metrics through Powertools Metrics (EMF lines on stdout,
 * which CloudWatch turns into metrics without an API call). Counts are summed in
 * memory during an invocation and written once, as one EMF line, when
 * {@link PipelineMetrics.publish} runs (from `withTelemetry`, before the handler returns).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { PartitionBatch } from '../events/types.ts';
import type { ObservedOutcome } from './types.ts';

const DEFAULT_METRICS_NAMESPACE = 'OrderPipeline';

/** Counter names, as they appear in CloudWatch. */
const COUNTERS = [
  'processed',
  'accepted',
  'rejected',
  'deadLettered',
  'retried',
  'republished',
  'parked',
  'skipped',
  // republishDlq: on-failure envelopes of records whose result had committed
  'alreadyProcessed',
  // processBatch: cached producers fenced by another container, replaced in the invocation
  'fencedReinits',
  // produceOrders: orders written, orders answered from the idempotency store, invalid requests
  'emitted',
  'replayed',
  'invalid',
] as const;
export type CounterName = (typeof COUNTERS)[number];

/** Partitions stopped and reported in `batchItemFailures`, per error code. */
const PARTITIONS_STOPPED = 'partitionsStopped';

/** Records per invocation. */
const BATCH_SIZE = 'batchSize';
/** Largest `now − record timestamp` of an invocation's records, on arrival. */
const LAG_MS = 'lagMs';

const OUTCOME_COUNTER = {
  ok: 'processed',
  poison: 'deadLettered',
  retriable: 'retried',
  skipped: 'skipped',
} as const satisfies Record<ObservedOutcome['kind'], CounterName>;

export interface PipelineMetricsOptions {
  /** Where `POWERTOOLS_METRICS_NAMESPACE` / `POWERTOOLS_SERVICE_NAME` are read. */
  env?: NodeJS.ProcessEnv;
  namespace?: string;
  serviceName?: string;
  defaultDimensions?: Record<string, string>;
  /** A Powertools instance to use instead of a new one (tests). */
  metrics?: Metrics;
  now?: () => number;
}

/**
 * An invocation's metrics: counters for record outcomes and order results, the batch
 * size and the consumer lag, published as one EMF line.
 *
 * @example
 * const metrics = createMetrics();
 * createProcessOrdersHandler({ config, kafka, onOutcome: metrics.recordOutcome });
 */
export class PipelineMetrics {
  readonly powertools: Metrics;
  readonly #now: () => number;
  readonly #counts = new Map<CounterName, number>();
  readonly #stops = new Map<string, number>();
  #batchSize: number | undefined;
  #lagMs: number | undefined;

  constructor(options: PipelineMetricsOptions = {}) {
    const env = options.env ?? process.env;
    this.#now = options.now ?? Date.now;
    this.powertools =
      options.metrics ??
      new Metrics({
        namespace:
          options.namespace ??
          (env.POWERTOOLS_METRICS_NAMESPACE?.trim() || DEFAULT_METRICS_NAMESPACE),
        serviceName:
          options.serviceName ??
          (env.POWERTOOLS_SERVICE_NAME?.trim() || env.SERVICE_NAME?.trim() || 'msk-order-pipeline'),
        ...(options.defaultDimensions ? { defaultDimensions: options.defaultDimensions } : {}),
      });
  }

  /** Adds to a counter. */
  count(name: CounterName, by = 1): void {
    this.#counts.set(name, (this.#counts.get(name) ?? 0) + by);
  }

  /** Counts one record outcome; shaped like processBatch's `onOutcome`, pass it as is. */
  readonly recordOutcome = (outcome: Pick<ObservedOutcome, 'kind'>): void => {
    this.count(OUTCOME_COUNTER[outcome.kind]);
  };

  /** Counts a stopped partition under its error code (`partitionsStopped`, dimension `errorCode`). */
  recordStop(code: string): void {
    this.#stops.set(code, (this.#stops.get(code) ?? 0) + 1);
  }

  /** Counts an order result written by processOrders: accepted or rejected by the rules. */
  recordOrderResult(result: { readonly status: 'accepted' | 'rejected' }): void {
    this.count(result.status === 'accepted' ? 'accepted' : 'rejected');
  }

  /**
   * Batch size and lag of a Kafka event, read without decoding it (any other event is
   * ignored): `withTelemetry` calls this at the start of each invocation.
   */
  observeEvent(event: unknown): void {
    const records = (event as { records?: unknown } | null)?.records;
    if (records === null || typeof records !== 'object') return;
    const timestamps: number[] = [];
    for (const list of Object.values(records))
      if (Array.isArray(list))
        for (const r of list) timestamps.push((r as { timestamp?: unknown })?.timestamp as number);
    this.#observe(timestamps);
  }

  /** Batch size and lag of decoded partitions. */
  observeBatch(partitions: readonly PartitionBatch[]): void {
    this.#observe(partitions.flatMap((p) => p.records.map((r) => r.timestamp)));
  }

  #observe(timestamps: readonly number[]): void {
    this.#batchSize = (this.#batchSize ?? 0) + timestamps.length;
    const now = this.#now();
    for (const t of timestamps) {
      if (!Number.isFinite(t) || t <= 0) continue;
      // a producer clock ahead of ours is no lag, not a negative one
      const lag = Math.max(0, now - t);
      this.#lagMs = Math.max(this.#lagMs ?? 0, lag);
    }
  }

  /**
   * Writes what the invocation recorded as one EMF line (counters that moved, batch
   * size, lag) and starts over. Writes nothing when nothing was recorded.
   */
  publish(): void {
    let any = false;
    for (const name of COUNTERS) {
      const value = this.#counts.get(name);
      if (value) {
        this.powertools.addMetric(name, MetricUnit.Count, value);
        any = true;
      }
    }
    if (this.#batchSize !== undefined) {
      this.powertools.addMetric(BATCH_SIZE, MetricUnit.Count, this.#batchSize);
      any = true;
    }
    if (this.#lagMs !== undefined) {
      this.powertools.addMetric(LAG_MS, MetricUnit.Milliseconds, this.#lagMs);
      any = true;
    }
    // one metric per code: its own EMF line with an `errorCode` dimension
    for (const [code, n] of this.#stops) {
      const single = this.powertools.singleMetric();
      single.addDimension('errorCode', code);
      single.addMetric(PARTITIONS_STOPPED, MetricUnit.Count, n);
    }
    this.#stops.clear();
    this.#counts.clear();
    this.#batchSize = undefined;
    this.#lagMs = undefined;
    if (any) this.powertools.publishStoredMetrics();
  }
}

/**
 * The container's metrics: namespace from `POWERTOOLS_METRICS_NAMESPACE` (default
 * `OrderPipeline`), service from `POWERTOOLS_SERVICE_NAME`.
 *
 * @example
 * const metrics = createMetrics();
 */
export const createMetrics = (
  env: NodeJS.ProcessEnv = process.env,
  options: Omit<PipelineMetricsOptions, 'env'> = {},
): PipelineMetrics => new PipelineMetrics({ ...options, env });
