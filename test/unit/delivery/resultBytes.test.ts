/**
 * Results written as bytes read back as the messages they stand for: the same UTF-8
 * bytes as the strings given, header bytes copied, and processOrders' results the same
 * JSON, byte for byte, as `JSON.stringify` of the rules' result.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../../src/lib/config.ts';
import { createProcessOrdersHandler } from '../../../src/lib/delivery/processOrders.ts';
import { ResultBytes } from '../../../src/lib/delivery/resultBytes.ts';
import { evaluateOrder, type OrderInput, parseOrder } from '../../../src/lib/orders/index.ts';
import {
  eventRecordFixture,
  mskEventFixture,
  orderFixture,
  overLimitOrderFixture,
  traceparentFixture,
} from '../../support/fixtures.ts';
import { MemoryKafka } from './memoryKafka.ts';

const textArb = fc.string({ unit: 'binary', maxLength: 300 });
const resultArb = fc.record({
  topic: fc.constantFrom('orders.processed', 'other'),
  key: fc.option(textArb, { nil: null }),
  value: textArb,
  headers: fc.array(
    fc.tuple(fc.constantFrom('traceparent', 'tracestate', 'x'), fc.uint8Array({ maxLength: 80 })),
    { maxLength: 3 },
  ),
});

describe('ResultBytes', () => {
  it('gives back every result as the UTF-8 bytes of what was added, headers in order', () => {
    fc.assert(
      fc.property(fc.array(resultArb, { maxLength: 60 }), (results) => {
        // Act
        const bytes = new ResultBytes();
        for (const r of results) {
          bytes.add(r.topic, r.key, r.value);
          for (const [name, value] of r.headers) bytes.header(name, value);
        }

        // Assess
        expect(bytes.length).toBe(results.length);
        results.forEach((r, i) => {
          const m = bytes.message(i);
          expect(m.topic).toBe(r.topic);
          expect(m.key).toEqual(r.key === null ? null : Buffer.from(r.key, 'utf8'));
          expect(m.value).toEqual(Buffer.from(r.value, 'utf8'));
          const expected: Record<string, Buffer[]> = {};
          for (const [name, value] of r.headers) {
            expected[name] ??= [];
            expected[name].push(Buffer.from(value));
          }
          expect(m.headers).toEqual(expected);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('spans buffers: a result larger than one buffer, and many small ones', () => {
    // Prepare
    const big = 'é'.repeat(200_000);
    const bytes = new ResultBytes();

    // Act
    for (let i = 0; i < 5_000; i++) bytes.add('t', `k${i}`, `v${i}`);
    bytes.add('t', null, big);
    bytes.add('t', 'after', 'last');

    // Assess
    expect(String(bytes.message(4_999).value)).toBe('v4999');
    expect(String(bytes.message(5_000).value)).toBe(big);
    expect(String(bytes.message(5_001).key)).toBe('after');
    expect(() => bytes.message(5_002)).toThrow(RangeError);
  });

  it('copies header bytes: changing the source afterwards changes nothing', () => {
    // Prepare
    const source = Buffer.from('00-abc');
    const bytes = new ResultBytes();
    bytes.add('t', null, '{}');

    // Act
    bytes.header('traceparent', source);
    source.fill(0);

    // Assess
    expect(String(bytes.message(0).headers?.traceparent)).toBe('00-abc');
  });

  it('keeps key and value apart when a lone surrogate meets another at the seam', () => {
    // joined, '\uD83D' + '\uDE00' would be one 4-byte character; apart, two replacements
    const bytes = new ResultBytes();
    bytes.add('t', 'k\uD83D', '\uDE00v');
    bytes.add('t', 'k', 'v');
    expect(bytes.message(0).key).toEqual(Buffer.from('k\uD83D', 'utf8'));
    expect(bytes.message(0).value).toEqual(Buffer.from('\uDE00v', 'utf8'));
    expect(String(bytes.message(1).key)).toBe('k');
  });

  it('records a result written in place between begin and end, beside added ones', () => {
    // Prepare
    const bytes = new ResultBytes();
    bytes.add('t', 'k0', 'v0');

    // Act: key "k1" and value "v1" written by hand into the room given
    for (let i = 1; i <= 3000; i++) {
      const chunk = bytes.begin(64);
      const at = bytes.position;
      const text = `k${i}{"n":${i}}`;
      const end = at + chunk.write(text, at, 'latin1');
      bytes.end('t2', at + `k${i}`.length, end);
      if (i === 1) bytes.header('h', Buffer.from('x'));
    }

    // Assess
    expect(bytes.length).toBe(3001);
    expect(String(bytes.message(0).key)).toBe('k0');
    const first = bytes.message(1);
    expect([first.topic, String(first.key), String(first.value)]).toEqual(['t2', 'k1', '{"n":1}']);
    expect(String(first.headers?.h)).toBe('x');
    const last = bytes.message(3000);
    expect([String(last.key), String(last.value)]).toEqual(['k3000', '{"n":3000}']);
    expect(last.headers).toEqual({});
    // an end outside the room begin gave
    bytes.begin(8);
    expect(() => bytes.end('t', bytes.position + 2, bytes.position + 1)).toThrow(RangeError);
  });
});

describe('processOrders results as bytes', () => {
  it('are JSON.stringify of the rules’ result, key the order id, trace headers carried', async () => {
    const now = new Date('2026-11-25T12:00:00.000Z');
    const config = readPipelineConfig({});
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            i: fc.nat({ max: 1_000_000 }),
            items: fc.integer({ min: 1, max: 40 }),
            over: fc.boolean(),
            traced: fc.boolean(),
          }),
          { minLength: 1, maxLength: 20 },
        ),
        async (specs) => {
          // Prepare
          const orders: OrderInput[] = specs.map((s) =>
            s.over ? overLimitOrderFixture(s.i) : orderFixture(s.i, { items: s.items }),
          );
          const event = mskEventFixture(
            specs.map((s, offset) =>
              eventRecordFixture({
                partition: 0,
                offset,
                key: orders[offset]!.orderId,
                value: orders[offset]!,
                ...(s.traced && { headers: { traceparent: traceparentFixture(s.i) } }),
              }),
            ),
          );
          const kafka = new MemoryKafka();
          const details: unknown[] = [];
          const handler = createProcessOrdersHandler({
            config,
            kafka: async () => kafka,
            now: () => now,
            // every other run reports outcomes: the detail is made only then
            ...(specs[0]!.traced && {
              onOutcome: (o: { kind: string; detail?: unknown }) => {
                if (o.kind === 'ok') details.push(o.detail);
              },
            }),
          });

          // Act
          await handler(event);

          // Assess
          const results = kafka.messages.filter((m) => m.topic === config.topics.processed);
          expect(results).toHaveLength(orders.length);
          results.forEach((m, offset) => {
            const expected = evaluateOrder(parseOrder(JSON.stringify(orders[offset])), {
              now,
              source: { topic: 'orders', partition: 0, offset },
            });
            expect(Buffer.from(m.value as Buffer).toString('utf8')).toBe(JSON.stringify(expected));
            expect(String(m.key)).toBe(expected.orderId);
            expect(m.headers).toEqual(
              specs[offset]!.traced
                ? { traceparent: [Buffer.from(traceparentFixture(specs[offset]!.i))] }
                : {},
            );
            // what a reporter is told of the order: id, status, reason
            if (specs[0]!.traced)
              expect(details[offset]).toEqual({
                orderId: expected.orderId,
                status: expected.status,
                ...(expected.reasonCode !== undefined && { reasonCode: expected.reasonCode }),
              });
          });
          expect(details).toHaveLength(specs[0]!.traced ? orders.length : 0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
