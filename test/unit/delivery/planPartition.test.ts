/**
 * The plan without a broker: records and a checkpoint in; messages, outcomes, counts
 * and the next offset out. The processor and the clock are the test's own.
 */
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../../src/lib/delivery/deadLetter.ts';
import {
  type PlanOptions,
  type PlanRecords,
  planMessages,
  planPartition,
  recordList,
} from '../../../src/lib/delivery/planPartition.ts';
import { PoisonRecordError, RetriableError } from '../../../src/lib/errors.ts';
import { readKafkaEvent } from '../../../src/lib/events/decode.ts';
import type { DecodedRecord } from '../../../src/lib/events/types.ts';
import { eventRecordFixture, mskEventFixture } from '../../support/fixtures.ts';
import { decodedRecord } from './records.ts';

const NOW = new Date('2026-01-01T00:00:00.000Z');

const rec = (offset: number, value: string | null = `v${offset}`): DecodedRecord =>
  decodedRecord(0, offset, value);

/** Results as bytes for `ok…` values, a poison or retriable error for the others. */
const options = (overrides: Partial<PlanOptions<string>> = {}): PlanOptions<string> => ({
  deadLetterTopic: 'orders.dlq',
  now: () => NOW,
  processRecord: (r, results) => {
    const v = r.value?.toString() ?? '';
    if (v === 'poison') throw new PoisonRecordError('NOT_JSON', 'not json');
    if (v === 'flaky') throw new RetriableError('TRANSIENT', 'downstream timeout');
    results.add('orders.processed', `k-${v}`, `out-${v}`);
    return { messages: [], detail: v };
  },
  ...overrides,
});

const plainMessages = (plan: Parameters<typeof planMessages>[0]) =>
  planMessages(plan).map((m) => ({ topic: m.topic, key: String(m.key), value: String(m.value) }));

describe('planPartition', () => {
  it('turns each record into its result, in record order, and plans the next offset', async () => {
    // Act
    const plan = await planPartition(recordList([rec(5), rec(6), rec(7)]), undefined, options());

    // Assess
    expect(plainMessages(plan)).toEqual([
      { topic: 'orders.processed', key: 'k-v5', value: 'out-v5' },
      { topic: 'orders.processed', key: 'k-v6', value: 'out-v6' },
      { topic: 'orders.processed', key: 'k-v7', value: 'out-v7' },
    ]);
    expect(plan.counts).toEqual({ ok: 3, poison: 0, skipped: 0 });
    expect(plan.firstUnprocessed).toBe(5);
    expect(plan.nextOffset).toBe(8);
    expect(plan.stop).toBeUndefined();
    // no reporter asked for ok outcomes: none kept
    expect(plan.outcomes).toEqual([]);
  });

  it('skips records below the checkpoint and plans nothing when all are below it', async () => {
    // Act
    const some = await planPartition(recordList([rec(5), rec(6), rec(7)]), 7, options());
    const none = await planPartition(recordList([rec(5), rec(6)]), 7, options());

    // Assess
    expect(plainMessages(some).map((m) => m.value)).toEqual(['out-v7']);
    expect(some.counts).toEqual({ ok: 1, poison: 0, skipped: 2 });
    expect(some.outcomes.map((o) => [o.kind, o.record.offset])).toEqual([
      ['skipped', 5],
      ['skipped', 6],
    ]);
    expect(some.firstUnprocessed).toBe(7);
    expect(none.nextOffset).toBeUndefined();
    expect(none.firstUnprocessed).toBeUndefined();
    expect(planMessages(none)).toEqual([]);
  });

  it('dead-letters a poison record in its place and goes on', async () => {
    // Act
    const plan = await planPartition(
      recordList([rec(1), rec(2, 'poison'), rec(3)]),
      undefined,
      options(),
    );

    // Assess
    const messages = planMessages(plan);
    expect(messages.map((m) => m.topic)).toEqual([
      'orders.processed',
      'orders.dlq',
      'orders.processed',
    ]);
    expect(messages[1]!.headers?.[DLQ_HEADERS.errorCode]).toBe('NOT_JSON');
    expect(String(messages[1]!.value)).toBe('poison');
    expect(plan.counts).toEqual({ ok: 2, poison: 1, skipped: 0 });
    expect(plan.outcomes.map((o) => o.kind)).toEqual(['poison']);
    expect(plan.nextOffset).toBe(4);
  });

  it('stops at the first retriable failure: nothing of it or after it is planned', async () => {
    // Act
    const plan = await planPartition(
      recordList([rec(1), rec(2, 'flaky'), rec(3)]),
      undefined,
      options(),
    );

    // Assess
    expect(plainMessages(plan).map((m) => m.value)).toEqual(['out-v1']);
    expect(plan.stop).toMatchObject({ offset: 2, stage: 'record', error: { code: 'TRANSIENT' } });
    expect(plan.nextOffset).toBe(2);
    expect(plan.outcomes.map((o) => o.kind)).toEqual(['retriable']);
  });

  it('keeps every outcome, detail included, when asked to', async () => {
    // Act
    const plan = await planPartition(recordList([rec(1), rec(2, 'poison')]), undefined, {
      ...options(),
      keepOutcomes: true,
    });

    // Assess
    expect(plan.outcomes).toMatchObject([
      { kind: 'ok', messages: 1, detail: 'v1', record: { offset: 1 } },
      { kind: 'poison', error: { code: 'NOT_JSON' }, record: { offset: 2 } },
    ]);
  });

  it('mixes messages a processor returns with results it wrote as bytes, in order', async () => {
    // Act
    const plan = await planPartition(recordList([rec(1), rec(2)]), undefined, {
      ...options(),
      processRecord: (r, results) => {
        if (r.offset === 1) return [{ topic: 'a', key: null, value: 'returned' }];
        results.add('b', null, 'written');
        return [];
      },
    });

    // Assess
    expect(planMessages(plan).map((m) => [m.topic, String(m.value), m.key])).toEqual([
      ['a', 'returned', null],
      ['b', 'written', null],
    ]);
  });

  it('stops before the deadline with a TIMEOUT, keeping what came before', async () => {
    // Act: a deadline already past stops the plan at its first new record
    const plan = await planPartition(recordList([rec(1), rec(2)]), undefined, {
      ...options(),
      planUntil: Date.now() - 1,
    });

    // Assess
    expect(plan.stop).toMatchObject({ offset: 1, stage: 'deadline', error: { code: 'TIMEOUT' } });
    expect(plan.nextOffset).toBeUndefined();
    expect(plan.firstUnprocessed).toBe(1);
  });

  it('dead-letters a record the decoder flagged without calling the processor', async () => {
    // Prepare
    const bad = { ...rec(1), value: null, rawValue: '%%%' };
    bad.decodeError = { code: 'INVALID_BASE64', message: 'value is not valid base64' };
    let calls = 0;

    // Act
    const plan = await planPartition(recordList([bad]), undefined, {
      ...options(),
      processRecord: () => {
        calls++;
        return [];
      },
    });

    // Assess
    expect(calls).toBe(0);
    const [letter] = planMessages(plan);
    expect(letter!.headers?.[DLQ_HEADERS.errorCode]).toBe('INVALID_BASE64');
    expect(String(letter!.value)).toBe('%%%');
  });

  it('decodes an event partition one record at a time, in offset order', async () => {
    // Prepare: offsets out of order, and a spy on the decoding
    const event = mskEventFixture(
      [12, 10, 11].map((offset) =>
        eventRecordFixture({ partition: 0, offset, value: `v${offset}` }),
      ),
    );
    const [partition] = readKafkaEvent(event);
    const decoded: number[] = [];
    const records: PlanRecords = {
      length: partition!.length,
      offsetAt: (i) => partition!.offsetAt(i),
      recordAt: (i) => {
        decoded.push(i);
        return partition!.recordAt(i);
      },
    };

    // Act
    const plan = await planPartition(records, 11, {
      ...options(),
      processRecord: (r, results) => {
        results.add('out', null, r.value!.toString());
        return [];
      },
    });

    // Assess: the one below the checkpoint is decoded for its outcome only
    expect(decoded).toEqual([0, 1, 2]);
    expect([0, 1, 2].map((i) => partition!.offsetAt(i))).toEqual([10, 11, 12]);
    expect(planMessages(plan).map((m) => String(m.value))).toEqual(['v11', 'v12']);
  });
});
