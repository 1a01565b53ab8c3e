import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PoisonRecordError } from '../../../src/lib/errors.ts';
import type { KafkaEvent, KafkaEventRecord } from '../../../src/lib/events/types.ts';
import { evaluateOrder, parseOrder } from '../../../src/lib/orders/index.ts';
import {
  buildLargeMskEvent,
  orderFixture,
  overLimitOrderFixture,
  SAMPLE_POISON_OFFSETS,
  sampleMskEvent,
  samplePoisonEvent,
  sampleSelfManagedEvent,
} from '../../support/fixtures.ts';

const NOW = new Date('2025-11-24T16:00:00Z');
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

const eventFile = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`../../../events/${name}`, import.meta.url), 'utf8'));

const allRecords = (event: KafkaEvent): KafkaEventRecord[] => Object.values(event.records).flat();

/** Decoded by hand, as the documentation describes the shape. */
const valueText = (record: KafkaEventRecord) =>
  record.value === null ? null : Buffer.from(record.value, 'base64').toString('utf8');

const headerText = (record: KafkaEventRecord, name: string) => {
  const header = record.headers.find((h) => name in h);
  return header ? Buffer.from(header[name]!).toString('utf8') : undefined;
};

describe('orderFixture', () => {
  it('gives valid orders the default rules accept, the same for the same index', () => {
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), (i) => {
        // Act
        const order = parseOrder(JSON.stringify(orderFixture(i)));
        const result = evaluateOrder(order, { now: NOW });

        // Assess
        expect(result.status).toBe('accepted');
        expect(orderFixture(i)).toEqual(orderFixture(i));
      }),
      { numRuns: 300 },
    );
  });

  it('gives distinct order ids and both price forms', () => {
    // Act
    const orders = Array.from({ length: 50 }, (_, i) => orderFixture(i));

    // Assess
    expect(new Set(orders.map((o) => o.orderId)).size).toBe(50);
    const lines = orders.flatMap((o) => o.items);
    expect(lines.some((l) => 'unitPrice' in l)).toBe(true);
    expect(lines.some((l) => 'unitPriceMinor' in l)).toBe(true);
  });

  it('has an over-limit variant the rules reject', () => {
    // Act
    const result = evaluateOrder(parseOrder(JSON.stringify(overLimitOrderFixture(1))), {
      now: NOW,
    });

    // Assess
    expect(result).toMatchObject({ status: 'rejected', reasonCode: 'TOTAL_EXCEEDS_LIMIT' });
  });
});

describe('sample events in events/', () => {
  it.each([
    ['processOrders.msk.json', sampleMskEvent],
    ['processOrders.poison.json', samplePoisonEvent],
    ['processOrders.self-managed.json', sampleSelfManagedEvent],
  ])('%s is what the generator builds (run node scripts/gen-events.ts)', (name, build) => {
    // Assess
    expect(eventFile(name)).toEqual(build());
  });

  it('msk: 9 valid orders on 3 partitions of orders, one rejected, traceparent on some', () => {
    // Prepare
    const event = sampleMskEvent();

    // Act
    const records = allRecords(event);
    const results = records.map((r) =>
      evaluateOrder(parseOrder(valueText(r)!), { now: NOW, source: r }),
    );

    // Assess
    expect(event).toMatchObject({
      eventSource: 'aws:kafka',
      eventSourceArn: expect.stringMatching(/^arn:aws:kafka:/),
    });
    expect(Object.keys(event.records)).toEqual(['orders-0', 'orders-1', 'orders-2']);
    expect(records).toHaveLength(9);
    expect(results.filter((r) => r.status === 'rejected').map((r) => r.reasonCode)).toEqual([
      'TOTAL_EXCEEDS_LIMIT',
    ]);
    const traced = records.map((r) => headerText(r, 'traceparent')).filter((t) => t !== undefined);
    expect(traced.length).toBeGreaterThan(0);
    expect(traced.length).toBeLessThan(records.length);
    for (const t of traced) expect(t).toMatch(TRACEPARENT);
    for (const r of records) expect(Buffer.from(r.key!, 'base64').toString()).toMatch(/^ord-/);
  });

  it('poison: each record is the kind of poison its offset names', () => {
    // Prepare
    const byOffset = new Map(allRecords(samplePoisonEvent()).map((r) => [r.offset, r]));
    const o = SAMPLE_POISON_OFFSETS;
    const codeOf = (offset: number) => {
      try {
        parseOrder(valueText(byOffset.get(offset)!)!);
        return 'ok';
      } catch (error) {
        return (error as PoisonRecordError).code;
      }
    };

    // Act
    const bad64 = byOffset.get(o.invalidBase64)!.value!;

    // Assess
    expect(byOffset.size).toBe(6);
    expect(codeOf(o.valid)).toBe('ok');
    expect(Buffer.from(bad64, 'base64').toString('base64')).not.toBe(bad64);
    expect(codeOf(o.notJson)).toBe('NOT_JSON');
    expect(codeOf(o.schemaViolation)).toBe('SCHEMA_VIOLATION');
    expect(byOffset.get(o.nullValue)!.value).toBeNull();
    expect(byOffset.get(o.validWithoutKey)).not.toHaveProperty('key');
    expect(codeOf(o.validWithoutKey)).toBe('ok');
  });

  it('self-managed: SelfManagedKafka without an ARN, valid orders', () => {
    // Prepare
    const event = sampleSelfManagedEvent();

    // Act
    const orders = allRecords(event).map((r) => parseOrder(valueText(r)!));

    // Assess
    expect(event.eventSource).toBe('SelfManagedKafka');
    expect(event).not.toHaveProperty('eventSourceArn');
    expect(orders.length).toBeGreaterThan(0);
  });
});

describe('buildLargeMskEvent', () => {
  it('builds 10,000 valid orders on 3 partitions just under 6 MB', () => {
    // Act
    const event = buildLargeMskEvent({ records: 10_000, partitions: 3 });

    // Assess
    const bytes = Buffer.byteLength(JSON.stringify(event));
    expect(bytes).toBeLessThanOrEqual(6_000_000);
    expect(bytes).toBeGreaterThan(5_700_000);
    expect(Object.keys(event.records)).toEqual(['orders-0', 'orders-1', 'orders-2']);
    for (const records of Object.values(event.records))
      expect(records.map((r) => r.offset)).toEqual(records.map((_, k) => k));
    const orders = allRecords(event).map((r) => parseOrder(valueText(r)!));
    expect(orders).toHaveLength(10_000);
    const lineItems = orders.reduce((n, o) => n + o.items.length, 0);
    expect(lineItems).toBeGreaterThan(15_000);
    expect(allRecords(event).filter((r) => r.headers.length > 0)).toHaveLength(5_000);
    expect(new Set(orders.map((o) => o.orderId)).size).toBe(10_000);
  });

  it('is deterministic and stays within any target it can reach', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 50_000 }),
        (records, partitions, perRecord) => {
          // Prepare
          const targetBytes = records * perRecord;

          // Act
          const event = buildLargeMskEvent({ records, partitions, targetBytes });

          // Assess
          const minimal = JSON.stringify(
            buildLargeMskEvent({ records, partitions, targetBytes: 0 }),
          );
          const bytes = JSON.stringify(event).length;
          expect(bytes).toBeLessThanOrEqual(Math.max(targetBytes, minimal.length));
          // Within one line item per record of the target, unless 500 items cap it.
          if (
            targetBytes > minimal.length &&
            allRecords(event).every((r) => r.value!.length < 40_000)
          )
            expect(bytes).toBeGreaterThan(targetBytes - records * 200);
          expect(buildLargeMskEvent({ records, partitions, targetBytes })).toEqual(event);
          expect(allRecords(event)).toHaveLength(records);
        },
      ),
      { numRuns: 25 },
    );
  });
});
