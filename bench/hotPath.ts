/**
 * `hotPath`: records per second through processOrders' in-memory work for one large
 * MSK event (decode → validate → rules → result encoding → batch response), the
 * producer replaced by an in-memory sink; against the floor, base64-decode +
 * `JSON.parse` of the same values and nothing else.
 */
import { readPipelineConfig } from '../src/lib/config.ts';
import type { DeliveryKafka } from '../src/lib/delivery/processBatch.ts';
import { createProcessOrdersHandler } from '../src/lib/delivery/processOrders.ts';
import type { MSKEvent } from '../src/lib/events/types.ts';
import type { OutboundMessage } from '../src/lib/kafka/types.ts';
import { buildLargeMskEvent, LARGE_EVENT_TARGET_BYTES } from '../test/support/fixtures.ts';
import { interleave, median, pairedRatio, round } from './stats.ts';

/** Full run: one 10,000-record event of about 6 MB, Lambda's largest. */
export const HOT_PATH_RECORDS = 10_000;
/** `--quick`: a fifth of it, with records of the same size. */
export const HOT_PATH_QUICK_RECORDS = 2_000;
export const HOT_PATH_TARGET_RATIO = 0.5;

export interface HotPathResult {
  recordsPerSec: number;
  floorRecordsPerSec: number;
  /**
   * Median of the per-round ratios recordsPerSec / floorRecordsPerSec (each round runs both back
   * to back), so not exactly the quotient of the two medians. Target: at least 0.5.
   */
  ratio: number;
  /** Interquartile range of the per-round ratios: how much noise moved it. */
  ratioRange: { low: number; high: number };
  target: number;
  met: boolean;
  /** Median milliseconds per event. */
  ms: number;
  floorMs: number;
  records: number;
  eventBytes: number;
  partitions: number;
  runs: number;
}

/** What the sink saw in one invocation. */
interface SinkTally {
  results: number;
  deadLetters: number;
  checkpoints: number;
}

/**
 * A {@link DeliveryKafka} that keeps nothing: every transaction is counted and
 * dropped. Each call hands out a fresh producer with no committed checkpoint, so
 * repeated invocations of the same event process every record again instead of
 * skipping them as a redelivery.
 */
const inMemorySink = (topics: {
  processed: string;
  dlq: string;
}): {
  kafka: DeliveryKafka;
  tally: SinkTally;
} => {
  const tally: SinkTally = { results: 0, deadLetters: 0, checkpoints: 0 };
  const write = async (messages: OutboundMessage[]) => {
    for (const m of messages) {
      if (m.topic === topics.processed) tally.results++;
      else if (m.topic === topics.dlq) tally.deadLetters++;
      else tally.checkpoints++;
    }
  };
  return {
    tally,
    kafka: {
      transactionalProducer: () => ({
        producer: { usable: true, init: async () => {}, write },
        fresh: true,
      }),
      committedCheckpoints: async () => new Map(),
    },
  };
};

export interface HotPathWorkload {
  event: MSKEvent;
  records: number;
  eventBytes: number;
  partitions: number;
  /** One invocation of the processOrders core on the event. */
  figure: () => Promise<void>;
  /** base64-decode + `JSON.parse` of every value of the event. */
  floor: () => void;
}

/**
 * Builds the event and both sides of the comparison, and checks once that the
 * figure really processes every record (a benchmark of a path that dead-letters
 * everything would measure the wrong thing).
 */
export const hotPathWorkload = async (options: { quick: boolean }): Promise<HotPathWorkload> => {
  const records = options.quick ? HOT_PATH_QUICK_RECORDS : HOT_PATH_RECORDS;
  const partitions = 3;
  const event = buildLargeMskEvent({
    records,
    partitions,
    targetBytes: Math.floor((LARGE_EVENT_TARGET_BYTES * records) / HOT_PATH_RECORDS),
  });
  const eventBytes = Buffer.byteLength(JSON.stringify(event));

  // Lambda hands the handler a parsed object: both sides start from it.
  const config = readPipelineConfig({});
  const { kafka, tally } = inMemorySink(config.topics);
  const handler = createProcessOrdersHandler({ config, kafka: async () => kafka });
  const figure = async () => {
    const response = await handler(event);
    if (response.batchItemFailures.length > 0)
      throw new Error(`hotPath: ${response.batchItemFailures.length} partition(s) failed`);
  };

  const values: string[] = [];
  for (const list of Object.values(event.records))
    for (const record of list) if (record.value !== null) values.push(record.value);
  let parsed = 0;
  const floor = () => {
    for (let i = 0; i < values.length; i++) {
      const order = JSON.parse(Buffer.from(values[i]!, 'base64').toString('utf8'));
      if (order !== null) parsed++;
    }
  };

  await figure();
  if (tally.results !== records || tally.deadLetters !== 0 || tally.checkpoints !== partitions)
    throw new Error(
      `hotPath: expected ${records} results, 0 dead letters, ${partitions} checkpoints; got ${JSON.stringify(tally)}`,
    );
  floor();
  if (parsed !== records) throw new Error(`hotPath: floor parsed ${parsed} of ${records} values`);
  return { event, records, eventBytes, partitions, figure, floor };
};

/**
 * Measures `hotPath`: figure and floor interleaved, in this process, a full GC
 * between samples; medians of `runs` rounds after warm-up rounds.
 */
export const measureHotPath = async (options: {
  quick: boolean;
  log: (line: string) => void;
}): Promise<HotPathResult> => {
  const runs = options.quick ? 5 : 15;
  const warmup = options.quick ? 2 : 3;
  const work = await hotPathWorkload(options);
  options.log(
    `hotPath: ${work.records} records, ${(work.eventBytes / 1e6).toFixed(2)} MB event, ${runs} runs`,
  );
  const samples = await interleave(
    { figure: work.figure, floor: work.floor },
    { runs, warmup, gcBetween: true },
  );
  const ms = median(samples.figure);
  const floorMs = median(samples.floor);
  const recordsPerSec = (work.records / ms) * 1000;
  const floorRecordsPerSec = (work.records / floorMs) * 1000;
  const paired = pairedRatio(samples.figure, samples.floor);
  return {
    recordsPerSec: Math.round(recordsPerSec),
    floorRecordsPerSec: Math.round(floorRecordsPerSec),
    ratio: round(paired.median),
    ratioRange: { low: paired.low, high: paired.high },
    target: HOT_PATH_TARGET_RATIO,
    met: paired.median >= HOT_PATH_TARGET_RATIO,
    ms: round(ms),
    floorMs: round(floorMs),
    records: work.records,
    eventBytes: work.eventBytes,
    partitions: work.partitions,
    runs,
  };
};
