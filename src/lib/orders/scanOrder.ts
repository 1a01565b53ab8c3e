/**
 * The hot path's reading of an order: one pass over its UTF-8 JSON bytes that checks
 * the schema and gathers what the rules and the result need, without `JSON.parse`,
 * without a string per field and without an object per line item. It reads the plain
 * JSON producers write (the schema's keys once each, no escapes, integers written as
 * digits) and says `undefined` to anything else, valid or not; the caller then parses
 * the value as before (`parseOrder`), which decides and names the issues. So it only
 * ever speeds up orders that `parseOrder` accepts, and must accept them as it does.
 *
 * test/unit/orders/scanOrder.property.test.ts holds it to that: whenever it accepts a
 * text, `JSON.parse` + `parseOrderFast` accept it too with the same order, and the result
 * written from the scan is `JSON.stringify` of `evaluateOrder`'s.
 */
import {
  CURRENCY_CODES,
  type CurrencyCode,
  checkedAdd,
  checkedMultiply,
  currencyExponent,
} from './money.ts';
import { CREATED_AT_PATTERN } from './schema.ts';

// byte values
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const ZERO = 0x30;
const NINE = 0x39;
const POINT = 0x2e;

/** JSON's four whitespace bytes. */
const isSpace = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** The characters of `ID_PATTERN` (`[A-Za-z0-9._:-]`), by byte (1: allowed). */
const ID_BYTES = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-')
  ID_BYTES[c.charCodeAt(0)] = 1;
const MAX_ID_LENGTH = 64;

/** Currency codes by their three bytes packed into one number. */
const CURRENCIES = new Map<number, CurrencyCode>();
for (const code of CURRENCY_CODES)
  CURRENCIES.set((code.charCodeAt(0) << 16) | (code.charCodeAt(1) << 8) | code.charCodeAt(2), code);

// The keys, as bytes, and a bit for each so a repeated key is seen.
const ORDER_KEYS = ['orderId', 'customerId', 'currency', 'createdAt', 'items'] as const;
const ITEM_KEYS = ['sku', 'quantity', 'unitPriceMinor', 'unitPrice'] as const;
const keyBytes = (keys: readonly string[]) => keys.map((k) => Buffer.from(k, 'latin1'));
const ORDER_KEY_BYTES = keyBytes(ORDER_KEYS);
const ITEM_KEY_BYTES = keyBytes(ITEM_KEYS);

/** Line items compared pairwise for a repeated SKU; longer orders take the parser. */
export const SCAN_MAX_ITEMS = 16;
const MAX_QUANTITY = 100_000;
/** Digits of a decimal price whose value surely is exact: longer ones take the parser. */
const MAX_EXACT_DIGITS = 15;
/** Digits of `Number.MAX_SAFE_INTEGER`. */
const MAX_INTEGER_DIGITS = 16;
const MAX_DECIMAL_LENGTH = 32;
const POWERS_OF_TEN = [1, 10, 100, 1000, 10_000] as const;

/**
 * What one scan found: positions are byte offsets into the scanned value (start
 * inclusive, end exclusive, inside the quotes). One instance, overwritten by each
 * scan: read it before the next.
 */
export class ScannedOrder {
  orderIdStart = 0;
  orderIdEnd = 0;
  customerIdStart = 0;
  customerIdEnd = 0;
  currency: CurrencyCode = CURRENCY_CODES[0];
  createdAt = '';
  itemCount = 0;
  /** Sum of quantity × unit price in minor units; `undefined` when it overflowed. */
  total: number | undefined = 0;
  duplicateSku = false;
  readonly #skuStarts = new Int32Array(SCAN_MAX_ITEMS);
  readonly #skuEnds = new Int32Array(SCAN_MAX_ITEMS);

  /** Records line item `index`'s SKU, and whether an earlier item has the same. */
  sku(bytes: Uint8Array, index: number, start: number, end: number): void {
    const starts = this.#skuStarts;
    const ends = this.#skuEnds;
    const length = end - start;
    for (let j = 0; j < index && !this.duplicateSku; j++) {
      const other = starts[j]!;
      if (ends[j]! - other !== length) continue;
      let same = true;
      for (let k = 0; k < length && same; k++) same = bytes[other + k] === bytes[start + k];
      this.duplicateSku = same;
    }
    starts[index] = start;
    ends[index] = end;
  }
}

const scanned = new ScannedOrder();
const EMPTY = Buffer.alloc(0);

/**
 * Where a scan is: the bytes, the position, and what the current field read. Fields of
 * one object, not module variables: those cost a check on every read in optimized code.
 */
class Cursor {
  input: Buffer = EMPTY;
  at = 0;
  stringStart = 0;
  stringEnd = 0;
  number = 0;
  /** After a member: whether a `,` said more follow. */
  more = false;
}
const c = new Cursor();

const skipSpace = (): void => {
  while (c.at < c.input.length && isSpace(c.input[c.at]!)) c.at++;
};

/** Reads `"..."` of printable ASCII (0x20-0x7e) but `"` and `\`; false for anything else. */
const readString = (): boolean => {
  if (c.input[c.at] !== QUOTE) return false;
  c.stringStart = ++c.at;
  const end = c.input.length;
  for (; c.at < end; c.at++) {
    const b = c.input[c.at]!;
    if (b === QUOTE) {
      c.stringEnd = c.at++;
      return true;
    }
    if (b < 0x20 || b > 0x7e || b === BACKSLASH) return false;
  }
  return false;
};

/**
 * Reads `"..."` holding an identifier (`ID_PATTERN`: 1 to 64 of `A-Z a-z 0-9 . _ : -`),
 * in the same pass as the string; false for anything else, an escape included.
 */
const readIdentifier = (): boolean => {
  const { input } = c;
  if (input[c.at] !== QUOTE) return false;
  const start = c.at + 1;
  const last = Math.min(input.length, start + MAX_ID_LENGTH + 1);
  for (let at = start; at < last; at++) {
    const b = input[at]!;
    if (ID_BYTES[b] === 1) continue;
    if (b !== QUOTE || at === start) return false;
    c.stringStart = start;
    c.stringEnd = at;
    c.at = at + 1;
    return true;
  }
  return false;
};

/**
 * Reads a non-negative safe integer written as plain digits (`0`, or no leading zero)
 * into `number`; false for any other number (a sign, a fraction, an exponent), which the
 * parser may still read as an integer.
 */
const readInteger = (): boolean => {
  const start = c.at;
  let value = 0;
  const end = c.input.length;
  while (c.at < end) {
    const b = c.input[c.at]!;
    if (b < ZERO || b > NINE) break;
    value = value * 10 + (b - ZERO);
    c.at++;
  }
  const digits = c.at - start;
  // exact while it is a safe integer (each step is then below 2^53); beyond, it rounds
  // to 2^53 or more and is refused
  if (digits === 0 || digits > MAX_INTEGER_DIGITS || !Number.isSafeInteger(value)) return false;
  if (digits > 1 && c.input[start] === ZERO) return false;
  // a fraction or an exponent follows: not a plain integer
  const next = c.input[c.at];
  if (next === POINT || next === 0x65 || next === 0x45) return false;
  c.number = value;
  return true;
};

/**
 * The current string as `toMinorUnits` converts it for `exponent` decimals, into
 * `number`; false when it would not convert, or would need its exact (BigInt) path.
 */
const stringAsMinorUnits = (exponent: number): boolean => {
  const length = c.stringEnd - c.stringStart;
  if (length === 0 || length > MAX_DECIMAL_LENGTH) return false;
  let i = c.stringStart;
  let value = 0;
  const lead = c.input[i]!;
  if (lead === ZERO) i++;
  else if (lead > ZERO && lead <= NINE) {
    for (; i < c.stringEnd; i++) {
      const b = c.input[i]!;
      if (b < ZERO || b > NINE) break;
      value = value * 10 + (b - ZERO);
    }
  } else return false;
  const wholeDigits = i - c.stringStart;
  let fractionDigits = 0;
  if (i < c.stringEnd) {
    if (c.input[i] !== POINT || i === c.stringEnd - 1) return false;
    for (i++; i < c.stringEnd; i++) {
      const b = c.input[i]!;
      if (b < ZERO || b > NINE) return false;
      value = value * 10 + (b - ZERO);
      fractionDigits++;
    }
  }
  if (fractionDigits > exponent || wholeDigits + exponent > MAX_EXACT_DIGITS) return false;
  c.number = value * POWERS_OF_TEN[exponent - fractionDigits]!;
  return true;
};

/** Which of `keys` the string just read is, or -1. */
const keyIndex = (keys: readonly Buffer[]): number => {
  const length = c.stringEnd - c.stringStart;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    if (key.length !== length) continue;
    let same = true;
    for (let i = 0; i < length && same; i++) same = key[i] === c.input[c.stringStart + i];
    if (same) return k;
  }
  return -1;
};

/** Reads `"key" :` and returns the key's index in `keys`, or -1. */
const readKey = (keys: readonly Buffer[]): number => {
  if (!readString()) return -1;
  const k = keyIndex(keys);
  skipSpace();
  if (c.input[c.at] !== COLON) return -1;
  c.at++;
  skipSpace();
  return k;
};

/**
 * After a member: `,` (true, with `more` set) or the closing byte (true, `more`
 * cleared); anything else false.
 */
const readSeparator = (close: number): boolean => {
  skipSpace();
  const b = c.input[c.at];
  if (b === COMMA) {
    c.at++;
    skipSpace();
    c.more = true;
    return true;
  }
  if (b === close) {
    c.at++;
    c.more = false;
    return true;
  }
  return false;
};

/** One line item, `{` already consumed; its price into `number`. */
const readItem = (index: number, exponent: number): boolean => {
  skipSpace();
  let seen = 0;
  let quantity = 0;
  let price = -1;
  if (c.input[c.at] === CLOSE_BRACE) return false;
  do {
    const k = readKey(ITEM_KEY_BYTES);
    if (k < 0 || (seen & (1 << k)) !== 0) return false;
    seen |= 1 << k;
    if (k === 0) {
      if (!readIdentifier()) return false;
      scanned.sku(c.input, index, c.stringStart, c.stringEnd);
    } else if (k === 1) {
      if (!readInteger() || c.number < 1 || c.number > MAX_QUANTITY) return false;
      quantity = c.number;
    } else if (k === 2) {
      if (!readInteger()) return false;
      price = c.number;
    } else {
      // a decimal price needs the currency, so it must come first
      if (exponent < 0 || !readString() || !stringAsMinorUnits(exponent)) return false;
      price = c.number;
    }
    if (!readSeparator(CLOSE_BRACE)) return false;
  } while (c.more);
  // sku, quantity and exactly one of the two prices
  if ((seen & 0b11) !== 0b11 || (seen & 0b1100) === 0b1100 || price < 0) return false;
  const total = scanned.total;
  if (total !== undefined) {
    const line = checkedMultiply(quantity, price);
    scanned.total = line === undefined ? undefined : checkedAdd(total, line);
  }
  return true;
};

/** The `items` array: 1 to {@link SCAN_MAX_ITEMS} line items. */
const readItems = (exponent: number): boolean => {
  if (c.input[c.at] !== OPEN_BRACKET) return false;
  c.at++;
  skipSpace();
  let count = 0;
  do {
    if (count === SCAN_MAX_ITEMS || c.input[c.at] !== OPEN_BRACE) return false;
    c.at++;
    if (!readItem(count, exponent)) return false;
    count++;
    if (!readSeparator(CLOSE_BRACKET)) return false;
  } while (c.more);
  scanned.itemCount = count;
  return true;
};

/**
 * Scans an order's JSON bytes: the order's fields when the value is a valid order
 * written plainly, `undefined` otherwise (not an order, or not written plainly: the
 * parser decides). The object returned is reused by the next scan.
 *
 * @example
 * const scan = scanOrder(record.value);
 * if (scan === undefined) return parseOrder(record.value); // decides, and names the issues
 */
export const scanOrder = (bytes: Buffer): ScannedOrder | undefined => {
  if (CREATED_AT_PATTERN === undefined) return undefined;
  c.input = bytes;
  c.at = 0;
  const order = scanned;
  order.total = 0;
  order.duplicateSku = false;
  try {
    skipSpace();
    if (c.input[c.at] !== OPEN_BRACE) return undefined;
    c.at++;
    skipSpace();
    let seen = 0;
    let exponent = -1;
    do {
      const k = readKey(ORDER_KEY_BYTES);
      if (k < 0 || (seen & (1 << k)) !== 0) return undefined;
      seen |= 1 << k;
      if (k === 4) {
        if (!readItems(exponent)) return undefined;
      } else {
        if (k === 0) {
          if (!readIdentifier()) return undefined;
          order.orderIdStart = c.stringStart;
          order.orderIdEnd = c.stringEnd;
        } else if (k === 1) {
          if (!readIdentifier()) return undefined;
          order.customerIdStart = c.stringStart;
          order.customerIdEnd = c.stringEnd;
        } else if (k === 2) {
          if (!readString() || c.stringEnd - c.stringStart !== 3) return undefined;
          const code = CURRENCIES.get(
            (c.input[c.stringStart]! << 16) |
              (c.input[c.stringStart + 1]! << 8) |
              c.input[c.stringStart + 2]!,
          );
          if (code === undefined) return undefined;
          order.currency = code;
          exponent = currencyExponent(code);
        } else {
          if (!readString()) return undefined;
          const text = c.input.toString('latin1', c.stringStart, c.stringEnd);
          if (!CREATED_AT_PATTERN.test(text)) return undefined;
          order.createdAt = text;
        }
      }
      if (!readSeparator(CLOSE_BRACE)) return undefined;
    } while (c.more);
    if (seen !== 0b11111) return undefined;
    skipSpace();
    return c.at === c.input.length ? order : undefined;
  } finally {
    // the scan keeps no reference to the value it read
    c.input = EMPTY;
  }
};
