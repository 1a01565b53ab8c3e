// zod/mini: the same validator as 'zod' with a functional API that bundles to ~25 kB
// instead of ~440 kB, which cuts cold-start import time (the init budget is +80 ms).
import * as z from 'zod/mini';
import { PoisonRecordError } from '../errors.ts';
import { CURRENCY_CODES, type CurrencyCode, isCurrencyCode, toMinorUnits } from './money.ts';

/** Identifiers (order, customer, SKU): short and free of whitespace or markup. */
export const ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const MAX_LINE_ITEMS = 500;
export const MAX_QUANTITY = 100_000;
/** Longest accepted `unitPrice` string; anything longer cannot be a safe integer anyway. */
const MAX_DECIMAL_LENGTH = 32;

const identifier = (what: string) => {
  const error = `${what} must be 1-64 characters of A-Z a-z 0-9 . _ : -`;
  return z.string({ error }).check(z.regex(ID_PATTERN, { error }));
};

const createdAtSchema = z.iso.datetime({
  offset: true,
  error: 'createdAt must be an ISO-8601 date-time with Z or an offset',
});

const lineItemInput = z.object({
  sku: identifier('sku'),
  quantity: z
    .int({ error: 'quantity must be an integer' })
    .check(
      z.minimum(1, { error: 'quantity must be at least 1' }),
      z.maximum(MAX_QUANTITY, { error: `quantity must be at most ${MAX_QUANTITY}` }),
    ),
  // Money is never a JSON number with a fraction: either exact minor units or a decimal string.
  unitPriceMinor: z.optional(
    z
      .int({ error: 'unitPriceMinor must be a safe integer' })
      .check(z.minimum(0, { error: 'unitPriceMinor must not be negative' })),
  ),
  unitPrice: z.optional(
    z
      .string({ error: 'unitPrice must be a decimal string such as "12.34"' })
      .check(z.maxLength(MAX_DECIMAL_LENGTH, { error: 'unitPrice is too long' })),
  ),
});

/** One line item of a parsed order: the price is always in exact minor units. */
export interface OrderLineItem {
  sku: string;
  quantity: number;
  unitPriceMinor: number;
}

/** A parsed, valid order. Unknown fields of the input are dropped. */
export interface Order {
  orderId: string;
  customerId: string;
  currency: CurrencyCode;
  /** ISO-8601 date-time with `Z` or an offset, as received. */
  createdAt: string;
  items: OrderLineItem[];
}

const PRICE_PROBLEMS = {
  format: 'unitPrice must be a plain decimal such as "12.34" (no sign, exponent or leading zeros)',
  precision: 'unitPrice has more decimals than the currency allows',
  range: 'unitPrice is beyond the largest exact amount',
} as const;

/**
 * The order schema: validates an incoming order and normalises every price to
 * `unitPriceMinor`. Its output is itself a valid input, so a parsed order can be
 * serialised and parsed again unchanged.
 */
export const orderSchema = z.pipe(
  z.object({
    orderId: identifier('orderId'),
    customerId: identifier('customerId'),
    currency: z.enum(CURRENCY_CODES, { error: 'currency must be an active ISO 4217 code' }),
    createdAt: createdAtSchema,
    items: z.array(lineItemInput).check(
      z.minLength(1, { error: 'items must hold at least one line item' }),
      z.maxLength(MAX_LINE_ITEMS, {
        error: `items must hold at most ${MAX_LINE_ITEMS} line items`,
      }),
    ),
  }),
  z.transform((input, ctx): Order => {
    const issue = (path: PropertyKey[], message: string) =>
      ctx.issues.push({ code: 'custom', path, message, input: undefined });
    const items: OrderLineItem[] = [];
    for (const [index, item] of input.items.entries()) {
      const path = ['items', index];
      let unitPriceMinor: number | undefined;
      if (item.unitPrice !== undefined && item.unitPriceMinor !== undefined) {
        issue(path, 'give either unitPriceMinor or unitPrice, not both');
      } else if (item.unitPriceMinor !== undefined) {
        unitPriceMinor = item.unitPriceMinor;
      } else if (item.unitPrice !== undefined) {
        const converted = toMinorUnits(item.unitPrice, input.currency);
        if (converted.ok) unitPriceMinor = converted.minor;
        else issue([...path, 'unitPrice'], PRICE_PROBLEMS[converted.problem]);
      } else {
        issue(path, 'unitPriceMinor or unitPrice is required');
      }
      if (unitPriceMinor !== undefined)
        items.push({ sku: item.sku, quantity: item.quantity, unitPriceMinor });
    }
    return {
      orderId: input.orderId,
      customerId: input.customerId,
      currency: input.currency,
      createdAt: input.createdAt,
      items,
    };
  }),
);

// ---------------------------------------------------------------------------------------
// The fast path. `orderSchema` costs about 5 µs per order in zod's generic machinery, more
// than parsing the JSON. `parseOrderFast` is the same schema written out by hand: it
// accepts exactly the values `orderSchema` accepts and returns the same order, and says
// nothing about the rest, for which zod runs and reports the issues. So zod stays the
// definition and the source of every message; this only skips it for valid orders.
// Change one, change the other: test/unit/orders/fastPath.property.test.ts checks both
// the decision and the output against `orderSchema` on random valid and invalid orders.

/** The `createdAt` pattern zod checks (its ISO date-time regex for these options), shared. */
export const CREATED_AT_PATTERN: RegExp | undefined = createdAtSchema._zod.def.pattern;

/** `z.object`'s test: anything of type object but null and arrays. */
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `identifier()`: a string matching {@link ID_PATTERN}. */
const isIdentifier = (value: unknown): value is string =>
  typeof value === 'string' && ID_PATTERN.test(value);

/** One line item as the transform makes it, or `undefined` when the schema would not. */
const lineItemFast = (value: unknown, currency: CurrencyCode): OrderLineItem | undefined => {
  if (!isObject(value)) return undefined;
  const { sku, quantity, unitPriceMinor, unitPrice } = value;
  if (!isIdentifier(sku)) return undefined;
  // z.int(): a number that is a safe integer (so neither NaN nor infinite), then the bounds.
  if (!Number.isSafeInteger(quantity) || (quantity as number) < 1) return undefined;
  if ((quantity as number) > MAX_QUANTITY) return undefined;
  let minor: number;
  if (unitPriceMinor !== undefined) {
    // -0 passes `minimum(0)` in zod too, and is kept as it is.
    if (unitPrice !== undefined) return undefined;
    if (!Number.isSafeInteger(unitPriceMinor) || (unitPriceMinor as number) < 0) return undefined;
    minor = unitPriceMinor as number;
  } else {
    // zod's maxLength counts code points, not UTF-16 units; but a string over 32 units
    // that is within 32 code points is not ASCII, and toMinorUnits refuses it anyway.
    if (typeof unitPrice !== 'string' || unitPrice.length > MAX_DECIMAL_LENGTH) return undefined;
    const converted = toMinorUnits(unitPrice, currency);
    if (!converted.ok) return undefined;
    minor = converted.minor;
  }
  return { sku, quantity: quantity as number, unitPriceMinor: minor };
};

/**
 * `orderSchema` without zod, for valid orders: the parsed order when the schema accepts
 * `value` (the same order it would return), `undefined` when it does not, or might not.
 * Values are read as zod reads them (`value[key]`), so inputs are taken to be plain data:
 * objects whose getters, if any, return the same thing each time.
 *
 * @example
 * parseOrderFast(JSON.parse(text)) ?? orderSchema.parse(JSON.parse(text)); // zod only for bad orders
 */
export const parseOrderFast = (value: unknown): Order | undefined => {
  if (!isObject(value) || CREATED_AT_PATTERN === undefined) return undefined;
  const { orderId, customerId, currency, createdAt, items } = value;
  if (!isIdentifier(orderId) || !isIdentifier(customerId)) return undefined;
  if (typeof currency !== 'string' || !isCurrencyCode(currency)) return undefined;
  if (typeof createdAt !== 'string' || !CREATED_AT_PATTERN.test(createdAt)) return undefined;
  if (!Array.isArray(items) || items.length < 1 || items.length > MAX_LINE_ITEMS) return undefined;
  const parsed = new Array<OrderLineItem>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = lineItemFast(items[i], currency);
    if (item === undefined) return undefined;
    parsed[i] = item;
  }
  return { orderId, customerId, currency, createdAt, items: parsed };
};

/** An order as a producer may send it (prices as `unitPriceMinor` or `unitPrice`). */
export type OrderInput = z.input<typeof orderSchema>;

/** One schema problem: where (a field path, never a value) and what. */
export interface OrderIssue {
  path: string;
  message: string;
}

export type SafeParseOrderResult =
  | { success: true; order: Order }
  | {
      success: false;
      error: PoisonRecordError;
      issues: OrderIssue[];
      /** The input's `orderId` when it is a well-formed identifier, to name the order in a report. */
      orderId?: string;
    };

const MAX_LISTED_ISSUES = 5;
const MAX_MESSAGE_LENGTH = 480;

const formatPath = (path: ReadonlyArray<PropertyKey>): string => {
  if (path.length === 0) return '(order)';
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${String(segment)}`;
  }
  return text;
};

// Zod's messages name the expectation, never the received value, and paths only
// hold schema keys (unknown keys are stripped) and indexes: nothing of the payload leaks.
const toIssues = (error: z.core.$ZodError): OrderIssue[] =>
  error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));

const describeIssues = (issues: ReadonlyArray<OrderIssue>): string => {
  const listed = issues
    .slice(0, MAX_LISTED_ISSUES)
    .map((issue) => `${issue.path}: ${issue.message}`)
    .join('; ');
  const more =
    issues.length > MAX_LISTED_ISSUES ? ` (+${issues.length - MAX_LISTED_ISSUES} more)` : '';
  const text = `order schema violation: ${listed}${more}`;
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : text;
};

const wellFormedOrderId = (value: unknown): string | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { orderId?: unknown }).orderId;
  return typeof id === 'string' && ID_PATTERN.test(id) ? id : undefined;
};

/**
 * Validates an already decoded value (for example one order of a produceOrders
 * request). Never throws: a failure carries a SCHEMA_VIOLATION
 * {@link PoisonRecordError} and the issues by field path.
 *
 * @example
 * const result = safeParseOrder({ orderId: 'o-1' });
 * if (!result.success) console.log(result.issues[0]); // { path: 'customerId', message: '…' }
 */
export const safeParseOrder = (value: unknown): SafeParseOrderResult => {
  const order = parseOrderFast(value);
  if (order !== undefined) return { success: true, order };
  // Not (or maybe not) a valid order: zod decides, and names the issues.
  const parsed = orderSchema.safeParse(value);
  if (parsed.success) return { success: true, order: parsed.data };
  const issues = toIssues(parsed.error);
  const result: SafeParseOrderResult = {
    success: false,
    error: new PoisonRecordError('SCHEMA_VIOLATION', describeIssues(issues), {
      cause: { issues },
    }),
    issues,
  };
  const orderId = wellFormedOrderId(value);
  if (orderId !== undefined) result.orderId = orderId;
  return result;
};

// Kafka values are bytes; JSON text must be UTF-8 (RFC 8259), so bad UTF-8 is not JSON.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a Kafka record value (UTF-8 JSON) into an {@link Order}.
 *
 * @throws PoisonRecordError `NOT_JSON` when the value is not UTF-8 JSON,
 *   `SCHEMA_VIOLATION` when it is JSON but not a valid order. The message names
 *   field paths and rules only, never the payload.
 *
 * @example
 * const order = parseOrder(
 *   '{"orderId":"o-1","customerId":"c-1","currency":"EUR","createdAt":"2025-11-24T16:00:00Z",' +
 *     '"items":[{"sku":"SKU-1","quantity":2,"unitPrice":"12.3"}]}',
 * );
 * order.items[0].unitPriceMinor; // 1230
 */
export const parseOrder = (value: Buffer | string): Order => {
  let json: unknown;
  try {
    json = JSON.parse(typeof value === 'string' ? value : utf8.decode(value));
  } catch {
    // The SyntaxError quotes the input, so it is not kept as the cause.
    throw new PoisonRecordError('NOT_JSON', 'order value is not UTF-8 JSON');
  }
  const result = safeParseOrder(json);
  if (!result.success) throw result.error;
  return result.order;
};
