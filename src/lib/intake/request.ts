/**
 * A produceOrders request and its validation: the whole request is checked before
 * anything is sent (key, list, every order, record size, repeated order ids). Pure.
 */
import { InvalidRequestError } from '../errors.ts';
import { type Order, safeParseOrder } from '../orders/index.ts';

/** What a direct invoke sends. `orders` are order inputs, validated here. */
export interface ProduceOrdersRequest {
  idempotencyKey: string;
  orders: unknown[];
}

/** Where one order landed. `offset` is a decimal string (Kafka offsets are 64-bit). */
export interface PlacedOrder {
  orderId: string;
  partition: number;
  offset: string;
}

/** The result of a request, the same for the first call and every replay. */
export interface ProduceOrdersResult {
  topic: string;
  orders: PlacedOrder[];
}

export type RequestIssue = { index: number; orderId?: string; message: string };

/** A request that passed {@link validateProduceRequest}. */
export interface ValidProduceRequest {
  idempotencyKey: string;
  orders: Order[];
}

export const DEFAULT_MAX_ORDERS = 500;
const MAX_LISTED_ISSUES = 100;
/** Visible ASCII, as a structured-field string of the IETF Idempotency-Key draft allows. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const byteLength = (text: string) => Buffer.byteLength(text, 'utf8');

/** An InvalidRequestError (not retriable) with the issues found, if any. */
export const invalid = (message: string, issues: RequestIssue[] = []) =>
  new InvalidRequestError(message, issues);

/**
 * Validates a whole request before anything is sent: the idempotency key, the
 * list (not empty, not above `maxOrders`), every order against the schema and
 * the record size limit, and no orderId twice. Pure.
 *
 * @throws InvalidRequestError listing every bad order (`index`, `orderId` when known, `message`).
 *
 * @example
 * const { idempotencyKey, orders } = validateProduceRequest(
 *   { idempotencyKey: 'k-1', orders: [orderInput] },
 *   { maxOrders: 500, maxRecordBytes: 1_000_000 },
 * );
 */
export const validateProduceRequest = (
  request: unknown,
  limits: { maxOrders: number; maxRecordBytes: number },
): ValidProduceRequest => {
  if (typeof request !== 'object' || request === null || Array.isArray(request))
    throw invalid('request must be an object { idempotencyKey, orders }');
  const { idempotencyKey, orders } = request as { idempotencyKey?: unknown; orders?: unknown };
  if (idempotencyKey === undefined || idempotencyKey === null || idempotencyKey === '')
    throw invalid('idempotencyKey is required (body field or Idempotency-Key header)');
  if (typeof idempotencyKey !== 'string' || !IDEMPOTENCY_KEY.test(idempotencyKey))
    throw invalid('idempotencyKey must be 1-255 visible ASCII characters');
  if (!Array.isArray(orders)) throw invalid('orders must be an array of orders');
  if (orders.length === 0) throw invalid('orders must hold at least one order');
  if (orders.length > limits.maxOrders)
    throw invalid(`orders holds ${orders.length} orders, at most ${limits.maxOrders} are accepted`);

  const issues: RequestIssue[] = [];
  const parsed: Order[] = [];
  const firstIndexOf = new Map<string, number>();
  for (const [index, value] of orders.entries()) {
    const result = safeParseOrder(value);
    if (!result.success) {
      const named = result.orderId === undefined ? {} : { orderId: result.orderId };
      for (const issue of result.issues)
        issues.push({ index, ...named, message: `${issue.path}: ${issue.message}` });
      continue;
    }
    const { order } = result;
    const first = firstIndexOf.get(order.orderId);
    if (first !== undefined) {
      issues.push({
        index,
        orderId: order.orderId,
        message: `orderId repeats the order at index ${first}`,
      });
      continue;
    }
    firstIndexOf.set(order.orderId, index);
    const size = byteLength(JSON.stringify(order));
    if (size > limits.maxRecordBytes) {
      issues.push({
        index,
        orderId: order.orderId,
        message: `order is ${size} bytes, above the ${limits.maxRecordBytes}-byte record limit`,
      });
      continue;
    }
    parsed.push(order);
  }
  if (issues.length > 0) {
    const badOrders = new Set(issues.map((i) => i.index)).size;
    const listed = issues.slice(0, MAX_LISTED_ISSUES);
    const more = issues.length > listed.length ? ` (first ${listed.length} issues listed)` : '';
    throw invalid(`${badOrders} of ${orders.length} orders are invalid${more}`, listed);
  }
  return { idempotencyKey, orders: parsed };
};
