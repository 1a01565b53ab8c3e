/**
 * The parking-lot tool's operations against the cluster: read parked and dead-lettered
 * records (bounded, `read_committed`), show one, replay a selection to the orders topic
 * in one Kafka transaction, exactly once per replay id. The decisions are in
 * `parked.ts`; the CLI (`cli.ts`) only parses and prints.
 *
 * ## Exactly once per replay id
 *
 * A replay's transactional id and its marker group are derived from the replay id.
 * The transaction holds the replayed records and a commit of the marker group (offset
 * = number of records, metadata = what was replayed). A run first calls
 * `initTransactions`, which fences any other run of the same replay id and settles a
 * transaction such a run left open, then reads the marker: present means the replay
 * committed before, and nothing is written again.
 */
import type { PipelineConfig } from '../../lib/config.ts';
import {
  committedOffsetsWithMetadata,
  consumerGroupIds,
  type KafkaClient,
  type OutboundMessage,
  type PlacedMessage,
  partitionBounds,
  type ReadRange,
  readRanges,
  type StoredRecord,
} from '../../lib/kafka/index.ts';
import {
  coordinateOf,
  describeParked,
  matchesFilter,
  type ParkedFilter,
  type ParkedRecord,
  planReplay,
  replayMessage,
  type SkippedRecord,
} from './parked.ts';
import {
  decodeMarker,
  encodeMarker,
  markerCoordinates,
  type ReplayMarker,
  selectionDigest,
} from './replayMarker.ts';

/** Which stored topics to read. */
export const SOURCES = ['parking-lot', 'dlq', 'all'] as const;
export type Source = (typeof SOURCES)[number];

export interface DlqToolDeps {
  client: KafkaClient;
  config: PipelineConfig;
  /** Bound on each read. */
  timeoutMs: number;
  now?: () => Date;
}

/** The topics of a source. */
const sourceTopics = (config: PipelineConfig, source: Source): string[] =>
  source === 'parking-lot'
    ? [config.topics.parkingLot]
    : source === 'dlq'
      ? [config.topics.dlq]
      : [config.topics.parkingLot, config.topics.dlq];

/** Short names an operator may use for the configured topics. */
export const topicAliases = (config: PipelineConfig): Record<string, string> => ({
  'parking-lot': config.topics.parkingLot,
  dlq: config.topics.dlq,
  orders: config.topics.orders,
});

export interface ReadResult {
  records: ParkedRecord[];
  /** Every range was read to the high-water mark taken at the start. */
  complete: boolean;
  unfinished: ReadRange[];
  /** Records read (before filtering). */
  scanned: number;
}

const byPosition = (a: ParkedRecord, b: ParkedRecord) =>
  a.topic.localeCompare(b.topic) ||
  a.partition - b.partition ||
  (BigInt(a.offset) < BigInt(b.offset) ? -1 : BigInt(a.offset) > BigInt(b.offset) ? 1 : 0);

/**
 * The ranges to read: every partition of the topics up to its high-water mark taken now,
 * from `since` when given; with explicit coordinates only around those offsets.
 */
const planRanges = async (
  deps: DlqToolDeps,
  topics: string[],
  filter: ParkedFilter,
): Promise<ReadRange[]> => {
  const bounds = await partitionBounds(
    deps.client,
    topics,
    filter.since ? { since: filter.since } : {},
  );
  if (!filter.coordinates) {
    return bounds.map((b) => ({
      topic: b.topic,
      partition: b.partition,
      from: b.since ?? b.low,
      to: b.high,
    }));
  }
  const wanted = new Map<string, bigint[]>();
  for (const c of filter.coordinates) {
    // topic names cannot hold ':'
    const [topic, partition, offset] = c.split(':');
    const k = `${topic}:${partition}`;
    wanted.set(k, [...(wanted.get(k) ?? []), BigInt(offset!)]);
  }
  const ranges: ReadRange[] = [];
  for (const b of bounds) {
    const offsets = wanted.get(`${b.topic}:${b.partition}`);
    if (!offsets) continue;
    const sorted = [...offsets].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const min = sorted[0]!;
    const max = sorted[sorted.length - 1]!;
    const from = min > BigInt(b.low) ? min : BigInt(b.low);
    const to = max + 1n < BigInt(b.high) ? max + 1n : BigInt(b.high);
    if (from < to)
      ranges.push({ topic: b.topic, partition: b.partition, from: String(from), to: String(to) });
  }
  return ranges;
};

/**
 * Reads the records of `source` that pass `filter`, in topic, partition, offset order.
 * Bounded: reads up to the high-water marks taken at the start and stops at
 * `deps.timeoutMs` (then `complete` is false).
 */
export const readParked = async (
  deps: DlqToolDeps,
  options: { source: Source; filter: ParkedFilter },
): Promise<ReadResult> => {
  const { filter } = options;
  const topics = filter.coordinates
    ? [...new Set([...filter.coordinates].map((c) => c.split(':')[0]!))]
    : sourceTopics(deps.config, options.source);
  const ranges = await planRanges(deps, topics, filter);
  const records: ParkedRecord[] = [];
  const summary = await readRanges(deps.client, {
    groupId: `${deps.config.service}-${deps.config.stage}-dlq-tool`,
    ranges,
    timeoutMs: deps.timeoutMs,
    onRecord: (stored: StoredRecord) => {
      const parked = describeParked(stored);
      if (matchesFilter(parked, filter)) records.push(parked);
    },
  });
  return {
    records: records.sort(byPosition),
    complete: summary.complete,
    unfinished: summary.unfinished,
    scanned: summary.records,
  };
};

/** The consumer group whose committed offset marks a replay as done. */
const replayMarkerGroup = (config: PipelineConfig, replayId: string) =>
  `${markerGroupPrefix(config)}${replayId}`;

const markerGroupPrefix = (config: PipelineConfig) =>
  `${config.service}-${config.stage}-dlq-replay.`;

/** The transactional id of a replay: two runs of one replay id fence each other. */
const replayTransactionalId = (config: PipelineConfig, replayId: string) =>
  `${config.service}-${config.stage}-dlq-replay-${replayId}`;

/** The marker of a replay id, when that replay committed. */
const readReplayMarker = async (
  deps: DlqToolDeps,
  replayId: string,
): Promise<ReplayMarker | undefined> => {
  const offsets = await committedOffsetsWithMetadata(
    deps.client,
    replayMarkerGroup(deps.config, replayId),
    deps.config.topics.orders,
  );
  const commit = offsets.find((o) => o.partition === 0);
  if (!commit) return undefined;
  return (
    decodeMarker(commit.metadata) ?? {
      v: 1,
      at: '',
      n: Number(commit.offset),
      to: deps.config.topics.orders,
      digest: '',
    }
  );
};

/**
 * Records that earlier replays (any replay id) put back, from their markers:
 * coordinate → replay id. A marker whose list did not fit its metadata names none.
 */
const readEarlierReplays = async (deps: DlqToolDeps): Promise<Map<string, string>> => {
  const prefix = markerGroupPrefix(deps.config);
  const out = new Map<string, string>();
  for (const group of await consumerGroupIds(deps.client, prefix)) {
    const replayId = group.slice(prefix.length);
    const marker = await readReplayMarker(deps, replayId);
    if (marker) for (const c of markerCoordinates(marker)) out.set(c, replayId);
  }
  return out;
};

/** What a re-run of a committed replay id says about the selection it was given. */
const alreadyDone = (
  replayId: string,
  marker: ReplayMarker,
  selected: readonly ParkedRecord[],
): Extract<ReplayResult, { status: 'already-done' }> => {
  const { replay, skipped } = planReplay(selected);
  const listed = new Set(markerCoordinates(marker));
  const notCovered =
    listed.size > 0 || marker.n === 0
      ? replay.filter((r) => !listed.has(coordinateOf(r)))
      : marker.digest === selectionDigest(replay)
        ? []
        : undefined;
  return { status: 'already-done', replayId, marker, replay: [], skipped, notCovered };
};

export type ReplayResult =
  | {
      status: 'dry-run';
      replayId: string | undefined;
      messages: OutboundMessage[];
      replay: ParkedRecord[];
      skipped: SkippedRecord[];
      /** The marker, when the given replay id is already done. */
      done?: ReplayMarker;
    }
  | {
      status: 'already-done';
      replayId: string;
      marker: ReplayMarker;
      /** Nothing is replayed now. */
      replay: [];
      skipped: SkippedRecord[];
      /**
       * Replayable records of the selection now that the marker does not name (for
       * example parked since): another replay id puts them back. `undefined` when
       * the marker's list did not fit and the digest alone cannot tell which.
       */
      notCovered: ParkedRecord[] | undefined;
    }
  | {
      status: 'replayed';
      replayId: string;
      marker: ReplayMarker;
      replay: ParkedRecord[];
      skipped: SkippedRecord[];
      placed: PlacedMessage[];
    };

/**
 * Replays selected records to the orders topic (see the module comment). Without
 * `execute` nothing is written: the result says what would be.
 */
export const replayParked = async (
  deps: DlqToolDeps,
  options: { selected: readonly ParkedRecord[]; replayId?: string; execute: boolean },
): Promise<ReplayResult> => {
  const now = deps.now ?? (() => new Date());
  const to = deps.config.topics.orders;
  const plan = async () => planReplay(options.selected, await readEarlierReplays(deps));
  const { replayId } = options;

  if (!options.execute || replayId === undefined) {
    const { replay, skipped } = await plan();
    const done = replayId === undefined ? undefined : await readReplayMarker(deps, replayId);
    const at = now();
    return {
      status: 'dry-run',
      replayId,
      messages: replay.map((r) =>
        replayMessage(r, { topic: to, replayId: replayId ?? '?', now: at }),
      ),
      replay,
      skipped,
      ...(done ? { done } : {}),
    };
  }

  const txId = replayTransactionalId(deps.config, replayId);
  const { producer } = deps.client.transactionalProducer(txId, { transactionTimeoutMs: 60_000 });
  try {
    // fences any other run of this replay id and settles what it left open, so the
    // marker read next is final
    await producer.init();
    const earlier = await readReplayMarker(deps, replayId);
    if (earlier) return alreadyDone(replayId, earlier, options.selected);
    const { replay, skipped } = await plan();
    const at = now();
    const metadata = encodeMarker(replay, { to, at });
    const marker = decodeMarker(metadata)!;
    if (replay.length === 0)
      return { status: 'replayed', replayId, marker, replay, skipped, placed: [] };
    const messages = replay.map((r) => replayMessage(r, { topic: to, replayId, now: at }));
    const placed = await producer.write(messages, {
      groupId: replayMarkerGroup(deps.config, replayId),
      topic: to,
      partition: 0,
      nextOffset: replay.length,
      metadata,
    });
    return { status: 'replayed', replayId, marker, replay, skipped, placed };
  } finally {
    await deps.client.dropProducer(txId);
  }
};

/** One stored record, raw and described; `undefined` when no committed record is there. */
export const showRecord = async (
  deps: DlqToolDeps,
  at: { topic: string; partition: number; offset: string },
): Promise<{ stored: StoredRecord; parked: ParkedRecord } | undefined> => {
  const coordinate = coordinateOf(at);
  const ranges = await planRanges(deps, [at.topic], { coordinates: new Set([coordinate]) });
  let found: StoredRecord | undefined;
  const summary = await readRanges(deps.client, {
    groupId: `${deps.config.service}-${deps.config.stage}-dlq-tool`,
    ranges,
    timeoutMs: deps.timeoutMs,
    onRecord: (stored) => {
      if (stored.offset === at.offset) found = stored;
    },
  });
  if (!found && !summary.complete)
    throw new Error(`${coordinate}: not read within ${deps.timeoutMs} ms (try --timeout)`);
  return found && { stored: found, parked: describeParked(found) };
};
