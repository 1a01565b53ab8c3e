/**
 * Currencies and exact money arithmetic. Amounts are integers in minor units
 * (cents, fils, yen); decimal strings are converted digit by digit, never
 * through a float, so "0.1" + "0.2" stays 30 cents.
 */

type Words<S extends string, Acc extends string = never> = S extends `${infer Head} ${infer Tail}`
  ? Words<Tail, Acc | Head>
  : Acc | S;

/**
 * Active ISO 4217 codes by minor-unit exponent (ISO 4217 list one, 2026).
 * Codes without a minor unit (XAU, XDR, XXX...) are not money an order can be
 * priced in and are left out; withdrawn codes (HRK, SLL, ZWL, ANG, BGN...) too.
 * https://www.six-group.com/en/products-services/financial-information/data-standards.html
 */
const ISO_4217_BY_EXPONENT = {
  0: 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF',
  2:
    'AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD ' +
    'CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP ' +
    'GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK ' +
    'LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO ' +
    'NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS ' +
    'SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST ' +
    'XCD XCG YER ZAR ZMW ZWG',
  3: 'BHD IQD JOD KWD LYD OMR TND',
  4: 'CLF UYW',
} as const;

type ExponentTable = typeof ISO_4217_BY_EXPONENT;

/** An active ISO 4217 currency code with a minor unit. */
export type CurrencyCode = Words<ExponentTable[keyof ExponentTable]>;

/** Number of decimals of a currency's minor unit: JPY 0, EUR 2, KWD 3, CLF 4. */
export type MinorUnitExponent = 0 | 2 | 3 | 4;

const EXPONENTS = new Map<string, MinorUnitExponent>();
for (const [exponent, codes] of Object.entries(ISO_4217_BY_EXPONENT)) {
  for (const code of codes.split(' ')) EXPONENTS.set(code, Number(exponent) as MinorUnitExponent);
}

/** Every supported currency code, sorted. */
export const CURRENCY_CODES: readonly [CurrencyCode, ...CurrencyCode[]] = [
  ...EXPONENTS.keys(),
].sort() as [CurrencyCode, ...CurrencyCode[]];

/**
 * Whether `code` is an active ISO 4217 code this product prices orders in.
 *
 * @example
 * isCurrencyCode('EUR') // true
 * isCurrencyCode('eur') // false
 */
export const isCurrencyCode = (code: string): code is CurrencyCode => EXPONENTS.has(code);

/**
 * The minor-unit exponent of a currency.
 *
 * @example
 * currencyExponent('JPY') // 0
 * currencyExponent('KWD') // 3
 */
export const currencyExponent = (code: CurrencyCode): MinorUnitExponent => EXPONENTS.get(code)!;

/** Plain decimal notation: no sign, no exponent, no leading zeros, no dangling point. */
const DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export type MinorUnitsResult =
  | { ok: true; minor: number }
  | {
      ok: false;
      /** `format`: not a plain decimal; `precision`: more decimals than the currency has; `range`: beyond a safe integer. */
      problem: 'format' | 'precision' | 'range';
    };

const ZERO = 48;
const NINE = 57;
const POINT = 46;
/** Any integer of up to 15 decimal digits is below 2^53, so it is exact in a double. */
const MAX_EXACT_DIGITS = 15;
const POWERS_OF_TEN = [1, 10, 100, 1000, 10_000] as const;

/**
 * Converts a decimal string in major units to integer minor units, exactly.
 * Never throws; never rounds (digits are accumulated as an integer, through BigInt
 * beyond 15 digits).
 *
 * @example
 * toMinorUnits('12.3', 'EUR')  // { ok: true, minor: 1230 }
 * toMinorUnits('500', 'JPY')   // { ok: true, minor: 500 }
 * toMinorUnits('0.001', 'EUR') // { ok: false, problem: 'precision' }
 */
export const toMinorUnits = (decimal: string, currency: CurrencyCode): MinorUnitsResult => {
  // One pass over the characters, the value accumulated as a double while it has at most
  // 15 digits (below 2^53, so every step is exact); longer amounts go through BigInt.
  const length = decimal.length;
  let i = 0;
  let value = 0;
  const lead = length === 0 ? -1 : decimal.charCodeAt(0);
  if (lead === ZERO) i = 1;
  else if (lead > ZERO && lead <= NINE) {
    for (; i < length; i++) {
      const c = decimal.charCodeAt(i);
      if (c < ZERO || c > NINE) break;
      value = value * 10 + (c - ZERO);
    }
  } else return { ok: false, problem: 'format' };
  const wholeDigits = i;
  if (i < length) {
    if (decimal.charCodeAt(i) !== POINT || i === length - 1)
      return { ok: false, problem: 'format' };
    for (i++; i < length; i++) {
      const c = decimal.charCodeAt(i);
      if (c < ZERO || c > NINE) return { ok: false, problem: 'format' };
      value = value * 10 + (c - ZERO);
    }
  }
  const fractionDigits = wholeDigits === length ? 0 : length - wholeDigits - 1;
  const exponent = currencyExponent(currency);
  if (fractionDigits > exponent) return { ok: false, problem: 'precision' };
  if (wholeDigits + exponent <= MAX_EXACT_DIGITS)
    return { ok: true, minor: value * POWERS_OF_TEN[exponent - fractionDigits]! };
  return toMinorUnitsExact(decimal, exponent);
};

/** {@link toMinorUnits} for long amounts: through BigInt, so the range check is exact. */
const toMinorUnitsExact = (decimal: string, exponent: MinorUnitExponent): MinorUnitsResult => {
  const match = DECIMAL.exec(decimal);
  if (!match) return { ok: false, problem: 'format' };
  const whole = match[1]!;
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) return { ok: false, problem: 'precision' };
  const minor = BigInt(whole + fraction.padEnd(exponent, '0'));
  if (minor > MAX_SAFE) return { ok: false, problem: 'range' };
  return { ok: true, minor: Number(minor) };
};

/**
 * Formats integer minor units as a decimal string in major units, exactly.
 *
 * @example
 * formatMinorUnits(1230, 'EUR') // '12.30'
 * formatMinorUnits(5, 'KWD')    // '0.005'
 * formatMinorUnits(500, 'JPY')  // '500'
 */
export const formatMinorUnits = (minor: number, currency: CurrencyCode): string => {
  if (!Number.isSafeInteger(minor) || minor < 0)
    throw new RangeError('minor units must be a non-negative safe integer');
  const exponent = currencyExponent(currency);
  if (exponent === 0) return String(minor);
  const digits = String(minor).padStart(exponent + 1, '0');
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
};

/**
 * `a × b` for non-negative safe integers, or `undefined` when the product is not a safe integer.
 *
 * @example
 * checkedMultiply(3, 1230)                     // 3690
 * checkedMultiply(Number.MAX_SAFE_INTEGER, 2)  // undefined
 */
export const checkedMultiply = (a: number, b: number): number | undefined => {
  // A product of two safe integers is exact in a double while it stays below 2^53,
  // and rounds to 2^53 or more when it does not, so the check is exact.
  const product = a * b;
  return Number.isSafeInteger(product) ? product : undefined;
};

/**
 * `a + b` for non-negative safe integers, or `undefined` when the sum is not a safe integer.
 *
 * @example
 * checkedAdd(1230, 899)                    // 2129
 * checkedAdd(Number.MAX_SAFE_INTEGER, 1)   // undefined
 */
export const checkedAdd = (a: number, b: number): number | undefined => {
  const sum = a + b;
  return Number.isSafeInteger(sum) ? sum : undefined;
};
