import { describe, expect, it } from 'vitest';
import {
  decodeCheckpoint,
  encodeCheckpoint,
  offsetStatus,
} from '../../../src/lib/delivery/checkpoint.ts';
import { DLQ_HEADERS } from '../../../src/lib/delivery/deadLetter.ts';
import {
  COMMIT_RESERVE_MS,
  type DeliveryKafka,
  type DeliveryOptions,
  type PartitionWriter,
  processBatch,
  type RecordOutcome,
} from '../../../src/lib/delivery/processBatch.ts';
import { PoisonRecordError, RetriableError } from '../../../src/lib/errors.ts';
import type { PartitionBatch } from '../../../src/lib/events/types.ts';
import { beforeDeadline } from '../../../src/lib/kafka/deadline.ts';
import type {
  CommittedCheckpoint,
  OutboundMessage,
  TransactionalCheckpoint,
} from '../../../src/lib/kafka/types.ts';
import { decodedRecord } from './records.ts';

/** An in-memory stand-in for the transactional writer: commits are lists, failures are injected. */
class MemoryKafka implements DeliveryKafka {
  committed: Array<{
    id: string;
    messages: OutboundMessage[];
    checkpoint?: TransactionalCheckpoint;
  }> = [];
  offsets = new Map<string, CommittedCheckpoint>();
  failNextWrite = false;
  /** The next write never answers (a broker that went silent mid-transaction). */
  hangNextWrite = false;
  inits = 0;
  /** Transactional ids whose cached producer another container has fenced. */
  readonly fenced = new Set<string>();
  readonly producers = new Map<string, PartitionWriter>();

  transactionalProducer(id: string) {
    const existing = this.producers.get(id);
    if (existing?.usable) return { producer: existing, fresh: false };
    let usable = true;
    const producer: PartitionWriter = {
      get usable() {
        return usable;
      },
      init: async () => {
        this.inits++;
      },
      write: async (messages, checkpoint, bounds) => {
        if (this.hangNextWrite) {
          // as the Kafka client does: no answer by the deadline is a TIMEOUT, the producer is given up
          this.hangNextWrite = false;
          usable = false;
          return beforeDeadline(new Promise<never>(() => {}), bounds, 'transaction');
        }
        if (this.fenced.delete(id)) {
          usable = false;
          throw new RetriableError('PRODUCER_FENCED', 'injected: a newer producer has this id');
        }
        if (this.failNextWrite) {
          this.failNextWrite = false;
          usable = false;
          throw new RetriableError('BROKER_UNAVAILABLE', 'injected');
        }
        this.committed.push({ id, messages, checkpoint });
        if (checkpoint)
          this.offsets.set(`${checkpoint.groupId}/${checkpoint.topic}/${checkpoint.partition}`, {
            nextOffset: checkpoint.nextOffset,
            metadata: checkpoint.metadata,
          });
      },
    };
    this.producers.set(id, producer);
    return { producer, fresh: true };
  }

  async committedCheckpoints(groupId: string, topic: string) {
    const out = new Map<number, CommittedCheckpoint>();
    for (const [k, v] of this.offsets) {
      const [g, t, p] = k.split('/');
      if (g === groupId && t === topic) out.set(Number(p), v);
    }
    return out;
  }
}

const rec = decodedRecord;

const batch = (
  partition: number,
  offsets: number[],
  values: Record<number, string | null> = {},
): PartitionBatch => ({
  key: `orders-${partition}`,
  topic: 'orders',
  partition,
  records: offsets.map((o) => rec(partition, o, o in values ? values[o]! : `v${o}`)),
});

const options = (
  kafka: MemoryKafka,
  overrides: Partial<DeliveryOptions> = {},
): DeliveryOptions => ({
  kafka,
  transactionalIdPrefix: 'svc-test-fn',
  checkpointGroup: 'svc-test-fn.checkpoints',
  checkpointTopic: 'orders.checkpoints',
  deadLetterTopic: 'orders.dlq',
  now: () => new Date('2026-01-01T00:00:00.000Z'),
  processRecord: (r) => {
    const v = r.value?.toString();
    if (v === 'poison') throw new PoisonRecordError('NOT_JSON', 'not json');
    if (v === 'flaky') throw new RetriableError('TRANSIENT', 'downstream timeout');
    return [{ topic: 'orders.processed', key: r.key, value: `out-${v}` }];
  },
  ...overrides,
});

const outputs = (kafka: MemoryKafka, topic: string) =>
  kafka.committed.flatMap((c) =>
    c.messages.filter((m) => m.topic === topic).map((m) => String(m.value)),
  );

describe('processBatch', () => {
  it('commits results, dead letters and the checkpoint of each partition in one transaction', async () => {
    // Prepare
    const kafka = new MemoryKafka();

    // Act
    const { response, partitions } = await processBatch(
      [batch(0, [0, 1, 2], { 1: 'poison' }), batch(1, [5, 6])],
      options(kafka),
    );

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(kafka.committed).toHaveLength(2);
    const p0 = kafka.committed.find((c) => c.id === 'svc-test-fn-orders-0')!;
    expect(p0.checkpoint).toEqual({
      groupId: 'svc-test-fn.checkpoints',
      topic: 'orders',
      partition: 0,
      nextOffset: 3,
      // the first checkpoint knows nothing below the batch's first offset
      metadata: encodeCheckpoint({ nextOffset: 3, horizon: 0, gaps: [] }),
    });
    expect(p0.messages.map((m) => m.topic)).toEqual([
      'orders.processed',
      'orders.dlq',
      'orders.processed',
      'orders.checkpoints',
    ]);
    const dl = p0.messages[1]!;
    expect(dl.headers?.[DLQ_HEADERS.errorCode]).toBe('NOT_JSON');
    expect(dl.headers?.[DLQ_HEADERS.originalOffset]).toBe('1');
    expect(dl.headers?.traceparent).toEqual(Buffer.from('00-abc'));
    expect(partitions.map((p) => [p.ok, p.deadLettered])).toEqual([
      [2, 1],
      [2, 0],
    ]);
  });

  it('stops a partition at its first retriable failure and emits nothing for it or later records', async () => {
    // Prepare
    const kafka = new MemoryKafka();

    // Act
    const { response } = await processBatch(
      [batch(0, [10, 11, 12, 13], { 11: 'flaky' }), batch(2, [1])],
      options(kafka),
    );

    // Assess
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: 11 } },
    ]);
    expect(outputs(kafka, 'orders.processed').sort()).toEqual(['out-v1', 'out-v10']);
    expect(kafka.committed.find((c) => c.id.endsWith('-0'))?.checkpoint?.nextOffset).toBe(11);
  });

  it('reports nothing and writes nothing when the first record of a partition fails', async () => {
    const kafka = new MemoryKafka();
    const { response } = await processBatch([batch(0, [4, 5], { 4: 'flaky' })], options(kafka));
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: 4 } },
    ]);
    expect(kafka.committed).toEqual([]);
  });

  it('skips records below the committed checkpoint on redelivery, warm or cold', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    await processBatch([batch(0, [0, 1, 2], { 2: 'flaky' })], options(kafka));

    // Act: the whole batch again, then again from a "new container" (fresh producers)
    const warm = await processBatch([batch(0, [0, 1, 2, 3])], options(kafka));
    kafka.producers.clear();
    const cold = await processBatch([batch(0, [0, 1, 2, 3, 4])], options(kafka));

    // Assess
    expect(warm.partitions[0]?.skipped).toBe(2);
    expect(cold.partitions[0]?.skipped).toBe(4);
    expect(outputs(kafka, 'orders.processed')).toEqual([
      'out-v0',
      'out-v1',
      'out-v2',
      'out-v3',
      'out-v4',
    ]);
  });

  it('reports a partition whose commit fails from its first unprocessed offset and re-reads the checkpoint', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    await processBatch([batch(0, [0, 1])], options(kafka));
    kafka.failNextWrite = true;

    // Act
    const failed = await processBatch([batch(0, [0, 1, 2, 3])], options(kafka));
    const inits = kafka.inits;
    const retried = await processBatch([batch(0, [2, 3])], options(kafka));

    // Assess
    expect(failed.response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: 2 } },
    ]);
    expect(kafka.inits).toBe(inits + 1); // a new producer, initialised before the checkpoint is trusted
    expect(retried.response.batchItemFailures).toEqual([]);
    expect(outputs(kafka, 'orders.processed')).toEqual(['out-v0', 'out-v1', 'out-v2', 'out-v3']);
  });

  it('dead-letters records the decoder flagged, keeping the raw value', async () => {
    const kafka = new MemoryKafka();
    const b = batch(0, [0]);
    b.records[0] = {
      ...b.records[0]!,
      value: null,
      rawValue: '%%%',
      decodeError: { code: 'INVALID_BASE64', message: 'bad' },
    };
    await processBatch([b], options(kafka));
    const dl = kafka.committed[0]!.messages[0]!;
    expect(dl.topic).toBe('orders.dlq');
    expect(dl.value).toEqual(Buffer.from('%%%'));
    expect(dl.headers?.[DLQ_HEADERS.errorCode]).toBe('INVALID_BASE64');
  });
});

describe('processBatch: outcome detail', () => {
  const detailed = (kafka: MemoryKafka, outcomes: RecordOutcome<{ n: number }>[]) =>
    options(kafka, {
      processRecord: (r) => {
        const v = r.value?.toString() ?? '';
        if (v === 'poison') throw new PoisonRecordError('NOT_JSON', 'not json');
        // a bare list stays allowed
        if (v === 'v2') return [{ topic: 'orders.processed', key: r.key, value: 'plain' }];
        return {
          messages: [{ topic: 'orders.processed', key: r.key, value: `out-${v}` }],
          detail: { n: r.offset },
        };
      },
      onOutcome: (o) => outcomes.push(o as RecordOutcome<{ n: number }>),
    });

  it('hands a record processor’s detail to onOutcome once the transaction committed', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    const outcomes: RecordOutcome<{ n: number }>[] = [];

    // Act
    await processBatch([batch(0, [0, 1, 2], { 1: 'poison' })], detailed(kafka, outcomes));

    // Assess
    expect(outputs(kafka, 'orders.processed')).toEqual(['out-v0', 'plain']);
    expect(
      outcomes.map((o) => [o.kind, o.record.offset, o.kind === 'ok' ? o.detail : undefined]),
    ).toEqual([
      ['ok', 0, { n: 0 }],
      ['poison', 1, undefined],
      ['ok', 2, undefined],
    ]);
    expect(outcomes[2]).not.toHaveProperty('detail');
  });

  it('reports no ok outcome, detail or not, when the commit fails', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    kafka.failNextWrite = true;
    const outcomes: RecordOutcome<{ n: number }>[] = [];

    // Act
    const { response } = await processBatch([batch(0, [0, 1])], detailed(kafka, outcomes));

    // Assess
    expect(response.batchItemFailures).toHaveLength(1);
    expect(outcomes).toEqual([]);
  });
});

describe('processBatch: deadlines and partitions that move', () => {
  it('commits what came before the deadline and reports the rest from its first record', async () => {
    // Prepare: 200 records, the clock past the planning limit after the first 64
    const kafka = new MemoryKafka();
    const deadline = Date.now() + 60_000;
    let processed = 0;
    const realNow = Date.now;

    // Act
    const { response, partitions } = await processBatch(
      [
        batch(
          0,
          Array.from({ length: 200 }, (_, i) => i),
        ),
      ],
      options(kafka, {
        deadline,
        processRecord: (r) => {
          if (++processed === 64) Date.now = () => deadline - COMMIT_RESERVE_MS + 1;
          return [{ topic: 'orders.processed', key: r.key, value: `out-${r.offset}` }];
        },
      }),
    ).finally(() => {
      Date.now = realNow;
    });

    // Assess
    expect(outputs(kafka, 'orders.processed')).toHaveLength(64);
    expect(kafka.committed[0]!.checkpoint?.nextOffset).toBe(64);
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: 64 } },
    ]);
    expect(partitions[0]).toMatchObject({ stage: 'deadline', error: { code: 'TIMEOUT' } });
  });

  it('answers by the deadline when a commit hangs, and discards nothing it committed', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    kafka.hangNextWrite = true;
    const started = Date.now();

    // Act
    const { response, partitions } = await processBatch(
      [batch(0, [10, 11, 12])],
      options(kafka, { deadline: started + 1_500 }),
    );

    // Assess
    expect(Date.now() - started).toBeLessThan(1_500 + 500);
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: 10 } },
    ]);
    expect(partitions[0]).toMatchObject({ stage: 'commit', error: { code: 'TIMEOUT' } });
    expect(kafka.committed).toEqual([]);
  });

  it('starts no partition without the time to finish it', async () => {
    const kafka = new MemoryKafka();
    const { response, partitions } = await processBatch(
      [batch(0, [5, 6])],
      options(kafka, { deadline: Date.now() + 100 }),
    );
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: 'orders-0', offset: 5 } },
    ]);
    expect(partitions[0]).toMatchObject({ stage: 'deadline', error: { code: 'TIMEOUT' } });
    expect(kafka.inits).toBe(0);
  });

  it('replaces a producer fenced by another container in the same invocation', async () => {
    // Prepare: this container committed 0..2; another one then committed 3..5 (fencing ours)
    const kafka = new MemoryKafka();
    const cache = new WeakMap();
    const mine = options(kafka, { checkpointCache: cache });
    await processBatch([batch(0, [0, 1, 2])], mine);
    await processBatch([batch(0, [3, 4, 5])], options(kafka, { checkpointCache: new WeakMap() }));
    kafka.fenced.add('svc-test-fn-orders-0');

    // Act: the next batch comes back to the first container, overlapping what the other did
    const { response, partitions } = await processBatch([batch(0, [3, 4, 5, 6, 7])], mine);

    // Assess: no retry burnt, nothing written twice
    expect(response.batchItemFailures).toEqual([]);
    expect(partitions[0]).toMatchObject({ reinits: 1, skipped: 3, ok: 2, checkpoint: 8 });
    expect(outputs(kafka, 'orders.processed')).toEqual([
      'out-v0',
      'out-v1',
      'out-v2',
      'out-v3',
      'out-v4',
      'out-v5',
      'out-v6',
      'out-v7',
    ]);
  });

  it('records in the checkpoint the offsets the mapping moved past', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    await processBatch([batch(0, [0, 1, 2])], options(kafka));

    // Act: the mapping gave up on 3 and 4 and goes on at 5
    await processBatch([batch(0, [5, 6])], options(kafka));

    // Assess
    const state = decodeCheckpoint(7, kafka.committed[1]!.checkpoint?.metadata);
    expect(state.gaps).toEqual([[3, 5]]);
    expect([0, 3, 4, 5, 7].map((o) => offsetStatus(state, o))).toEqual([
      'processed',
      'skipped',
      'skipped',
      'processed',
      'unprocessed',
    ]);
  });
});
