import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError } from '../../../src/lib/errors.ts';
import {
  DEFAULT_ORDER_LIMITS,
  evaluateOrder,
  type Order,
  type OrderLineItem,
  orderLimits,
  parseOrder,
  REASON_CODES,
  type ReasonCode,
} from '../../../src/lib/orders/index.ts';

const NOW = new Date('2025-11-24T16:00:00.000Z');

const order = (overrides: Partial<Order> = {}): Order => ({
  orderId: 'ord-000001',
  customerId: 'cust-0001',
  currency: 'EUR',
  createdAt: '2025-11-24T15:59:00Z',
  items: [
    { sku: 'SKU-A', quantity: 2, unitPriceMinor: 1230 },
    { sku: 'SKU-B', quantity: 1, unitPriceMinor: 899 },
  ],
  ...overrides,
});

const items = (...lines: Array<[quantity: number, unitPriceMinor: number]>): OrderLineItem[] =>
  lines.map(([quantity, unitPriceMinor], k) => ({ sku: `SKU-${k}`, quantity, unitPriceMinor }));

afterEach(() => {
  vi.useRealTimers();
});

describe('evaluateOrder: accepted orders', () => {
  it('returns the result record with the exact total, the clock and the source', () => {
    // Prepare
    const source = { topic: 'orders', partition: 2, offset: 41 };

    // Act
    const result = evaluateOrder(order(), { now: NOW, source });

    // Assess
    expect(result).toEqual({
      orderId: 'ord-000001',
      customerId: 'cust-0001',
      currency: 'EUR',
      itemCount: 2,
      totalMinor: 3359,
      status: 'accepted',
      processedAt: '2025-11-24T16:00:00.000Z',
      source: { topic: 'orders', partition: 2, offset: 41 },
    });
    expect(result).not.toHaveProperty('reasonCode');
  });

  it('leaves source out when none is given and serialises to the same JSON object', () => {
    // Act
    const result = evaluateOrder(order(), { now: NOW });

    // Assess
    expect(result).not.toHaveProperty('source');
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  it('reads the current time when no clock is injected', () => {
    // Prepare
    vi.useFakeTimers({ now: new Date('2026-01-02T03:04:05.678Z') });

    // Act
    const result = evaluateOrder(order());

    // Assess
    expect(result.processedAt).toBe('2026-01-02T03:04:05.678Z');
  });

  it('adds decimal prices without float error: 0.10 + 0.20 is 30 cents', () => {
    // Prepare
    const parsed = parseOrder(
      JSON.stringify({
        ...order(),
        items: [
          { sku: 'A', quantity: 1, unitPrice: '0.10' },
          { sku: 'B', quantity: 1, unitPrice: '0.20' },
        ],
      }),
    );

    // Act
    const result = evaluateOrder(parsed, { now: NOW });

    // Assess
    expect(result.totalMinor).toBe(30);
  });

  it.each([
    ['EUR', 100_000_000],
    ['JPY', 1_000_000],
    ['KWD', 1_000_000_000],
    ['CLF', 10_000_000_000],
  ] as const)(
    'accepts a %s total exactly at the default limit (%d minor units)',
    (currency, limit) => {
      // Act
      const result = evaluateOrder(order({ currency, items: items([1, limit]) }), { now: NOW });

      // Assess
      expect(result).toMatchObject({ status: 'accepted', totalMinor: limit });
    },
  );

  it('accepts an order created within the allowed clock skew', () => {
    // Prepare
    const createdAt = new Date(NOW.getTime() + DEFAULT_ORDER_LIMITS.maxClockSkewMs).toISOString();

    // Act
    const result = evaluateOrder(order({ createdAt }), { now: NOW });

    // Assess
    expect(result.status).toBe('accepted');
  });

  it('judges a createdAt outside the schema by Date.parse, not by its first ten characters', () => {
    // a hand-built Order: an expanded year, which the schema refuses and Date.parse reads
    const far = evaluateOrder(order({ createdAt: '+010000-01-01T00:00:00.000Z' }), { now: NOW });
    const past = evaluateOrder(order({ createdAt: '-000001-01-01T00:00:00.000Z' }), { now: NOW });

    expect(far.reasonCode).toBe('CREATED_IN_FUTURE');
    expect(past.status).toBe('accepted');
  });
});

/** One order per reason code; the test below checks the list is complete. */
const REJECTIONS: Record<ReasonCode, { order: Order; totalMinor: number | null }> = {
  DUPLICATE_SKU: {
    order: order({
      items: [
        { sku: 'SKU-A', quantity: 1, unitPriceMinor: 100 },
        { sku: 'SKU-B', quantity: 1, unitPriceMinor: 100 },
        { sku: 'SKU-A', quantity: 2, unitPriceMinor: 100 },
      ],
    }),
    totalMinor: 400,
  },
  CREATED_IN_FUTURE: {
    // 17:06 at +01:00 is 16:06Z: six minutes ahead of the clock, beyond five of skew.
    order: order({ createdAt: '2025-11-24T17:06:00+01:00' }),
    totalMinor: 3359,
  },
  AMOUNT_OVERFLOW: {
    order: order({ items: items([100_000, Number.MAX_SAFE_INTEGER]) }),
    totalMinor: null,
  },
  EMPTY_TOTAL: {
    order: order({ items: items([3, 0], [1, 0]) }),
    totalMinor: 0,
  },
  TOTAL_EXCEEDS_LIMIT: {
    // 1,000,000.01 EUR: one cent over the default limit.
    order: order({ items: items([1, 100_000_001]) }),
    totalMinor: 100_000_001,
  },
};

describe('evaluateOrder: rejections are results', () => {
  it('has a rejection case for every reason code', () => {
    // Assess
    expect(Object.keys(REJECTIONS).sort()).toEqual([...REASON_CODES].sort());
  });

  it.each(REASON_CODES)('rejects with %s', (reasonCode) => {
    // Prepare
    const { order: rejected, totalMinor } = REJECTIONS[reasonCode];

    // Act
    const result = evaluateOrder(rejected, { now: NOW });

    // Assess
    expect(result).toMatchObject({ status: 'rejected', reasonCode, totalMinor });
  });

  it('detects overflow in the sum of lines that are each safe', () => {
    // Prepare
    const half = Math.ceil(Number.MAX_SAFE_INTEGER / 2);

    // Act
    const result = evaluateOrder(order({ items: items([1, half], [1, half]) }), { now: NOW });

    // Assess
    expect(result).toMatchObject({ reasonCode: 'AMOUNT_OVERFLOW', totalMinor: null });
  });

  it('reports the first rule that applies, in REASON_CODES order', () => {
    // Prepare: duplicate SKUs, in the future and overflowing at once.
    const all = order({
      createdAt: '2030-01-01T00:00:00Z',
      items: [
        { sku: 'SKU-A', quantity: 100_000, unitPriceMinor: Number.MAX_SAFE_INTEGER },
        { sku: 'SKU-A', quantity: 1, unitPriceMinor: 1 },
      ],
    });

    // Act
    const result = evaluateOrder(all, { now: NOW });

    // Assess
    expect(result.reasonCode).toBe('DUPLICATE_SKU');
  });

  it('applies a per-currency limit in minor units over the major-unit default', () => {
    // Prepare
    const limits = orderLimits({ maxTotalMinorByCurrency: { JPY: 50_000 } });
    const yen = (amount: number) => order({ currency: 'JPY', items: items([1, amount]) });

    // Act
    const atLimit = evaluateOrder(yen(50_000), { now: NOW, limits });
    const over = evaluateOrder(yen(50_001), { now: NOW, limits });
    const euro = evaluateOrder(order({ items: items([1, 50_001]) }), { now: NOW, limits });

    // Assess
    expect(atLimit.status).toBe('accepted');
    expect(over.reasonCode).toBe('TOTAL_EXCEEDS_LIMIT');
    expect(euro.status).toBe('accepted');
  });

  it('applies a lower major-unit limit and a tighter clock skew', () => {
    // Prepare
    const limits = orderLimits({ maxTotalMajor: 10, maxClockSkewMs: 0 });

    // Act
    const over = evaluateOrder(order({ items: items([1, 1001]) }), { now: NOW, limits });
    const ahead = evaluateOrder(order({ createdAt: '2025-11-24T16:00:00.001Z' }), {
      now: NOW,
      limits,
    });

    // Assess
    expect(over.reasonCode).toBe('TOTAL_EXCEEDS_LIMIT');
    expect(ahead.reasonCode).toBe('CREATED_IN_FUTURE');
  });
});

describe('orderLimits', () => {
  it('completes overrides with the defaults', () => {
    // Act
    const limits = orderLimits({ maxClockSkewMs: 1_000 });

    // Assess
    expect(limits).toEqual({
      maxTotalMajor: 1_000_000,
      maxTotalMinorByCurrency: {},
      maxClockSkewMs: 1_000,
    });
    expect(Object.isFrozen(limits)).toBe(true);
  });

  it.each([
    ['a fractional major limit', { maxTotalMajor: 10.5 }],
    ['a negative major limit', { maxTotalMajor: -1 }],
    ['a major limit with no exact minor value', { maxTotalMajor: 2 ** 50 }],
    ['a fractional skew', { maxClockSkewMs: 0.5 }],
    ['an unsafe per-currency limit', { maxTotalMinorByCurrency: { EUR: 2 ** 53 } }],
    ['a NaN per-currency limit', { maxTotalMinorByCurrency: { EUR: Number.NaN } }],
  ])('refuses %s with a ConfigurationError', (_, overrides) => {
    // Act
    const act = () => orderLimits(overrides);

    // Assess
    expect(act).toThrow(ConfigurationError);
  });
});
