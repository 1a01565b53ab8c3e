import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PoisonRecordError } from '../../../src/lib/errors.ts';
import {
  CURRENCY_CODES,
  type CurrencyCode,
  currencyExponent,
  evaluateOrder,
  formatMinorUnits,
  MAX_LINE_ITEMS,
  MAX_QUANTITY,
  type OrderInput,
  parseOrder,
  REASON_CODES,
  toMinorUnits,
} from '../../../src/lib/orders/index.ts';

const NOW = new Date('2100-01-01T00:00:00Z');
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const idArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/);
const currencyArb = fc.constantFrom(...CURRENCY_CODES);
// Small everyday prices and prices anywhere up to the largest safe integer.
const minorArb = fc.oneof(fc.nat({ max: 1_000_000 }), fc.maxSafeNat());

/** A createdAt in Z or with an offset, and the instant it names. */
const createdAtArb = fc
  .tuple(
    fc.date({
      min: new Date('1970-01-02T00:00:00Z'),
      max: new Date('2099-12-30T00:00:00Z'),
      noInvalidDate: true,
    }),
    fc.option(fc.integer({ min: -14 * 60, max: 14 * 60 }), { nil: undefined }),
  )
  .map(([instant, offsetMinutes]) => {
    if (offsetMinutes === undefined) return { text: instant.toISOString(), instant };
    const local = new Date(instant.getTime() + offsetMinutes * 60_000).toISOString().slice(0, -1);
    const abs = Math.abs(offsetMinutes);
    const hh = String(Math.floor(abs / 60)).padStart(2, '0');
    const mm = String(abs % 60).padStart(2, '0');
    return { text: `${local}${offsetMinutes < 0 ? '-' : '+'}${hh}:${mm}`, instant };
  });

const itemArb = (currency: CurrencyCode) =>
  fc
    .record({
      quantity: fc.integer({ min: 1, max: MAX_QUANTITY }),
      minor: minorArb,
      asDecimal: fc.boolean(),
    })
    .map(({ quantity, minor, asDecimal }) =>
      asDecimal
        ? { quantity, unitPrice: formatMinorUnits(minor, currency) }
        : { quantity, unitPriceMinor: minor },
    );

/** Random valid orders as producers send them. */
const orderInputArb: fc.Arbitrary<OrderInput> = currencyArb.chain((currency) =>
  fc.record({
    orderId: idArb,
    customerId: idArb,
    currency: fc.constant(currency),
    createdAt: createdAtArb.map((c) => c.text),
    items: fc
      .array(fc.tuple(idArb, itemArb(currency)), { minLength: 1, maxLength: 12 })
      .map((lines) => lines.map(([sku, item]) => ({ sku, ...item }))),
  }),
);

describe('order properties', () => {
  it('totals equal the exact sum of quantity × unitPriceMinor, or reject as AMOUNT_OVERFLOW', () => {
    fc.assert(
      fc.property(orderInputArb, (input) => {
        // Prepare
        const order = parseOrder(JSON.stringify(input));
        const exact = order.items.reduce(
          (sum, i) => sum + BigInt(i.quantity) * BigInt(i.unitPriceMinor),
          0n,
        );

        // Act
        const result = evaluateOrder(order, { now: NOW });

        // Assess
        if (exact > MAX_SAFE) {
          expect(result.totalMinor).toBeNull();
          expect(result.status).toBe('rejected');
        } else {
          expect(result.totalMinor).toBe(Number(exact));
          expect(result.reasonCode).not.toBe('AMOUNT_OVERFLOW');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('keeps every price exact whichever form it arrives in', () => {
    fc.assert(
      fc.property(orderInputArb, (input) => {
        // Act
        const order = parseOrder(JSON.stringify(input));

        // Assess
        order.items.forEach((item, k) => {
          const sent = input.items[k]!;
          const minor = sent.unitPriceMinor ?? Number(sent.unitPrice!.replace('.', ''));
          expect(item.unitPriceMinor).toBe(minor);
        });
      }),
    );
  });

  it('a parsed order serialises and parses back to itself', () => {
    fc.assert(
      fc.property(orderInputArb, (input) => {
        // Prepare
        const order = parseOrder(JSON.stringify(input));

        // Act
        const again = parseOrder(Buffer.from(JSON.stringify(order)));

        // Assess
        expect(again).toEqual(order);
      }),
    );
  });

  it('evaluates every valid order to a consistent result without throwing', () => {
    fc.assert(
      fc.property(orderInputArb, fc.boolean(), (input, duplicate) => {
        // Prepare
        const order = parseOrder(JSON.stringify(input));
        if (duplicate) order.items.push({ ...order.items[0]! });

        // Act
        const result = evaluateOrder(order, { now: NOW });

        // Assess
        expect(result.status === 'rejected').toBe(result.reasonCode !== undefined);
        if (result.reasonCode) expect(REASON_CODES).toContain(result.reasonCode);
        if (duplicate) expect(result.reasonCode).toBe('DUPLICATE_SKU');
        expect(result.itemCount).toBe(order.items.length);
        expect(result.processedAt).toBe(NOW.toISOString());
      }),
    );
  });

  it('accepts createdAt in Z or any offset and reads the instant it names', () => {
    fc.assert(
      fc.property(createdAtArb, ({ text, instant }) => {
        // Prepare
        const input = {
          orderId: 'o',
          customerId: 'c',
          currency: 'EUR',
          createdAt: text,
          items: [{ sku: 's', quantity: 1, unitPriceMinor: 1 }],
        };

        // Act
        const order = parseOrder(JSON.stringify(input));

        // Assess
        expect(Date.parse(order.createdAt)).toBe(instant.getTime());
      }),
    );
  });
});

describe('decimal strings', () => {
  it('convert to the minor units the digits name, or refuse beyond a safe integer', () => {
    fc.assert(
      fc.property(
        currencyArb,
        fc.bigInt({ min: 0n, max: 10n ** 17n }),
        fc.string({ unit: fc.constantFrom(...'0123456789'), maxLength: 4 }),
        (currency, whole, digits) => {
          // Prepare
          const exponent = currencyExponent(currency);
          const fraction = digits.slice(0, exponent);
          const decimal = fraction ? `${whole}.${fraction}` : `${whole}`;
          const exact =
            whole * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, '0') || '0');

          // Act
          const result = toMinorUnits(decimal, currency);

          // Assess
          expect(result).toEqual(
            exact > MAX_SAFE ? { ok: false, problem: 'range' } : { ok: true, minor: Number(exact) },
          );
        },
      ),
    );
  });

  it('refuse any decimal with more digits than the currency exponent', () => {
    fc.assert(
      fc.property(currencyArb, fc.nat(), fc.nat({ max: 3 }), (currency, whole, extra) => {
        // Prepare
        const fraction = '1'.repeat(currencyExponent(currency) + 1 + extra);

        // Act
        const result = toMinorUnits(`${whole}.${fraction}`, currency);

        // Assess
        expect(result).toEqual({ ok: false, problem: 'precision' });
      }),
    );
  });

  it('format and convert back to the same minor units', () => {
    fc.assert(
      fc.property(currencyArb, fc.maxSafeNat(), (currency, minor) => {
        // Act
        const back = toMinorUnits(formatMinorUnits(minor, currency), currency);

        // Assess
        expect(back).toEqual({ ok: true, minor });
      }),
    );
  });
});

describe('parseOrder on hostile input', () => {
  const onlyPoison = (value: Buffer | string) => {
    try {
      parseOrder(value);
    } catch (error) {
      expect(error).toBeInstanceOf(PoisonRecordError);
      expect(['NOT_JSON', 'SCHEMA_VIOLATION']).toContain((error as PoisonRecordError).code);
      expect((error as PoisonRecordError).message.length).toBeLessThanOrEqual(480);
    }
  };

  it('throws nothing but PoisonRecordError on random bytes', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)),
        onlyPoison,
      ),
      { numRuns: 1_000 },
    );
  });

  it('throws nothing but PoisonRecordError on random text and JSON values', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 256 }),
          fc.jsonValue().map((v) => JSON.stringify(v)),
          fc.anything().map((v) => JSON.stringify(v) ?? 'undefined'),
        ),
        onlyPoison,
      ),
      { numRuns: 1_000 },
    );
  });

  it('throws nothing but PoisonRecordError when any field of a valid order is replaced', () => {
    const fields = ['orderId', 'customerId', 'currency', 'createdAt', 'items'] as const;
    fc.assert(
      fc.property(
        orderInputArb,
        fc.constantFrom(...fields),
        fc.jsonValue(),
        fc.nat({ max: MAX_LINE_ITEMS }),
        fc.constantFrom('sku', 'quantity', 'unitPrice', 'unitPriceMinor'),
        (input, field, replacement, line, itemField) => {
          // Prepare: replace one order field, and one field of one line item.
          const mutated: Record<string, unknown> = { ...input, [field]: replacement };
          const items = Array.isArray(mutated.items) ? [...mutated.items] : [];
          const k = line % Math.max(1, items.length);
          if (typeof items[k] === 'object' && items[k] !== null)
            items[k] = { ...(items[k] as object), [itemField]: replacement };
          if (Array.isArray(mutated.items)) mutated.items = items;

          // Act & Assess
          onlyPoison(JSON.stringify(mutated));
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
