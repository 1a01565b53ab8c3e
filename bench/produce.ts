/**
 * `produce`: records per second written to the local broker by the transactional
 * path processOrders uses (one transaction per partition batch, partitions in
 * parallel, each transaction carrying its checkpoint: a record on the checkpoint
 * topic plus the consumer offset), against the same records written by a plain
 * idempotent producer. 1 KB records.
 *
 * Two diagnostics beside it: the same transactions without the checkpoint (what the
 * checkpoint costs), and small transactions of the size a 100-record invocation
 * spread over 3 partitions writes (what one transaction costs when there is little in it).
 */
import type { KafkaClient } from '../src/lib/kafka/client.ts';
import type { OutboundMessage } from '../src/lib/kafka/types.ts';
import { benchClient, createBenchTopics } from './broker.ts';
import { interleave, median, pairedRatio, percentileSorted, round, runId } from './stats.ts';

export const PRODUCE_TARGET_RATIO = 0.8;
const RECORD_BYTES = 1024;
const PARTITIONS = 3;
/** serverless.yml's batch size (100) over 3 partitions. */
const SMALL_BATCH_RECORDS = 34;

export interface ProduceResult {
  txRecordsPerSec: number;
  baselineRecordsPerSec: number;
  /**
   * Median of the per-round ratios txRecordsPerSec / baselineRecordsPerSec (each
   * round runs both back to back), so not exactly the quotient of the two medians.
   * Target: at least 0.8.
   */
  ratio: number;
  /** Interquartile range of the per-round ratios: how much noise moved it. */
  ratioRange: { low: number; high: number };
  target: number;
  met: boolean;
  /** The transactional path without the checkpoint: what the transactions alone cost. */
  txWithoutCheckpointRecordsPerSec: number;
  /**
   * The checkpoint as a record on the compacted topic only, without the consumer-group
   * offset (`sendOffsets`: AddOffsetsToTxn + TxnOffsetCommit): what a checkpoint read
   * back from that topic instead of the group would cost. Ratio to the same baseline.
   */
  txRecordOnly: { recordsPerSec: number; ratio: number };
  /** Median and p90 milliseconds of one transaction (one partition batch, checkpoint included). */
  txMs: number;
  txP90Ms: number;
  /** Transactions of {@link SMALL_BATCH_RECORDS} records, checkpoint included. */
  smallTx: { batchRecords: number; recordsPerSec: number; txMs: number };
  recordBytes: number;
  /** Records per partition batch (one transaction). */
  batchRecords: number;
  partitions: number;
  /** Records per measured sample. */
  recordsPerSample: number;
  runs: number;
}

/** A 1 KB JSON value. Partitions are explicit, so keys only need to differ. */
const recordValue = (n: number): string => {
  const head = `{"n":${n},"pad":"`;
  return `${head}${'x'.repeat(RECORD_BYTES - head.length - 2)}"}`;
};

const partitionBatch = (topic: string, partition: number, size: number): OutboundMessage[] =>
  Array.from({ length: size }, (_, i) => {
    const n = partition * size + i;
    return { topic, partition, key: `k-${n}`, value: recordValue(n) };
  });

/**
 * Measures `produce` on its own topics: transactional (with and without the
 * checkpoint, large and small) and plain idempotent writes of identical record
 * sets, interleaved.
 */
export const measureProduce = async (options: {
  quick: boolean;
  log: (line: string) => void;
}): Promise<ProduceResult> => {
  // A partition batch stays under the broker's 1 MB `message.max.bytes`: kafkajs sends
  // all of a partition's messages as one record batch and does not split it.
  const batchRecords = options.quick ? 250 : 500;
  const rounds = options.quick ? 2 : 6;
  const smallRounds = options.quick ? 3 : 6;
  const runs = options.quick ? 3 : 9;
  const id = `bench-produce-${runId()}`;
  const topics = {
    tx: `${id}.tx`,
    bare: `${id}.tx-bare`,
    recordOnly: `${id}.tx-record-only`,
    small: `${id}.tx-small`,
    plain: `${id}.plain`,
  };
  const checkpointTopic = `${id}.checkpoints`;
  const checkpointGroup = `${id}.checkpoint-group`;

  const client: KafkaClient = benchClient(id);
  const dropTopics = await createBenchTopics(client, [
    ...Object.values(topics).map((topic) => ({ topic, partitions: PARTITIONS })),
    { topic: checkpointTopic, partitions: 1, config: { 'cleanup.policy': 'compact' } },
  ]);
  try {
    const partitions = Array.from({ length: PARTITIONS }, (_, p) => p);
    const nextOffset = new Map<string, number>();
    const durations = new Map<string, number[]>();

    /** `rounds` rounds of one transaction per partition, partitions in parallel. */
    const transactional = (
      topic: string,
      size: number,
      count: number,
      checkpoint: boolean | 'record-only',
    ) => {
      const batches = partitions.map((p) => partitionBatch(topic, p, size));
      const times: number[] = [];
      durations.set(topic, times);
      return async () => {
        for (let r = 0; r < count; r++) {
          await Promise.all(
            partitions.map(async (p) => {
              const { producer } = client.transactionalProducer(`${id}-${topic}-${p}`);
              const started = performance.now();
              if (!checkpoint) await producer.write(batches[p]!);
              else {
                const key = `${checkpointGroup}/${topic}/${p}`;
                const next = (nextOffset.get(key) ?? 0) + size;
                nextOffset.set(key, next);
                const marker = { groupId: checkpointGroup, topic, partition: p, nextOffset: next };
                await producer.write(
                  [
                    ...batches[p]!,
                    {
                      topic: checkpointTopic,
                      key,
                      value: JSON.stringify({ ...marker, committedAt: new Date().toISOString() }),
                    },
                  ],
                  checkpoint === 'record-only' ? undefined : marker,
                );
              }
              times.push(performance.now() - started);
            }),
          );
        }
      };
    };
    const plainBatch = partitions.flatMap((p) => partitionBatch(topics.plain, p, batchRecords));
    const plain = async () => {
      for (let r = 0; r < rounds; r++) await client.writeIdempotent(plainBatch);
    };

    const recordsPerSample = rounds * PARTITIONS * batchRecords;
    const smallRecordsPerSample = smallRounds * PARTITIONS * SMALL_BATCH_RECORDS;
    options.log(
      `produce: ${recordsPerSample} × ${RECORD_BYTES} B records per sample, ${PARTITIONS} partitions × ${batchRecords} per transaction, ${runs} runs`,
    );
    const samples = await interleave(
      {
        tx: transactional(topics.tx, batchRecords, rounds, true),
        txWithoutCheckpoint: transactional(topics.bare, batchRecords, rounds, false),
        txRecordOnly: transactional(topics.recordOnly, batchRecords, rounds, 'record-only'),
        smallTx: transactional(topics.small, SMALL_BATCH_RECORDS, smallRounds, true),
        plain,
      },
      { runs, warmup: 1, gcBetween: false },
    );
    const perSec = (records: number, ms: number) => (records / ms) * 1000;
    const tx = perSec(recordsPerSample, median(samples.tx));
    const paired = pairedRatio(samples.tx, samples.plain);
    const baseline = perSec(recordsPerSample, median(samples.plain));
    // the warm-up round's transactions (initTransactions included) are left out
    const measured = (topic: string, count: number) =>
      durations
        .get(topic)!
        .slice(-runs * count * PARTITIONS)
        .sort((a, b) => a - b);
    const txTimes = measured(topics.tx, rounds);
    return {
      txRecordsPerSec: Math.round(tx),
      baselineRecordsPerSec: Math.round(baseline),
      ratio: round(paired.median),
      ratioRange: { low: paired.low, high: paired.high },
      target: PRODUCE_TARGET_RATIO,
      met: paired.median >= PRODUCE_TARGET_RATIO,
      txWithoutCheckpointRecordsPerSec: Math.round(
        perSec(recordsPerSample, median(samples.txWithoutCheckpoint)),
      ),
      txRecordOnly: {
        recordsPerSec: Math.round(perSec(recordsPerSample, median(samples.txRecordOnly))),
        ratio: round(pairedRatio(samples.txRecordOnly, samples.plain).median),
      },
      txMs: round(percentileSorted(txTimes, 50)),
      txP90Ms: round(percentileSorted(txTimes, 90)),
      smallTx: {
        batchRecords: SMALL_BATCH_RECORDS,
        recordsPerSec: Math.round(perSec(smallRecordsPerSample, median(samples.smallTx))),
        txMs: round(percentileSorted(measured(topics.small, smallRounds), 50)),
      },
      recordBytes: RECORD_BYTES,
      batchRecords,
      partitions: PARTITIONS,
      recordsPerSample,
      runs,
    };
  } finally {
    await client.close();
    await dropTopics();
  }
};
