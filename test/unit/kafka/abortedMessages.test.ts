/**
 * kafkajs 2.2.4 filters aborted transactions out of a read_committed fetch assuming the
 * broker lists them by first offset. The broker lists them in the order they were
 * aborted (its transaction index), so a record of an aborted transaction could reach
 * the local event-source mapping. `patches/kafkajs+2.2.4.patch` (applied by
 * `patch-package` on install) sorts them as the Java consumer does. These cases fail
 * without the patch; the first is the layout the fault test found on a real broker.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

interface Message {
  offset: string;
  key: Buffer | null;
  isControlRecord?: boolean;
  batchContext: { producerId: string; inTransaction: boolean };
}
type Filter = (input: {
  messages: Message[];
  abortedTransactions?: Array<{ producerId: string; firstOffset: string }>;
}) => Message[];

const filterAbortedMessages = createRequire(import.meta.url)(
  'kafkajs/src/consumer/filterAbortedMessages.js',
) as Filter;

const ABORT = Buffer.from([0, 0, 0, 0]);
const COMMIT = Buffer.from([0, 0, 0, 1]);

const record = (offset: number, producerId: string, inTransaction = true): Message => ({
  offset: String(offset),
  key: Buffer.from(`k${offset}`),
  batchContext: { producerId, inTransaction },
});
const marker = (offset: number, producerId: string, key: Buffer): Message => ({
  offset: String(offset),
  key,
  isControlRecord: true,
  batchContext: { producerId, inTransaction: true },
});

const offsetsOf = (messages: Message[]) =>
  messages.filter((m) => !m.isControlRecord).map((m) => Number(m.offset));

describe('read_committed: records of aborted transactions are filtered out', () => {
  it('drops both aborted transactions when the broker lists them out of offset order', () => {
    // txnindex of a real partition: producer 47 (from 1780) was aborted before 46 (from 1776)
    const messages = [
      marker(1775, '25', COMMIT),
      ...[1776, 1777, 1778, 1779].map((o) => record(o, '46')),
      ...[1780, 1781].map((o) => record(o, '47')),
      ...[1782, 1783].map((o) => record(o, '25')),
      marker(1784, '25', COMMIT),
      marker(1785, '47', ABORT),
      marker(1786, '46', ABORT),
    ];
    const kept = filterAbortedMessages({
      messages,
      abortedTransactions: [
        { producerId: '47', firstOffset: '1780' },
        { producerId: '46', firstOffset: '1776' },
      ],
    });
    expect(offsetsOf(kept)).toEqual([1782, 1783]);
  });

  it('takes every aborted transaction that starts before the first fetched record', () => {
    // a fetch from 1800 into two aborted transactions begun earlier, the later one first
    const messages = [record(1800, '8'), record(1801, '7'), record(1802, '9', false)];
    const kept = filterAbortedMessages({
      messages,
      abortedTransactions: [
        { producerId: '7', firstOffset: '1790' },
        { producerId: '8', firstOffset: '1795' },
      ],
    });
    expect(offsetsOf(kept)).toEqual([1802]);
  });

  it("keeps a producer's next transaction once its abort marker passed", () => {
    const messages = [
      record(10, '3'),
      marker(11, '3', ABORT),
      record(12, '3'),
      marker(13, '3', COMMIT),
    ];
    const kept = filterAbortedMessages({
      messages,
      abortedTransactions: [{ producerId: '3', firstOffset: '10' }],
    });
    expect(offsetsOf(kept)).toEqual([12]);
  });
});
