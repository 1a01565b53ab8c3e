/**
 * The fault suite's judge, judged: a balance that cannot fail proves nothing. A clean
 * run balances; a duplicated result, a lost result, a poison record parked twice or a
 * valid order parked each make it fail.
 */
import { describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../../src/lib/delivery/deadLetter.ts';
import { buildOnFailureEnvelope } from '../../../src/lib/events/onFailureEnvelope.ts';
import { type BalanceInput, deliveryBalance } from '../../support/deliveryBalance.ts';
import type { KcatRecord } from '../../support/kcat.ts';

const record = (
  topic: string,
  partition: number,
  offset: number,
  key: string | null,
  value: string | null,
  header: Record<string, string> = {},
): KcatRecord => ({
  topic,
  partition,
  offset,
  key,
  value,
  headers: Object.entries(header),
  header,
});

const result = (orderId: string, offset: number, at = offset) =>
  record(
    'orders.processed',
    0,
    at,
    orderId,
    JSON.stringify({ orderId, source: { topic: 'orders', partition: 0, offset } }),
  );

const deadLetter = (topic: string, at: number, origin: number, attempts: number) =>
  record(topic, 0, at, 'poison-1', 'not json', {
    [DLQ_HEADERS.originalTopic]: 'orders',
    [DLQ_HEADERS.originalPartition]: '0',
    [DLQ_HEADERS.originalOffset]: String(origin),
    [DLQ_HEADERS.attempts]: String(attempts),
    [DLQ_HEADERS.errorCode]: 'NOT_JSON',
  });

/** The AWS on-failure envelope the mapping writes to the DLQ when it gives up on orders 0:`offset`. */
const envelope = (at: number, offset: number, value: string) =>
  record(
    'orders.dlq',
    0,
    at,
    'poison-1',
    JSON.stringify(
      buildOnFailureEnvelope({
        record: { topic: 'orders', partition: 0, offset, key: 'poison-1', value },
        bootstrapServers: '127.0.0.1:9092',
        requestId: 'r-1',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:processOrders',
        approximateInvokeCount: 3,
      }),
    ),
  );

/** Two valid orders and one poison record through max 2 attempts: a clean run. */
const cleanRun = (): BalanceInput => ({
  ordersTopic: 'orders',
  maxAttempts: 2,
  planned: [
    { key: 'o-1', kind: 'valid', orderId: 'o-1' },
    { key: 'o-2', kind: 'valid', orderId: 'o-2' },
    { key: 'poison-1', kind: 'not-json' },
  ],
  orders: [
    record('orders', 0, 0, 'o-1', '{}'),
    record('orders', 0, 1, 'o-2', '{}'),
    record('orders', 0, 2, 'poison-1', 'not json'),
    // the republished copy, attempt 2
    record('orders', 0, 3, 'poison-1', 'not json', {
      [DLQ_HEADERS.originalPartition]: '0',
      [DLQ_HEADERS.originalOffset]: '2',
      [DLQ_HEADERS.attempts]: '2',
    }),
  ],
  processed: [result('o-1', 0), result('o-2', 1)],
  dlq: [deadLetter('orders.dlq', 0, 2, 1), deadLetter('orders.dlq', 1, 2, 2)],
  parkingLot: [deadLetter('orders.parking-lot', 0, 2, 2)],
});

describe('deliveryBalance', () => {
  it('balances a clean run', () => {
    const balance = deliveryBalance(cleanRun());
    expect({
      lost: balance.lost,
      duplicated: balance.duplicated,
      misplaced: balance.misplaced,
    }).toEqual({ lost: 0, duplicated: 0, misplaced: [] });
    expect(balance.results).toBe(2);
  });

  it('fails on a duplicated result', () => {
    const run = cleanRun();
    run.processed = [...run.processed, result('o-1', 0, 2)];
    expect(deliveryBalance(run).duplicated).toBeGreaterThan(0);
  });

  it('fails on a lost result', () => {
    const run = cleanRun();
    run.processed = run.processed.slice(0, 1);
    const balance = deliveryBalance(run);
    expect(balance.lost).toBe(1);
    expect(balance.missing).toEqual(['order o-2 (0:1) has no result']);
  });

  it('fails on a poison record parked twice, or not at all', () => {
    const twice = cleanRun();
    twice.parkingLot = [...twice.parkingLot, deadLetter('orders.parking-lot', 1, 2, 2)];
    expect(deliveryBalance(twice).duplicated).toBe(1);
    const never = cleanRun();
    never.parkingLot = [];
    expect(deliveryBalance(never).lost).toBe(1);
  });

  it('fails on a valid order that was dead-lettered', () => {
    const run = cleanRun();
    run.dlq = [
      ...run.dlq,
      record('orders.dlq', 0, 5, 'o-2', '{}', {
        [DLQ_HEADERS.originalTopic]: 'orders',
        [DLQ_HEADERS.originalPartition]: '0',
        [DLQ_HEADERS.originalOffset]: '1',
        [DLQ_HEADERS.attempts]: '1',
        [DLQ_HEADERS.errorCode]: 'NOT_JSON',
      }),
    ];
    expect(deliveryBalance(run).misplaced).toEqual([
      'valid order o-2 (0:1) dead-lettered at attempt 1',
    ]);
  });

  it('takes an envelope of a poison record already dead-lettered as that, and fails when it was copied too', () => {
    // the handler dead-lettered poison-1, then the invocation failed and every retry too
    const dropped = cleanRun();
    dropped.dlq = [...dropped.dlq, envelope(2, 2, 'not json')];
    const balance = deliveryBalance(dropped);
    expect({ duplicated: balance.duplicated, extra: balance.extra }).toEqual({
      duplicated: 0,
      extra: [],
    });
    expect(balance.envelopesOfProcessed).toBe(1);
    // republishDlq copied it anyway: attempt 2 twice in orders
    const copied = cleanRun();
    copied.dlq = [...copied.dlq, envelope(2, 2, 'not json')];
    copied.orders = [...copied.orders, { ...copied.orders[3]!, offset: 4 }];
    expect(deliveryBalance(copied).extra).toEqual(['poison-1 (0:2) attempt 2 republished again']);
  });

  it('takes an envelope of a poison record the handler never saw as its first dead letter', () => {
    const run = cleanRun();
    run.dlq = [envelope(0, 2, 'not json'), ...run.dlq.slice(1)];
    const balance = deliveryBalance(run);
    expect({ lost: balance.lost, duplicated: balance.duplicated }).toEqual({
      lost: 0,
      duplicated: 0,
    });
    expect(balance.envelopesOfProcessed).toBe(0);
  });
});
