import { describe, expect, it } from 'vitest';
import {
  CURRENCY_CODES,
  checkedAdd,
  checkedMultiply,
  currencyExponent,
  formatMinorUnits,
  isCurrencyCode,
  toMinorUnits,
} from '../../../src/lib/orders/index.ts';

describe('currency table', () => {
  it('holds unique three-letter uppercase codes, sorted', () => {
    // Assess
    expect(CURRENCY_CODES.every((c) => /^[A-Z]{3}$/.test(c))).toBe(true);
    expect(new Set(CURRENCY_CODES).size).toBe(CURRENCY_CODES.length);
    expect([...CURRENCY_CODES]).toEqual([...CURRENCY_CODES].sort());
    expect(CURRENCY_CODES.length).toBeGreaterThan(150);
  });

  it.each([
    ['JPY', 0],
    ['KRW', 0],
    ['ISK', 0],
    ['EUR', 2],
    ['USD', 2],
    ['GBP', 2],
    ['KWD', 3],
    ['BHD', 3],
    ['TND', 3],
    ['CLF', 4],
  ] as const)('gives %s the exponent %d', (code, exponent) => {
    // Assess
    expect(currencyExponent(code)).toBe(exponent);
  });

  it.each(['HRK', 'SLL', 'ZWL', 'VEF', 'XAU', 'XXX', 'eur', 'EU', ''])(
    'does not know %j',
    (code) => {
      // Assess
      expect(isCurrencyCode(code)).toBe(false);
    },
  );
});

describe('toMinorUnits', () => {
  it.each([
    ['12.3', 'EUR', 1230],
    ['12.34', 'EUR', 1234],
    ['0', 'EUR', 0],
    ['0.0', 'EUR', 0],
    ['7', 'JPY', 7],
    ['1.001', 'KWD', 1001],
    ['0.0001', 'CLF', 1],
    ['90071992547409.91', 'EUR', Number.MAX_SAFE_INTEGER],
    ['9007199254740991', 'JPY', Number.MAX_SAFE_INTEGER],
  ] as const)('converts "%s" %s to %d', (decimal, currency, minor) => {
    // Act
    const result = toMinorUnits(decimal, currency);

    // Assess
    expect(result).toEqual({ ok: true, minor });
  });

  it.each([
    ['0.001', 'EUR', 'precision'],
    ['1.0', 'JPY', 'precision'],
    ['90071992547409.92', 'EUR', 'range'],
    ['9007199254740992', 'JPY', 'range'],
    ['1e2', 'EUR', 'format'],
    ['-1', 'EUR', 'format'],
    ['+1', 'EUR', 'format'],
    ['01', 'EUR', 'format'],
    ['.5', 'EUR', 'format'],
    ['1.', 'EUR', 'format'],
    [' 1', 'EUR', 'format'],
    ['1_000', 'EUR', 'format'],
    ['', 'EUR', 'format'],
    ['١٢', 'EUR', 'format'],
  ] as const)('refuses "%s" %s: %s', (decimal, currency, problem) => {
    // Act
    const result = toMinorUnits(decimal, currency);

    // Assess
    expect(result).toEqual({ ok: false, problem });
  });
});

describe('formatMinorUnits', () => {
  it.each([
    [1230, 'EUR', '12.30'],
    [5, 'EUR', '0.05'],
    [0, 'EUR', '0.00'],
    [5, 'KWD', '0.005'],
    [500, 'JPY', '500'],
    [12_345, 'CLF', '1.2345'],
  ] as const)('formats %d %s as "%s"', (minor, currency, text) => {
    // Assess
    expect(formatMinorUnits(minor, currency)).toBe(text);
  });

  it.each([-1, 1.5, 2 ** 53])('refuses %d', (minor) => {
    // Assess
    expect(() => formatMinorUnits(minor, 'EUR')).toThrow(RangeError);
  });
});

describe('checked arithmetic', () => {
  it('multiplies exactly up to the largest safe integer and refuses beyond', () => {
    // Assess
    expect(checkedMultiply(Number.MAX_SAFE_INTEGER, 1)).toBe(Number.MAX_SAFE_INTEGER);
    expect(checkedMultiply(2 ** 26, 2 ** 27)).toBeUndefined();
    expect(checkedMultiply(94_906_265, 94_906_265)).toBe(9_007_199_136_250_225);
    expect(checkedMultiply(94_906_266, 94_906_266)).toBeUndefined();
    expect(checkedMultiply(0, Number.MAX_SAFE_INTEGER)).toBe(0);
  });

  it('adds exactly up to the largest safe integer and refuses beyond', () => {
    // Assess
    expect(checkedAdd(Number.MAX_SAFE_INTEGER - 1, 1)).toBe(Number.MAX_SAFE_INTEGER);
    expect(checkedAdd(Number.MAX_SAFE_INTEGER, 1)).toBeUndefined();
  });
});
