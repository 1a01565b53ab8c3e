import { ConfigurationError } from '../errors.ts';
import { type CurrencyCode, checkedAdd, checkedMultiply, currencyExponent } from './money.ts';
import type { Order } from './schema.ts';

/**
 * Why an order was rejected. Stable: part of the `orders.processed` contract,
 * used in logs and metrics. Listed in the order the rules are checked; an order
 * gets the first that applies.
 */
export const REASON_CODES = [
  'DUPLICATE_SKU',
  'CREATED_IN_FUTURE',
  'AMOUNT_OVERFLOW',
  'EMPTY_TOTAL',
  'TOTAL_EXCEEDS_LIMIT',
] as const;

export type ReasonCode = (typeof REASON_CODES)[number];

export type OrderStatus = 'accepted' | 'rejected';

/** Where an order was read from. */
export interface RecordSource {
  topic: string;
  partition: number;
  offset: number;
}

/** Business limits. Amounts are integers, so a limit is as exact as the totals. */
export interface OrderLimits {
  /** Highest accepted total, in major units, for a currency without its own limit. */
  maxTotalMajor: number;
  /** Per-currency limits in minor units (e.g. `{ JPY: 150_000_000 }`), overriding `maxTotalMajor`. */
  maxTotalMinorByCurrency: Partial<Record<CurrencyCode, number>>;
  /** How far `createdAt` may be ahead of the clock (producers' clocks drift). */
  maxClockSkewMs: number;
}

export const DEFAULT_ORDER_LIMITS: Readonly<OrderLimits> = Object.freeze({
  maxTotalMajor: 1_000_000,
  maxTotalMinorByCurrency: Object.freeze({}),
  maxClockSkewMs: 5 * 60_000,
});

export interface EvaluateOrderOptions {
  /** The clock: `processedAt` and the future check read it. Default: the current time. */
  now?: Date;
  /** Where the order was read from; copied to the result. */
  source?: RecordSource;
  /** Overrides of {@link DEFAULT_ORDER_LIMITS}; build them once with {@link orderLimits}. */
  limits?: Readonly<OrderLimits>;
}

/** The result written to `orders.processed`. A rejection is a result, not an error. */
export interface OrderResult {
  orderId: string;
  customerId: string;
  currency: CurrencyCode;
  /** Number of line items. */
  itemCount: number;
  /** Sum of quantity × unit price in minor units; `null` only with `AMOUNT_OVERFLOW`. */
  totalMinor: number | null;
  status: OrderStatus;
  /** Set when, and only when, `status` is `rejected`. */
  reasonCode?: ReasonCode;
  /** ISO-8601, UTC. */
  processedAt: string;
  source?: RecordSource;
}

const nonNegativeSafeInteger = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Checks and completes business limits once, at init.
 *
 * @throws ConfigurationError when a limit is not a non-negative safe integer or a
 *   major-unit limit has no exact minor-unit value.
 *
 * @example
 * const limits = orderLimits({ maxTotalMajor: 50_000, maxTotalMinorByCurrency: { JPY: 5_000_000 } });
 * evaluateOrder(order, { limits });
 */
export const orderLimits = (overrides: Partial<OrderLimits> = {}): Readonly<OrderLimits> => {
  const limits: OrderLimits = {
    maxTotalMajor: overrides.maxTotalMajor ?? DEFAULT_ORDER_LIMITS.maxTotalMajor,
    maxTotalMinorByCurrency: {
      ...(overrides.maxTotalMinorByCurrency ?? DEFAULT_ORDER_LIMITS.maxTotalMinorByCurrency),
    },
    maxClockSkewMs: overrides.maxClockSkewMs ?? DEFAULT_ORDER_LIMITS.maxClockSkewMs,
  };
  if (!nonNegativeSafeInteger(limits.maxTotalMajor))
    throw new ConfigurationError('maxTotalMajor must be a non-negative safe integer');
  // 10^4 is the largest minor-unit factor (CLF, UYW): the limit must stay exact there too.
  if (checkedMultiply(limits.maxTotalMajor, 10_000) === undefined)
    throw new ConfigurationError('maxTotalMajor is too large to be exact in minor units');
  if (!nonNegativeSafeInteger(limits.maxClockSkewMs))
    throw new ConfigurationError('maxClockSkewMs must be a non-negative safe integer');
  for (const [currency, limit] of Object.entries(limits.maxTotalMinorByCurrency)) {
    if (!nonNegativeSafeInteger(limit))
      throw new ConfigurationError(
        `maxTotalMinorByCurrency.${currency} must be a non-negative safe integer`,
      );
  }
  Object.freeze(limits.maxTotalMinorByCurrency);
  return Object.freeze(limits);
};

const maxTotalMinor = (limits: Readonly<OrderLimits>, currency: CurrencyCode): number =>
  limits.maxTotalMinorByCurrency[currency] ??
  limits.maxTotalMajor * 10 ** currencyExponent(currency);

/** Exact total in minor units, or `undefined` beyond `Number.MAX_SAFE_INTEGER`. */
const orderTotalMinor = (order: Order): number | undefined => {
  let total = 0;
  for (const item of order.items) {
    const line = checkedMultiply(item.quantity, item.unitPriceMinor);
    if (line === undefined) return undefined;
    const sum = checkedAdd(total, line);
    if (sum === undefined) return undefined;
    total = sum;
  }
  return total;
};

/** Up to this many line items, comparing pairs is cheaper than building a Set. */
const PAIRWISE_SKU_CHECK_MAX = 16;

const hasDuplicateSku = (order: Order): boolean => {
  const { items } = order;
  if (items.length <= PAIRWISE_SKU_CHECK_MAX) {
    for (let i = 1; i < items.length; i++) {
      const sku = items[i]!.sku;
      for (let j = 0; j < i; j++) if (items[j]!.sku === sku) return true;
    }
    return false;
  }
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.sku)) return true;
    seen.add(item.sku);
  }
  return false;
};

// `toISOString()` of the last instant asked for: a batch evaluates its orders at one
// clock reading, so this is one string per batch instead of one per order.
let isoTime = Number.NaN;
let isoText = '';
export const isoString = (date: Date): string => {
  const time = date.getTime();
  if (time !== isoTime) {
    isoText = date.toISOString(); // throws a RangeError for an invalid Date, as before
    isoTime = time;
  }
  return isoText;
};

// The UTC day ('YYYY-MM-DD') two days before the latest instant a `createdAt` may
// name, for the last such instant asked for: an order whose own day is earlier cannot be
// in the future under any offset (offsets stay within ±23:59), so most orders are
// judged by comparing ten characters instead of parsing a date. '' when the day has no
// four-digit year.
let latestTime = Number.NaN;
let safeDay = '';
const safeDayBefore = (latest: number): string => {
  if (latest !== latestTime) {
    const day = Number.isFinite(latest) ? new Date(latest - 2 * 86_400_000) : undefined;
    const text = day !== undefined && !Number.isNaN(day.getTime()) ? day.toISOString() : '';
    safeDay = text.length === 24 ? text.slice(0, 10) : '';
    latestTime = latest;
  }
  return safeDay;
};

/** Whether `c` is the character code of a decimal digit. */
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/**
 * Whether `createdAt` names an instant after `latest` (epoch ms). The short cut reads a
 * four-digit year and takes the offset to be within ±23:59, as the schema's pattern
 * has it; anything else (a hand-built `Order` outside the schema) is parsed.
 */
const isAfter = (createdAt: string, latest: number): boolean => {
  const day = safeDayBefore(latest);
  if (
    day !== '' &&
    createdAt.charCodeAt(4) === 45 &&
    isDigit(createdAt.charCodeAt(0)) &&
    isDigit(createdAt.charCodeAt(1)) &&
    isDigit(createdAt.charCodeAt(2)) &&
    isDigit(createdAt.charCodeAt(3))
  ) {
    // the order's own day, as written, against the safe day: both 'YYYY-MM-DD'
    for (let i = 0; i < 10; i++) {
      const c = createdAt.charCodeAt(i);
      const d = day.charCodeAt(i);
      if (c < d) return false;
      if (c > d) break;
    }
  }
  return Date.parse(createdAt) > latest;
};

/**
 * The rules themselves, on what they read of an order however it was read (a parsed
 * {@link Order}, or its JSON scanned in place): the first {@link ReasonCode} that
 * applies, or `undefined` when the order is accepted. `total` is `undefined` when the
 * amount overflowed.
 *
 * @example
 * orderReason(false, '2025-11-24T15:00:00Z', 0, 'EUR', Date.now(), DEFAULT_ORDER_LIMITS) // 'EMPTY_TOTAL'
 */
export const orderReason = (
  duplicateSku: boolean,
  createdAt: string,
  total: number | undefined,
  currency: CurrencyCode,
  nowMs: number,
  limits: Readonly<OrderLimits> = DEFAULT_ORDER_LIMITS,
): ReasonCode | undefined => {
  if (duplicateSku) return 'DUPLICATE_SKU';
  if (isAfter(createdAt, nowMs + limits.maxClockSkewMs)) return 'CREATED_IN_FUTURE';
  if (total === undefined) return 'AMOUNT_OVERFLOW';
  if (total === 0) return 'EMPTY_TOTAL';
  if (total > maxTotalMinor(limits, currency)) return 'TOTAL_EXCEEDS_LIMIT';
  return undefined;
};

/**
 * Applies the business rules to a parsed order. Pure: the clock comes from
 * `options.now`. Never throws for any {@link Order}: an order that breaks a rule
 * comes back `rejected` with a {@link ReasonCode}.
 *
 * @example
 * const result = evaluateOrder(parseOrder(value), {
 *   now: new Date('2025-11-24T16:00:00Z'),
 *   source: { topic: 'orders', partition: 0, offset: 42 },
 * });
 * result.status; // 'accepted'
 * result.totalMinor; // 2460
 */
export const evaluateOrder = (order: Order, options: EvaluateOrderOptions = {}): OrderResult => {
  const now = options.now ?? new Date();
  const limits = options.limits ?? DEFAULT_ORDER_LIMITS;
  const total = orderTotalMinor(order);

  const reasonCode = orderReason(
    hasDuplicateSku(order),
    order.createdAt,
    total,
    order.currency,
    now.getTime(),
    limits,
  );

  // Built as literals, not with spreads: same keys in the same order, a fraction of the cost.
  const processedAt = isoString(now);
  const result: OrderResult =
    reasonCode === undefined
      ? {
          orderId: order.orderId,
          customerId: order.customerId,
          currency: order.currency,
          itemCount: order.items.length,
          totalMinor: total ?? null,
          status: 'accepted',
          processedAt,
        }
      : {
          orderId: order.orderId,
          customerId: order.customerId,
          currency: order.currency,
          itemCount: order.items.length,
          totalMinor: total ?? null,
          status: 'rejected',
          reasonCode,
          processedAt,
        };
  const { source } = options;
  if (source)
    result.source = { topic: source.topic, partition: source.partition, offset: source.offset };
  return result;
};
