/**
 * Reads back what a topic holds, through the project's Kafka reader (read_committed),
 * once it holds at least `atLeast` records: a just-written topic's offsets can lag on a
 * loaded machine (ListOffsets before the leader is known), and an empty read must not
 * pass for "nothing was written". Bounded: 15 s, then whatever was read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import type { KafkaClient } from '../../src/lib/kafka/client.ts';
import { partitionBounds, readRanges } from '../../src/lib/kafka/reader.ts';
import type { BrokerRecord } from '../../src/local/esm/schemaRegistry.ts';

const readOnce = async (
  client: KafkaClient,
  topic: string,
  options: { groupId: string; partition?: number },
): Promise<BrokerRecord[]> => {
  const bounds = (await partitionBounds(client, [topic])).filter(
    (b) => options.partition === undefined || b.partition === options.partition,
  );
  const out: BrokerRecord[] = [];
  const summary = await readRanges(client, {
    groupId: options.groupId,
    ranges: bounds.map((b) => ({ topic, partition: b.partition, from: b.low, to: b.high })),
    timeoutMs: 30_000,
    onRecord: (r) =>
      out.push({
        topic: r.topic,
        partition: r.partition,
        offset: Number(r.offset),
        timestamp: r.timestamp,
        key: r.key,
        value: r.value,
        headers: r.headers,
      }),
  });
  expect(summary.complete).toBe(true);
  return out;
};

/**
 * @example
 * const stored = await readBack(client, 'orders', { groupId: 'my-test', partition: 0, atLeast: 3 });
 */
export const readBack = async (
  client: KafkaClient,
  topic: string,
  options: { groupId: string; partition?: number; atLeast?: number },
): Promise<BrokerRecord[]> => {
  const until = Date.now() + 15_000;
  for (;;) {
    const records = await readOnce(client, topic, options);
    if (records.length >= (options.atLeast ?? 1) || Date.now() > until) return records;
    await sleep(200);
  }
};
