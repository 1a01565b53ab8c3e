/**
 * Sampling and statistics shared by the benchmarks: an interleaved sampler (figure
 * and baseline alternate, so machine noise hits both), medians and percentiles.
 *
 * Why not tinybench's `Bench`: it runs all iterations of one task before the next,
 * so a burst of load from another process lands on one side of a ratio only.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Median of a non-empty sample (mean of the middle two for an even count). */
export const median = (values: readonly number[]): number => {
  if (values.length === 0) throw new RangeError('median of an empty sample');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Nearest-rank percentile (`p` in 0..100) of a sample already sorted ascending.
 *
 * @example
 * percentileSorted([1, 2, 3, 4], 50) // 2
 */
export const percentileSorted = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) throw new RangeError('percentile of an empty sample');
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
};

/** Rounds for reports: 3 significant digits below 100, whole numbers above. */
export const round = (value: number): number =>
  Math.abs(value) >= 100 ? Math.round(value) : Number(value.toPrecision(3));

let collect: (() => void) | undefined | null = null;

/**
 * A full garbage collection between samples, so one sample's garbage is not
 * collected inside the next one's timing (which would charge the figure for the
 * baseline's allocations or the reverse). Exposed at run time; no flag needed.
 */
export const collectGarbage = (): void => {
  if (collect === null) {
    try {
      setFlagsFromString('--expose-gc');
      collect = runInNewContext('gc') as () => void;
    } catch {
      collect = undefined;
    }
  }
  collect?.();
};

export interface InterleaveOptions {
  /** Measured rounds; each round runs every task once. */
  runs: number;
  /** Unmeasured rounds first (JIT warm-up, connections, caches). */
  warmup: number;
  /** Full GC before each timed task (in-process CPU work); default true. */
  gcBetween?: boolean;
  /** Told after each measured round (progress). */
  onRound?: (round: number) => void;
}

/** What a task may return to report its own duration (a child process it timed). */
export interface SelfTimed {
  elapsedMs: number;
}

const isSelfTimed = (value: unknown): value is SelfTimed =>
  typeof value === 'object' && value !== null && typeof (value as SelfTimed).elapsedMs === 'number';

/**
 * Runs each task once per round, in alternating order (A B, then B A, ...), and
 * returns each task's durations in milliseconds: the call as timed here, or the
 * `elapsedMs` the task returns.
 *
 * @example
 * const s = await interleave({ floor: () => parseAll(), figure: () => handler(event) }, { runs: 15, warmup: 3 });
 * median(s.figure) / median(s.floor)
 */
export const interleave = async <K extends string>(
  tasks: Record<K, () => unknown>,
  options: InterleaveOptions,
): Promise<Record<K, number[]>> => {
  const names = Object.keys(tasks) as K[];
  const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const gcBetween = options.gcBetween ?? true;
  for (let round = 0; round < options.warmup + options.runs; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      if (gcBetween) collectGarbage();
      const started = performance.now();
      const returned = await tasks[name]();
      const elapsed = performance.now() - started;
      if (round >= options.warmup)
        samples[name].push(isSelfTimed(returned) ? returned.elapsedMs : elapsed);
    }
    if (round >= options.warmup) options.onRound?.(round - options.warmup + 1);
  }
  return samples;
};

/**
 * The per-round ratios `baseline[i] / figure[i]` of two interleaved duration samples
 * (a ratio of rates: 1 means as fast as the baseline): their median and interquartile
 * range. Neighbouring samples share the machine's load, so their ratio is steadier
 * than a ratio of two medians taken from different rounds.
 */
export const pairedRatio = (
  figureMs: readonly number[],
  baselineMs: readonly number[],
): { median: number; low: number; high: number } => {
  const ratios = figureMs.map((ms, i) => baselineMs[i]! / ms).sort((a, b) => a - b);
  return {
    median: median(ratios),
    low: round(percentileSorted(ratios, 25)),
    high: round(percentileSorted(ratios, 75)),
  };
};

/** A short unique suffix for topic names, groups and transactional ids of one run. */
export const runId = (): string =>
  `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
