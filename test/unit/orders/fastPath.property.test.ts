/**
 * The hot path's hand-written code against what it stands in for: `parseOrderFast`
 * against the zod schema (random valid orders, and orders broken in every field near the
 * edges the schema draws), and `toMinorUnits` against the plain regex + BigInt conversion;
 * and the result `evaluateOrder` now builds from literals, against the shape it had.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CURRENCY_CODES,
  type CurrencyCode,
  currencyExponent,
  evaluateOrder,
  formatMinorUnits,
  MAX_LINE_ITEMS,
  MAX_QUANTITY,
  type MinorUnitsResult,
  orderSchema,
  parseOrderFast,
  safeParseOrder,
  toMinorUnits,
} from '../../../src/lib/orders/index.ts';

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

// --- values near each rule's edges -----------------------------------------------------

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-';
const idArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/);
const anyIdArb = fc.oneof(
  { weight: 6, arbitrary: idArb },
  fc.constantFrom('', 'x'.repeat(64), 'x'.repeat(65), 'a b', 'a\n', '\nA', 'é', 'ord/1', '<b>'),
  fc.string({
    unit: fc.constantFrom(...ID_CHARS, ' ', '/', 'é', '\u{1F600}', '\n'),
    maxLength: 66,
  }),
  fc.constantFrom(42, null, undefined, true, ['a'], { a: 1 }),
);

const currencyArb = fc.constantFrom(...CURRENCY_CODES);
const anyCurrencyArb = fc.oneof(
  { weight: 6, arbitrary: currencyArb },
  fc.constantFrom('eur', 'EURO', 'HRK', 'XAU', 'XXX', '', ' EUR', 'EUR ', 'toString', '__proto__'),
  fc.stringMatching(/^[A-Z]{3}$/),
  fc.constantFrom(978, null, undefined, ['EUR']),
);

const pad = (n: number, width: number) => String(n).padStart(width, '0');
/** Date-times of every shape zod's pattern distinguishes, most of them plausible. */
const dateTimeArb = fc
  .record({
    year: fc.oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(1900, 2000, 2024, 2100)),
    month: fc.integer({ min: 0, max: 13 }),
    day: fc.oneof(fc.integer({ min: 0, max: 32 }), fc.constantFrom(28, 29, 30, 31)),
    hour: fc.integer({ min: 0, max: 25 }),
    minute: fc.integer({ min: 0, max: 60 }),
    second: fc.option(fc.integer({ min: 0, max: 61 }), { nil: undefined }),
    fraction: fc.option(fc.stringMatching(/^\d{0,10}$/), { nil: undefined }),
    zone: fc.oneof(
      fc.constantFrom('Z', 'z', '', '+00:00', '-00:00', '+24:00', '+23:59', '-14:00', '+0530'),
      fc
        .tuple(fc.constantFrom('+', '-'), fc.integer({ min: 0, max: 25 }), fc.nat({ max: 61 }))
        .map(([sign, h, m]) => `${sign}${pad(h, 2)}:${pad(m, 2)}`),
    ),
    separator: fc.constantFrom('T', 'T', 'T', 't', ' '),
    tail: fc.constantFrom('', '', '', '', ' ', '\n'),
  })
  .map(
    (d) =>
      `${pad(d.year, 4)}-${pad(d.month, 2)}-${pad(d.day, 2)}${d.separator}${pad(d.hour, 2)}:${pad(d.minute, 2)}` +
      `${d.second === undefined ? '' : `:${pad(d.second, 2)}`}${d.fraction === undefined ? '' : `.${d.fraction}`}${d.zone}${d.tail}`,
  );
/** `toISOString()` of instants in years 0000-9999 (beyond, it writes six-digit years). */
const isoInstantArb = fc
  .date({
    min: new Date('0000-01-01T00:00:00.000Z'),
    max: new Date('9999-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());
const anyCreatedAtArb = fc.oneof(
  { weight: 2, arbitrary: isoInstantArb },
  { weight: 6, arbitrary: dateTimeArb },
  fc.constantFrom('2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2000-02-29T00:00:00Z'),
  fc.constantFrom('1900-02-29T00:00:00Z', '2025-11-24', 'now', '', 1_764_000_000_000, null),
);

const edgeIntegers = [
  0,
  -0,
  1,
  -1,
  MAX_QUANTITY,
  MAX_QUANTITY + 1,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 1,
  Number.MIN_SAFE_INTEGER,
  2 ** 53,
];
const anyNumberArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: MAX_QUANTITY }) },
  { weight: 2, arbitrary: fc.constantFrom(...edgeIntegers) },
  fc.maxSafeNat(),
  fc.double(),
  fc.constantFrom(1.5, 0.1, Number.NaN, Number.POSITIVE_INFINITY, Number.EPSILON),
  fc.constantFrom('1', '100', null, true, [1], undefined),
);

/** Decimal strings, mostly plausible: every way the plain-decimal rule can be broken. */
const decimalArb = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^(0|[1-9]\d{0,17})(\.\d{1,5})?$/) },
  { weight: 2, arbitrary: fc.stringMatching(/^[-+]?\d{0,20}(\.\d{0,6})?$/) },
  fc.string({ unit: fc.constantFrom(...'0123456789.e-+, '), maxLength: 34 }),
  fc.constantFrom('90071992547409.91', '90071992547409.92', '9007199254740991', '9007199254740992'),
  fc.constantFrom('900719925474099.1', '900719925474.0991', '0', '0.0', '00', '.5', '5.', '1e3'),
  fc.constantFrom('١٢', '１２', `${'1'.repeat(32)}`, `${'1'.repeat(33)}`, `${'١'.repeat(20)}`),
);
const anyUnitPriceArb = fc.oneof(
  { weight: 6, arbitrary: decimalArb },
  fc.constantFrom(12.34, 0, null, undefined, ['1.00']),
);

/** Left out of the object when drawn: a missing key. */
const ABSENT = Symbol('absent');
/** Mostly `valid`, now and then one of the near misses (or the key left out). */
const mostly = <T>(valid: fc.Arbitrary<T>, broken: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 20, arbitrary: valid as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: broken },
    { weight: 1, arbitrary: fc.constant(ABSENT) },
  );
const withoutAbsent = (entries: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== ABSENT));

/** A line item, mostly well formed: one price, in the order's currency, in range. */
const lineItemArb = (currency: CurrencyCode) =>
  fc
    .record({
      sku: mostly(idArb, anyIdArb),
      quantity: mostly(fc.integer({ min: 1, max: MAX_QUANTITY }), anyNumberArb),
      minor: fc.oneof(fc.nat({ max: 1_000_000 }), fc.maxSafeNat()),
      price: fc.oneof(
        { weight: 10, arbitrary: fc.constantFrom('minor', 'decimal') },
        { weight: 1, arbitrary: fc.constantFrom('both', 'none') },
      ),
      brokenMinor: anyNumberArb,
      brokenDecimal: anyUnitPriceArb,
      broken: fc.nat({ max: 19 }),
    })
    .map(({ sku, quantity, minor, price, brokenMinor, brokenDecimal, broken }) => {
      const item: Record<string, unknown> = { sku, quantity };
      if (price === 'minor' || price === 'both')
        item.unitPriceMinor = broken === 0 ? brokenMinor : minor;
      if (price === 'decimal' || price === 'both')
        item.unitPrice = broken === 0 ? brokenDecimal : formatMinorUnits(minor, currency);
      return withoutAbsent(item);
    });
const wellFormedItemArb = (currency: CurrencyCode) =>
  fc
    .record({
      sku: idArb,
      quantity: fc.integer({ min: 1, max: MAX_QUANTITY }),
      minor: fc.oneof(fc.nat({ max: 1_000_000 }), fc.maxSafeNat()),
      asDecimal: fc.boolean(),
    })
    .map(({ sku, quantity, minor, asDecimal }) =>
      asDecimal
        ? { sku, quantity, unitPrice: formatMinorUnits(minor, currency) }
        : { sku, quantity, unitPriceMinor: minor },
    );

const validOrderArb = currencyArb.chain((currency) =>
  fc.record({
    orderId: idArb,
    customerId: idArb,
    currency: fc.constant(currency as string),
    createdAt: isoInstantArb,
    items: fc.array(wellFormedItemArb(currency), { minLength: 1, maxLength: 8 }),
  }),
);

/**
 * Orders that are each a few near misses from valid, or valid: every field and every
 * line item mostly right, now and then wrong (or missing) in one of the ways the schema
 * tells apart. About 40 % come out valid.
 */
const anyOrderArb = currencyArb.chain((currency) =>
  fc
    .record({
      orderId: mostly(idArb, anyIdArb),
      customerId: mostly(idArb, anyIdArb),
      currency: mostly(fc.constant(currency), anyCurrencyArb),
      createdAt: mostly(isoInstantArb, anyCreatedAtArb),
      items: mostly(
        fc.array(lineItemArb(currency), { minLength: 1, maxLength: 4 }),
        fc.oneof(
          fc.constantFrom([], null, 'items', {}),
          fc.array(fc.anything(), { maxLength: 3 }),
          fc.array(lineItemArb(currency), { maxLength: 3 }).map((items) => [...items, 'x']),
        ),
      ),
      note: fc.option(fc.string(), { nil: ABSENT }),
    })
    .map(withoutAbsent),
);

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
