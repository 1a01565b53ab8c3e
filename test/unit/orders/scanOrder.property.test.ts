/**
 * The scanner against what it stands in for. Whenever `scanOrder` accepts a text,
 * `JSON.parse` + `parseOrderFast` accept it too, and the result written from the scan is
 * byte for byte `JSON.stringify(evaluateOrder(...))` of the parsed order. It may say
 * `undefined` to a valid order (the parser then reads it), but not to a plain one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CurrencyCode,
  currencyExponent,
  evaluateOrder,
  parseOrderFast,
  SCAN_MAX_ITEMS,
  scannedReason,
  scannedResultMaxBytes,
  scanOrder,
  writeScannedResult,
} from '../../../src/lib/orders/index.ts';
import { anyOrderArb, validOrderArb } from './orderArbitraries.ts';

const sourceArb = fc.record({
  topic: fc.oneof(
    fc.constantFrom('orders', 'orders.eu-west-1'),
    fc.string({ maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 8 }),
  ),
  partition: fc.nat({ max: 10_000 }),
  offset: fc.oneof(fc.constant(-1), fc.nat(), fc.maxSafeNat()),
});
const nowArb = fc.oneof(
  fc.date({
    min: new Date('2020-01-01T00:00:00Z'),
    max: new Date('2030-01-01T00:00:00Z'),
    noInvalidDate: true,
  }),
  fc.date({
    min: new Date('0000-01-01T00:00:00Z'),
    max: new Date('9999-12-31T00:00:00Z'),
    noInvalidDate: true,
  }),
);

/** Scans `text`; when accepted, checks it against the parser and returns true. */
const expectScanAgrees = (
  text: string,
  now: Date,
  source: { topic: string; partition: number; offset: number },
): boolean => {
  const bytes = Buffer.from(text, 'utf8');
  const scan = scanOrder(bytes);
  if (scan === undefined) return false;
  // accepted: the parser must accept the same text, as the same order
  const order = parseOrderFast(JSON.parse(text));
  expect(order).toBeDefined();
  const expected = evaluateOrder(order!, { now, source });
  const room = scannedResultMaxBytes(scan, now, source);
  const target = Buffer.alloc(room + 8, 0xff);
  const reason = scannedReason(scan, now);
  const end = writeScannedResult(target, 3, bytes, scan, reason, now, source);
  expect(end - 3).toBeLessThanOrEqual(room);
  const idLength = Buffer.byteLength(order!.orderId);
  // the key, then the value
  expect(target.toString('utf8', 3, 3 + idLength)).toBe(order!.orderId);
  expect(target.toString('utf8', 3 + idLength, end)).toBe(JSON.stringify(expected));
  expect(reason).toBe(expected.reasonCode);
  return true;
};

/** A text edited at one place with one of the bytes JSON's grammar turns on. */
const editArb = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('replace', 'insert', 'delete'),
  text: fc.constantFrom(
    '"',
    '\\',
    ',',
    ':',
    '{',
    '}',
    '[',
    ']',
    ' ',
    '\n',
    '0',
    '9',
    '.',
    'e',
    'E',
    '-',
    '+',
    'a',
    'é',
    '\u0000',
    '\u007f',
    'null',
    '\\u0041',
    '"x":1,',
  ),
});
const edit = (text: string, e: { at: number; kind: string; text: string }): string => {
  const at = e.at % (text.length + 1);
  if (e.kind === 'insert') return text.slice(0, at) + e.text + text.slice(at);
  if (e.kind === 'delete') return text.slice(0, at) + text.slice(at + 1);
  return text.slice(0, at) + e.text + text.slice(at + 1);
};

describe('scanOrder: one pass over the JSON bytes', () => {
  it('accepts plain valid orders, and writes the result evaluateOrder gives', () => {
    let accepted = 0;
    let plain = 0;
    fc.assert(
      fc.property(validOrderArb, nowArb, sourceArb, (order, now, source) => {
        const text = JSON.stringify(order);
        const ok = expectScanAgrees(text, now, source);
        // plain: a short order whose decimal prices convert without BigInt
        const exponent = currencyExponent(order.currency as CurrencyCode);
        const exact = order.items.every(
          (item) =>
            item.unitPrice === undefined || item.unitPrice.split('.')[0]!.length + exponent <= 15,
        );
        if (order.items.length <= SCAN_MAX_ITEMS && exact) {
          plain++;
          expect(ok).toBe(true);
        }
        if (ok) accepted++;
      }),
      { numRuns: 3_000 },
    );
    expect(plain).toBeGreaterThan(900);
    expect(accepted).toBe(plain);
  });

  it('reads whitespace and any key order as JSON does', () => {
    fc.assert(
      fc.property(
        validOrderArb,
        fc.constantFrom(0, 1, 2, '\t', ' \r\n '),
        fc.boolean(),
        nowArb,
        sourceArb,
        (order, space, reverse, now, source) => {
          const value = reverse
            ? Object.fromEntries(
                Object.entries(order)
                  .reverse()
                  .map(([k, v]) => [
                    k,
                    k === 'items'
                      ? (v as object[]).map((i) => Object.fromEntries(Object.entries(i).reverse()))
                      : v,
                  ]),
              )
            : order;
          expectScanAgrees(JSON.stringify(value, null, space), now, source);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('never accepts what the parser refuses, on orders broken anywhere', () => {
    let accepted = 0;
    fc.assert(
      fc.property(anyOrderArb, nowArb, sourceArb, (order, now, source) => {
        const text = JSON.stringify(order);
        if (text === undefined) return;
        if (expectScanAgrees(text, now, source)) accepted++;
      }),
      { numRuns: 5_000 },
    );
    // a note (an unknown key) or a broken field sends most of them to the parser
    expect(accepted).toBeGreaterThan(150);
  });

  it('never accepts what the parser refuses, on texts edited at one byte', () => {
    fc.assert(
      fc.property(
        validOrderArb,
        fc.array(editArb, { minLength: 1, maxLength: 3 }),
        nowArb,
        sourceArb,
        (order, edits, now, source) => {
          let text = JSON.stringify(order);
          for (const e of edits) text = edit(text, e);
          let parses = true;
          try {
            JSON.parse(text);
          } catch {
            parses = false;
          }
          const ok = expectScanAgrees(text, now, source);
          if (!parses) expect(ok).toBe(false);
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('leaves the texts it does not read plainly to the parser', () => {
    const base =
      '{"orderId":"o-1","customerId":"c-1","currency":"EUR","createdAt":"2025-11-24T15:00:00Z","items":[ITEM]}';
    const item = '{"sku":"S-1","quantity":2,"unitPriceMinor":150}';
    const order = (items: string) => base.replace('ITEM', items);
    const now = new Date('2025-11-24T16:00:00Z');
    const source = { topic: 'orders', partition: 0, offset: 1 };
    expect(expectScanAgrees(order(item), now, source)).toBe(true);
    for (const text of [
      // valid for the parser, not plain
      order(item.replace('2', '2.0')),
      order(item.replace('2', '2e0')),
      order(item.replace('150', '1.5e2')),
      order(item.replace('"S-1"', '"S\\u002d1"')),
      order(`${item},`.repeat(SCAN_MAX_ITEMS) + item),
      order(item.replace('}', ',"note":"gift"}')),
      order(item).replace('{"orderId"', '{"note":1,"orderId"'),
      order(item).replace('"o-1"', '"o-1","orderId":"o-2"'),
      `\ufeff${order(item)}`,
      order(item.replace('"unitPriceMinor":150', '"unitPrice":"1234567890123456.78"')),
      // not valid at all
      order(item.replace('2', '-0')),
      order(item.replace('2', '02')),
      order(item.replace('150', '-1')),
      order(item.replace('2', '0')),
      order(item.replace('2', '100001')),
      order(''),
      `${order(item)}x`,
      `${order(item)},`,
      order(item).replace('EUR', 'EURO'),
      order(item).replace('EUR', 'eur'),
      order(item).replace('Z"', '"'),
      order(item).slice(0, -1),
      order(item.replace(',"unitPriceMinor":150', '')),
      order(item.replace('150', '150,"unitPrice":"1.50"')),
    ]) {
      expect(expectScanAgrees(text, now, source), text).toBe(false);
    }
  });
});
