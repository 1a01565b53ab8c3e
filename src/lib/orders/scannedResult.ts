/**
 * An order's result written as bytes straight from a scan ({@link scanOrder}): the same
 * text as `JSON.stringify(evaluateOrder(order, { now, source }))`, its identifiers
 * copied from the order's own bytes, with no string or object in between.
 * test/unit/orders/scanOrder.property.test.ts holds the two equal.
 */
import {
  DEFAULT_ORDER_LIMITS,
  isoString,
  type OrderLimits,
  orderReason,
  type ReasonCode,
  type RecordSource,
} from './rules.ts';
import type { ScannedOrder } from './scanOrder.ts';

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');

const ORDER_ID = ascii('{"orderId":"');
const CUSTOMER_ID = ascii('","customerId":"');
const CURRENCY = ascii('","currency":"');
const ITEM_COUNT = ascii('","itemCount":');
const TOTAL = ascii(',"totalMinor":');
const NULL = ascii('null');
const ACCEPTED = ascii(',"status":"accepted"');
const REJECTED: Record<ReasonCode, Buffer> = {
  DUPLICATE_SKU: ascii(',"status":"rejected","reasonCode":"DUPLICATE_SKU"'),
  CREATED_IN_FUTURE: ascii(',"status":"rejected","reasonCode":"CREATED_IN_FUTURE"'),
  AMOUNT_OVERFLOW: ascii(',"status":"rejected","reasonCode":"AMOUNT_OVERFLOW"'),
  EMPTY_TOTAL: ascii(',"status":"rejected","reasonCode":"EMPTY_TOTAL"'),
  TOTAL_EXCEEDS_LIMIT: ascii(',"status":"rejected","reasonCode":"TOTAL_EXCEEDS_LIMIT"'),
};
const CLOSE_SOURCE = ascii('}}');

/** Bytes of the fixed text and the numbers, beyond the identifiers and the tail. */
const FIXED_BYTES = 200;

// The tail of the last results written: `,"processedAt":"…","source":{"topic":…,
// "partition":…,"offset":` (the offset and `}}` follow), as bytes, for one clock reading
// and one partition.
let tailTime = Number.NaN;
let tailTopic = '';
let tailPartition = Number.NaN;
let tail = Buffer.alloc(0);
const tailFor = (now: Date, source: RecordSource): Buffer => {
  const time = now.getTime();
  if (time !== tailTime || source.topic !== tailTopic || source.partition !== tailPartition) {
    tail = Buffer.from(
      `,"processedAt":"${isoString(now)}","source":{"topic":${JSON.stringify(source.topic)},"partition":${source.partition},"offset":`,
      'utf8',
    );
    tailTime = time;
    tailTopic = source.topic;
    tailPartition = source.partition;
  }
  return tail;
};

/** Copies `bytes[start, end)` to `target` at `at`: a loop, cheaper than a `subarray` for an id. */
const copy = (
  target: Uint8Array,
  at: number,
  bytes: Uint8Array,
  start: number,
  end: number,
): number => {
  for (let i = start; i < end; i++) target[at++] = bytes[i]!;
  return at;
};

/** Copies fixed text: `set`, five times faster than the loop even for a dozen bytes. */
const copyAll = (target: Uint8Array, at: number, bytes: Uint8Array): number => {
  target.set(bytes, at);
  return at + bytes.length;
};

/** Writes a safe integer in decimal, as `JSON.stringify` does. */
const writeInteger = (target: Uint8Array, at: number, value: number): number => {
  if (value < 0) {
    target[at++] = 0x2d;
    value = -value;
  }
  if (value < 10) {
    target[at] = 0x30 + value;
    return at + 1;
  }
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  let end = at + digits;
  for (let rest = value; end > at; rest = Math.floor(rest / 10)) target[--end] = 0x30 + (rest % 10);
  return at + digits;
};

/**
 * The rules' verdict on a scanned order: its {@link ReasonCode}, or `undefined` when it
 * is accepted ({@link orderReason}, as `evaluateOrder` applies it).
 */
export const scannedReason = (
  scan: ScannedOrder,
  now: Date,
  limits: Readonly<OrderLimits> = DEFAULT_ORDER_LIMITS,
): ReasonCode | undefined =>
  orderReason(scan.duplicateSku, scan.createdAt, scan.total, scan.currency, now.getTime(), limits);

/** The most bytes {@link writeScannedResult} writes for this scan and source. */
export const scannedResultMaxBytes = (
  scan: ScannedOrder,
  now: Date,
  source: RecordSource,
): number =>
  FIXED_BYTES +
  2 * (scan.orderIdEnd - scan.orderIdStart) +
  (scan.customerIdEnd - scan.customerIdStart) +
  tailFor(now, source).length;

/**
 * Writes the order id (the result's key) and then the result's JSON, to `target` from
 * `at`, and returns where the JSON ends; the key ends at `at` + the id's length. Room for
 * {@link scannedResultMaxBytes} must be there.
 *
 * @example
 * const end = writeScannedResult(chunk, at, record.value, scan, scannedReason(scan, now), now, record);
 */
export const writeScannedResult = (
  target: Uint8Array,
  at: number,
  value: Uint8Array,
  scan: ScannedOrder,
  reason: ReasonCode | undefined,
  now: Date,
  source: RecordSource,
): number => {
  const tailBytes = tailFor(now, source);
  at = copy(target, at, value, scan.orderIdStart, scan.orderIdEnd);
  at = copyAll(target, at, ORDER_ID);
  at = copy(target, at, value, scan.orderIdStart, scan.orderIdEnd);
  at = copyAll(target, at, CUSTOMER_ID);
  at = copy(target, at, value, scan.customerIdStart, scan.customerIdEnd);
  at = copyAll(target, at, CURRENCY);
  const currency = scan.currency;
  target[at] = currency.charCodeAt(0);
  target[at + 1] = currency.charCodeAt(1);
  target[at + 2] = currency.charCodeAt(2);
  at = copyAll(target, at + 3, ITEM_COUNT);
  at = writeInteger(target, at, scan.itemCount);
  at = copyAll(target, at, TOTAL);
  at = scan.total === undefined ? copyAll(target, at, NULL) : writeInteger(target, at, scan.total);
  at = copyAll(target, at, reason === undefined ? ACCEPTED : REJECTED[reason]);
  at = copyAll(target, at, tailBytes);
  at = writeInteger(target, at, source.offset);
  return copyAll(target, at, CLOSE_SOURCE);
};
