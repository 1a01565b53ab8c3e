/**
 * The hot path's hand-written code against what it stands in for: `parseOrderFast`
 * against the zod schema (random valid orders, and orders broken in every field near the
 * edges the schema draws), and `toMinorUnits` against the plain regex + BigInt conversion;
 * and the result `evaluateOrder` now builds from literals, against the shape it had.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CurrencyCode,
  currencyExponent,
  DEFAULT_ORDER_LIMITS,
  evaluateOrder,
  MAX_LINE_ITEMS,
  type MinorUnitsResult,
  orderSchema,
  parseOrderFast,
  safeParseOrder,
  toMinorUnits,
} from '../../../src/lib/orders/index.ts';
import {
  anyCreatedAtArb,
  anyCurrencyArb,
  anyIdArb,
  anyNumberArb,
  anyOrderArb,
  anyUnitPriceArb,
  currencyArb,
  decimalArb,
  validOrderArb,
} from './orderArbitraries.ts';

/** Accepted and rejected values seen, so a test can check it exercised both. */
const seen = { accepted: 0, rejected: 0 };

/** What `parseOrderFast` must match: zod's decision and zod's output. */
const expectSameAsZod = (value: unknown) => {
  const zod = orderSchema.safeParse(value);
  seen[zod.success ? 'accepted' : 'rejected']++;
  const fast = parseOrderFast(value);
  expect(fast !== undefined).toBe(zod.success);
  if (zod.success) {
    // toEqual compares numbers with Object.is (-0 stays -0); the JSON, key order.
    expect(fast).toEqual(zod.data);
    expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
  }
};

describe('parseOrderFast: the zod schema written out by hand', () => {
  it('accepts random valid orders, with the output zod gives', () => {
    fc.assert(fc.property(validOrderArb, expectSameAsZod), { numRuns: 2_000 });
  });

  it('decides like zod, and outputs like it, on orders broken anywhere', () => {
    // Prepare
    seen.accepted = 0;
    seen.rejected = 0;

    // Act & Assess
    fc.assert(fc.property(anyOrderArb, expectSameAsZod), { numRuns: 5_000 });
    expect(seen.accepted).toBeGreaterThan(1_000);
    expect(seen.rejected).toBeGreaterThan(1_000);
  });

  it('decides like zod when one field of a valid order is broken', () => {
    const fields = ['orderId', 'customerId', 'currency', 'createdAt', 'items'] as const;
    const itemFields = ['sku', 'quantity', 'unitPrice', 'unitPriceMinor'] as const;
    fc.assert(
      fc.property(
        validOrderArb,
        fc.option(fc.constantFrom(...fields), { nil: undefined }),
        fc.oneof(anyIdArb, anyCurrencyArb, anyCreatedAtArb, anyNumberArb, anyUnitPriceArb),
        fc.nat(),
        fc.option(fc.constantFrom(...itemFields), { nil: undefined }),
        fc.oneof(anyNumberArb, anyUnitPriceArb, anyIdArb),
        fc.boolean(),
        (order, field, replacement, line, itemField, itemReplacement, remove) => {
          // Prepare: replace or remove one field of the order and one of a line item.
          const mutated: Record<string, unknown> = { ...order };
          if (field !== undefined) {
            if (remove) delete mutated[field];
            else mutated[field] = replacement;
          }
          const items = [...order.items] as Record<string, unknown>[];
          if (itemField !== undefined) {
            const k = line % items.length;
            const item: Record<string, unknown> = { ...items[k] };
            if (remove) delete item[itemField];
            else item[itemField] = itemReplacement;
            items[k] = item;
          }
          if (field !== 'items') mutated.items = items;

          // Act & Assess
          expectSameAsZod(mutated);
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('decides like zod on the item-count and root edges', () => {
    const item = { sku: 'S', quantity: 1, unitPriceMinor: 1 };
    const base = {
      orderId: 'o',
      customerId: 'c',
      currency: 'EUR',
      createdAt: '2025-11-24T16:00:00Z',
    };
    for (const count of [0, 1, MAX_LINE_ITEMS, MAX_LINE_ITEMS + 1])
      expectSameAsZod({ ...base, items: Array.from({ length: count }, () => item) });
    // Holes read as undefined: not an object.
    // biome-ignore lint/suspicious/noSparseArray: the hole is the case
    expectSameAsZod({ ...base, items: [item, , item] });
    for (const root of [null, undefined, 42, 'order', [], [base], new Date(0), () => base])
      expectSameAsZod(root);
    // Prototype and own `__proto__` keys, as JSON.parse makes them.
    expectSameAsZod(Object.assign(Object.create({ extra: 1 }), { ...base, items: [item] }));
    expectSameAsZod(
      JSON.parse(
        `{"__proto__":{"orderId":"x"},${JSON.stringify({ ...base, items: [item] }).slice(1)}`,
      ),
    );
  });

  it('leaves every invalid order to zod: same issues, same messages', () => {
    fc.assert(
      fc.property(anyOrderArb, (value) => {
        // Act
        const result = safeParseOrder(value);
        const zod = orderSchema.safeParse(value);

        // Assess
        expect(result.success).toBe(zod.success);
        if (!result.success && !zod.success)
          expect(result.issues.map((i) => i.message)).toEqual(
            zod.error.issues.map((i) => i.message),
          );
      }),
      { numRuns: 1_000 },
    );
  });
});

// --- toMinorUnits -----------------------------------------------------------------------

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** The conversion as first written: a regex, then BigInt. */
const referenceMinorUnits = (decimal: string, currency: CurrencyCode): MinorUnitsResult => {
  const match = /^(0|[1-9]\d*)(?:\.(\d+))?$/.exec(decimal);
  if (!match) return { ok: false, problem: 'format' };
  const exponent = currencyExponent(currency);
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) return { ok: false, problem: 'precision' };
  const minor = BigInt(match[1]! + fraction.padEnd(exponent, '0'));
  if (minor > MAX_SAFE) return { ok: false, problem: 'range' };
  return { ok: true, minor: Number(minor) };
};

describe('toMinorUnits: the one-pass conversion', () => {
  it('gives what the regex + BigInt conversion gives, for any string', () => {
    fc.assert(
      fc.property(
        fc.oneof(decimalArb, fc.string({ maxLength: 40 }), fc.string({ unit: 'binary' })),
        currencyArb,
        (decimal, currency) => {
          expect(toMinorUnits(decimal, currency)).toEqual(referenceMinorUnits(decimal, currency));
        },
      ),
      { numRuns: 10_000 },
    );
  });

  it('is exact at the 15-digit boundary where it switches to BigInt', () => {
    for (const currency of ['JPY', 'EUR', 'KWD', 'CLF'] as const)
      for (const digits of [14, 15, 16, 17])
        for (const whole of ['9'.repeat(digits), `1${'0'.repeat(digits - 1)}`])
          for (const decimal of [whole, `${whole}.9`, `${whole}.0001`, `0.${whole}`])
            expect(toMinorUnits(decimal, currency)).toEqual(referenceMinorUnits(decimal, currency));
  });
});

// --- evaluateOrder's result -----------------------------------------------------------------

describe('evaluateOrder: the result, built without spreads', () => {
  it('keeps its keys in the order orders.processed has them, and copies the source', () => {
    const base = ['orderId', 'customerId', 'currency', 'itemCount', 'totalMinor', 'status'];
    fc.assert(
      fc.property(
        validOrderArb,
        fc.boolean(),
        fc.boolean(),
        fc.date({ noInvalidDate: true }),
        (input, withSource, reject, now) => {
          // Prepare
          const order = parseOrderFast(input)!;
          if (reject) order.items.push({ ...order.items[0]! }); // DUPLICATE_SKU
          const source = { topic: 'orders', partition: 2, offset: 7, extra: true };

          // Act
          const result = evaluateOrder(order, { now, ...(withSource && { source }) });

          // Assess
          expect(Object.keys(result)).toEqual([
            ...base,
            ...(result.status === 'rejected' ? ['reasonCode'] : []),
            'processedAt',
            ...(withSource ? ['source'] : []),
          ]);
          expect(result.processedAt).toBe(now.toISOString());
          if (withSource) {
            expect(result.source).toEqual({ topic: 'orders', partition: 2, offset: 7 });
            expect(result.source).not.toBe(source);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('evaluateOrder: CREATED_IN_FUTURE without parsing most dates', () => {
  it('judges createdAt against the clock as Date.parse does, in any offset', () => {
    const DAY = 86_400_000;
    const skew = DEFAULT_ORDER_LIMITS.maxClockSkewMs;
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('0000-01-04T00:00:00Z'),
          max: new Date('9999-12-28T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.oneof(
          fc.integer({ min: -4 * DAY, max: 4 * DAY }),
          fc.constantFrom(skew, skew + 1, skew - 1, -2 * DAY, 2 * DAY, 0),
        ),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.boolean(),
        (now, delta, offsetMinutes, fraction) => {
          // Prepare: the instant now + delta, written in the given offset
          const instant = now.getTime() + delta;
          const local = new Date(instant + offsetMinutes * 60_000).toISOString();
          if (local.length !== 24) return;
          const sign = offsetMinutes < 0 ? '-' : '+';
          const abs = Math.abs(offsetMinutes);
          const zone = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
          const createdAt = `${fraction ? local.slice(0, 23) : local.slice(0, 19)}${zone}`;
          const order = parseOrderFast({
            orderId: 'o',
            customerId: 'c',
            currency: 'EUR',
            createdAt,
            items: [{ sku: 's', quantity: 1, unitPriceMinor: 1 }],
          });
          expect(order).toBeDefined();

          // Act
          const result = evaluateOrder(order!, { now });

          // Assess
          const future = Date.parse(createdAt) > now.getTime() + skew;
          expect(result.reasonCode === 'CREATED_IN_FUTURE').toBe(future);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
