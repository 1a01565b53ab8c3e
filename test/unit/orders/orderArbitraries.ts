/**
 * Orders for property tests: valid ones, and ones a few near misses from valid in every
 * way the schema tells apart. Shared by the fast path's and the scanner's tests.
 */
import fc from 'fast-check';
import {
  CURRENCY_CODES,
  type CurrencyCode,
  formatMinorUnits,
  MAX_QUANTITY,
} from '../../../src/lib/orders/index.ts';

// --- values near each rule's edges -----------------------------------------------------

export const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-';
export const idArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/);
export const anyIdArb = fc.oneof(
  { weight: 6, arbitrary: idArb },
  fc.constantFrom('', 'x'.repeat(64), 'x'.repeat(65), 'a b', 'a\n', '\nA', 'é', 'ord/1', '<b>'),
  fc.string({
    unit: fc.constantFrom(...ID_CHARS, ' ', '/', 'é', '\u{1F600}', '\n'),
    maxLength: 66,
  }),
  fc.constantFrom(42, null, undefined, true, ['a'], { a: 1 }),
);

export const currencyArb = fc.constantFrom(...CURRENCY_CODES);
export const anyCurrencyArb = fc.oneof(
  { weight: 6, arbitrary: currencyArb },
  fc.constantFrom('eur', 'EURO', 'HRK', 'XAU', 'XXX', '', ' EUR', 'EUR ', 'toString', '__proto__'),
  fc.stringMatching(/^[A-Z]{3}$/),
  fc.constantFrom(978, null, undefined, ['EUR']),
);

export const pad = (n: number, width: number) => String(n).padStart(width, '0');
/** Date-times of every shape zod's pattern distinguishes, most of them plausible. */
export const dateTimeArb = fc
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
export const isoInstantArb = fc
  .date({
    min: new Date('0000-01-01T00:00:00.000Z'),
    max: new Date('9999-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  })
  .map((d) => d.toISOString());
export const anyCreatedAtArb = fc.oneof(
  { weight: 2, arbitrary: isoInstantArb },
  { weight: 6, arbitrary: dateTimeArb },
  fc.constantFrom('2024-02-29T00:00:00Z', '2023-02-29T00:00:00Z', '2000-02-29T00:00:00Z'),
  fc.constantFrom('1900-02-29T00:00:00Z', '2025-11-24', 'now', '', 1_764_000_000_000, null),
);

export const edgeIntegers = [
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
export const anyNumberArb = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: MAX_QUANTITY }) },
  { weight: 2, arbitrary: fc.constantFrom(...edgeIntegers) },
  fc.maxSafeNat(),
  fc.double(),
  fc.constantFrom(1.5, 0.1, Number.NaN, Number.POSITIVE_INFINITY, Number.EPSILON),
  fc.constantFrom('1', '100', null, true, [1], undefined),
);

/** Decimal strings, mostly plausible: every way the plain-decimal rule can be broken. */
export const decimalArb = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^(0|[1-9]\d{0,17})(\.\d{1,5})?$/) },
  { weight: 2, arbitrary: fc.stringMatching(/^[-+]?\d{0,20}(\.\d{0,6})?$/) },
  fc.string({ unit: fc.constantFrom(...'0123456789.e-+, '), maxLength: 34 }),
  fc.constantFrom('90071992547409.91', '90071992547409.92', '9007199254740991', '9007199254740992'),
  fc.constantFrom('900719925474099.1', '900719925474.0991', '0', '0.0', '00', '.5', '5.', '1e3'),
  fc.constantFrom('١٢', '１２', `${'1'.repeat(32)}`, `${'1'.repeat(33)}`, `${'١'.repeat(20)}`),
);
export const anyUnitPriceArb = fc.oneof(
  { weight: 6, arbitrary: decimalArb },
  fc.constantFrom(12.34, 0, null, undefined, ['1.00']),
);

/** Left out of the object when drawn: a missing key. */
export const ABSENT = Symbol('absent');
/** Mostly `valid`, now and then one of the near misses (or the key left out). */
export const mostly = <T>(valid: fc.Arbitrary<T>, broken: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 20, arbitrary: valid as fc.Arbitrary<unknown> },
    { weight: 1, arbitrary: broken },
    { weight: 1, arbitrary: fc.constant(ABSENT) },
  );
export const withoutAbsent = (entries: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== ABSENT));

/** A line item, mostly well formed: one price, in the order's currency, in range. */
export const lineItemArb = (currency: CurrencyCode) =>
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
export const wellFormedItemArb = (currency: CurrencyCode) =>
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

export const validOrderArb = currencyArb.chain((currency) =>
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
export const anyOrderArb = currencyArb.chain((currency) =>
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
