/**
 * Orders: the schema of an incoming order and the pure business rules applied to
 * it. No I/O here; money is integer minor units, converted from decimal strings
 * exactly. The folder's face: code outside it imports from here.
 *
 * @example
 * import { evaluateOrder, parseOrder } from '../orders/index.ts';
 * const result = evaluateOrder(parseOrder(record.value), { now: new Date(), source });
 */

export type { CurrencyCode, MinorUnitExponent, MinorUnitsResult } from './money.ts';
export {
  CURRENCY_CODES,
  checkedAdd,
  checkedMultiply,
  currencyExponent,
  formatMinorUnits,
  isCurrencyCode,
  toMinorUnits,
} from './money.ts';
export type {
  EvaluateOrderOptions,
  OrderLimits,
  OrderResult,
  OrderStatus,
  ReasonCode,
  RecordSource,
} from './rules.ts';
export {
  DEFAULT_ORDER_LIMITS,
  evaluateOrder,
  orderLimits,
  orderReason,
  REASON_CODES,
} from './rules.ts';
export { scannedReason, scannedResultMaxBytes, writeScannedResult } from './scannedResult.ts';
export { SCAN_MAX_ITEMS, ScannedOrder, scanOrder } from './scanOrder.ts';
export type {
  Order,
  OrderInput,
  OrderIssue,
  OrderLineItem,
  SafeParseOrderResult,
} from './schema.ts';
export {
  ID_PATTERN,
  MAX_LINE_ITEMS,
  MAX_QUANTITY,
  orderSchema,
  parseOrder,
  parseOrderFast,
  safeParseOrder,
} from './schema.ts';
