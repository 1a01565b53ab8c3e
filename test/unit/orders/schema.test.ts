import { describe, expect, it } from 'vitest';
import { PoisonRecordError } from '../../../src/lib/errors.ts';
import {
  MAX_LINE_ITEMS,
  MAX_QUANTITY,
  type OrderInput,
  parseOrder,
  safeParseOrder,
} from '../../../src/lib/orders/index.ts';

const validInput = (overrides: Partial<OrderInput> = {}): OrderInput => ({
  orderId: 'ord-000001',
  customerId: 'cust-0001',
  currency: 'EUR',
  createdAt: '2025-11-24T16:00:00Z',
  items: [
    { sku: 'SKU-TEA-EARLGREY-250G', quantity: 2, unitPrice: '12.3' },
    { sku: 'SKU-MUG-STONEWARE-BLUE', quantity: 1, unitPriceMinor: 899 },
  ],
  ...overrides,
});

const json = (value: unknown) => JSON.stringify(value);

/** The error parseOrder throws for `value`, failing the test if it returns. */
const parseError = (value: Buffer | string): PoisonRecordError => {
  try {
    parseOrder(value);
  } catch (error) {
    expect(error).toBeInstanceOf(PoisonRecordError);
    return error as PoisonRecordError;
  }
  throw new Error('parseOrder accepted the value');
};

const priced = (currency: string, item: Record<string, unknown>) =>
  json({ ...validInput(), currency, items: [{ sku: 'SKU-1', quantity: 1, ...item }] });

describe('parseOrder: valid orders', () => {
  it('accepts an order and normalises every price to exact minor units', () => {
    // Prepare
    const value = Buffer.from(json(validInput()));

    // Act
    const order = parseOrder(value);

    // Assess
    expect(order).toEqual({
      orderId: 'ord-000001',
      customerId: 'cust-0001',
      currency: 'EUR',
      createdAt: '2025-11-24T16:00:00Z',
      items: [
        { sku: 'SKU-TEA-EARLGREY-250G', quantity: 2, unitPriceMinor: 1230 },
        { sku: 'SKU-MUG-STONEWARE-BLUE', quantity: 1, unitPriceMinor: 899 },
      ],
    });
  });

  it('accepts the same order as a string', () => {
    // Prepare
    const value = json(validInput());

    // Act
    const order = parseOrder(value);

    // Assess
    expect(order.items.map((i) => i.unitPriceMinor)).toEqual([1230, 899]);
  });

  it('strips unknown fields of the order and of its line items', () => {
    // Prepare
    const input = {
      ...validInput(),
      note: 'leave at the door',
      items: [{ sku: 'SKU-1', quantity: 1, unitPriceMinor: 5, colour: 'blue' }],
    };
    const value = json(input).replace(/^\{/, '{"__proto__":{"admin":true},');

    // Act
    const order = parseOrder(value);

    // Assess
    expect(Object.keys(order).sort()).toEqual([
      'createdAt',
      'currency',
      'customerId',
      'items',
      'orderId',
    ]);
    expect(order.items[0]).toEqual({ sku: 'SKU-1', quantity: 1, unitPriceMinor: 5 });
    expect((order as unknown as { admin?: boolean }).admin).toBeUndefined();
  });

  it('gives an order that serialises and parses again unchanged', () => {
    // Prepare
    const order = parseOrder(json(validInput()));

    // Act
    const again = parseOrder(json(order));

    // Assess
    expect(again).toEqual(order);
  });

  it.each([
    ['EUR', '12.3', 1230],
    ['EUR', '12.30', 1230],
    ['EUR', '0.01', 1],
    ['EUR', '0', 0],
    ['USD', '1000000', 100_000_000],
    ['JPY', '1500', 1500],
    ['KWD', '12.345', 12_345],
    ['KWD', '0.5', 500],
    ['CLF', '1.2345', 12_345],
    ['EUR', '90071992547409.91', Number.MAX_SAFE_INTEGER],
  ])('converts %s "%s" to %d minor units exactly', (currency, unitPrice, minor) => {
    // Prepare
    const value = priced(currency, { unitPrice });

    // Act
    const order = parseOrder(value);

    // Assess
    expect(order.items[0]!.unitPriceMinor).toBe(minor);
  });

  it.each([
    ['Z', '2025-11-24T16:00:00Z'],
    ['an offset', '2025-11-24T21:30:00+05:30'],
    ['a negative offset and fractions', '2025-11-24T11:00:00.123456-05:00'],
  ])('accepts createdAt with %s', (_, createdAt) => {
    // Prepare
    const value = json(validInput({ createdAt }));

    // Act
    const order = parseOrder(value);

    // Assess
    expect(order.createdAt).toBe(createdAt);
  });

  it('accepts the bounds: 64-character ids, 500 line items, the largest quantity', () => {
    // Prepare
    const id = `A${'b'.repeat(62)}9`;
    const items = Array.from({ length: MAX_LINE_ITEMS }, (_, k) => ({
      sku: `SKU-${k}`,
      quantity: MAX_QUANTITY,
      unitPriceMinor: 0,
    }));

    // Act
    const order = parseOrder(json(validInput({ orderId: id, customerId: 'x.y_z:1-2', items })));

    // Assess
    expect(order.orderId).toBe(id);
    expect(order.items).toHaveLength(MAX_LINE_ITEMS);
  });
});

describe('parseOrder: NOT_JSON', () => {
  it.each([
    ['text', 'this is not json'],
    ['an empty value', ''],
    ['truncated JSON', '{"orderId":"ord-1",'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ])('rejects %s as NOT_JSON without quoting it', (_, value) => {
    // Act
    const error = parseError(value);

    // Assess
    expect(error.code).toBe('NOT_JSON');
    expect(error.retriable).toBe(false);
    expect(error.message).not.toContain('this is not json');
    expect(error.cause).toBeUndefined();
  });
});

describe('parseOrder: SCHEMA_VIOLATION', () => {
  it.each([
    ['a JSON number as unitPrice', priced('EUR', { unitPrice: 12.34 }), 'items[0].unitPrice'],
    [
      'a fraction as unitPriceMinor',
      priced('EUR', { unitPriceMinor: 12.5 }),
      'items[0].unitPriceMinor',
    ],
    ['a negative unitPriceMinor', priced('EUR', { unitPriceMinor: -1 }), 'items[0].unitPriceMinor'],
    [
      'an unsafe unitPriceMinor',
      priced('EUR', { unitPriceMinor: 2 ** 53 }),
      'items[0].unitPriceMinor',
    ],
    [
      'a string unitPriceMinor',
      priced('EUR', { unitPriceMinor: '100' }),
      'items[0].unitPriceMinor',
    ],
    ['more decimals than EUR has', priced('EUR', { unitPrice: '0.001' }), 'items[0].unitPrice'],
    ['decimals in JPY', priced('JPY', { unitPrice: '1.5' }), 'items[0].unitPrice'],
    ['four decimals in KWD', priced('KWD', { unitPrice: '1.0000' }), 'items[0].unitPrice'],
    ['a negative decimal', priced('EUR', { unitPrice: '-1.00' }), 'items[0].unitPrice'],
    ['an exponent', priced('EUR', { unitPrice: '1e3' }), 'items[0].unitPrice'],
    ['a leading zero', priced('EUR', { unitPrice: '012.00' }), 'items[0].unitPrice'],
    ['a dangling point', priced('EUR', { unitPrice: '12.' }), 'items[0].unitPrice'],
    ['a comma', priced('EUR', { unitPrice: '12,30' }), 'items[0].unitPrice'],
    [
      'an amount beyond a safe integer',
      priced('EUR', { unitPrice: '90071992547409.92' }),
      'items[0].unitPrice',
    ],
    ['both price forms', priced('EUR', { unitPrice: '1.00', unitPriceMinor: 100 }), 'items[0]'],
    ['no price', priced('EUR', {}), 'items[0]'],
  ])('rejects %s', (_, value, path) => {
    // Act
    const error = parseError(value);

    // Assess
    expect(error.code).toBe('SCHEMA_VIOLATION');
    expect(error.retriable).toBe(false);
    expect(error.message).toContain(`${path}: `);
  });

  it.each([
    ['lowercase', 'eur'],
    ['unknown', 'ABC'],
    ['four letters', 'EURO'],
    ['withdrawn (HRK)', 'HRK'],
    ['without a minor unit (XAU)', 'XAU'],
    ['a number', 978],
  ])('rejects a currency that is %s', (_, currency) => {
    // Act
    const error = parseError(json({ ...validInput(), currency }));

    // Assess
    expect(error.code).toBe('SCHEMA_VIOLATION');
    expect(error.message).toContain('currency: currency must be an active ISO 4217 code');
  });

  it.each([
    ['no offset', '2025-11-24T16:00:00'],
    ['a date only', '2025-11-24'],
    ['an impossible date', '2025-02-30T00:00:00Z'],
    ['epoch milliseconds', 1_764_000_000_000],
    ['free text', 'yesterday'],
  ])('rejects createdAt with %s', (_, createdAt) => {
    // Act
    const error = parseError(json({ ...validInput(), createdAt }));

    // Assess
    expect(error.message).toContain('createdAt: ');
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(65)],
    ['with a space', 'ord 1'],
    ['with markup', '<script>'],
    ['not a string', 42],
  ])('rejects an orderId that is %s', (_, orderId) => {
    // Act
    const error = parseError(json({ ...validInput(), orderId }));

    // Assess
    expect(error.message).toContain('orderId: orderId must be 1-64 characters');
  });

  it.each([
    ['no line items', [], 'items: '],
    [
      'too many line items',
      Array.from({ length: MAX_LINE_ITEMS + 1 }, (_, k) => ({
        sku: `S${k}`,
        quantity: 1,
        unitPriceMinor: 1,
      })),
      'items: ',
    ],
    ['a zero quantity', [{ sku: 'S', quantity: 0, unitPriceMinor: 1 }], 'items[0].quantity: '],
    [
      'a fractional quantity',
      [{ sku: 'S', quantity: 1.5, unitPriceMinor: 1 }],
      'items[0].quantity: ',
    ],
    [
      'a quantity over the maximum',
      [{ sku: 'S', quantity: MAX_QUANTITY + 1, unitPriceMinor: 1 }],
      'items[0].quantity: ',
    ],
    ['a missing sku', [{ quantity: 1, unitPriceMinor: 1 }], 'items[0].sku: '],
    ['a line item that is not an object', ['SKU-1'], 'items[0]: '],
  ])('rejects %s', (_, items, path) => {
    // Act
    const error = parseError(json({ ...validInput(), items }));

    // Assess
    expect(error.message).toContain(path);
  });

  it.each([
    ['null', 'null'],
    ['an array', '[]'],
    ['a number', '42'],
    ['a string', '"ord-1"'],
  ])('rejects %s at the root', (_, value) => {
    // Act
    const error = parseError(value);

    // Assess
    expect(error.code).toBe('SCHEMA_VIOLATION');
    expect(error.message).toMatch(/^order schema violation: \(order\): /);
  });

  it('lists the first five issues, counts the rest, and stays bounded', () => {
    // Prepare
    const items = Array.from({ length: 40 }, () => ({ sku: '', quantity: 0, unitPrice: 1 }));

    // Act
    const error = parseError(json({ items }));

    // Assess
    const listed = error.message.replace(/ \(\+\d+ more\)$/, '').split('; ');
    expect(listed).toHaveLength(5);
    expect(error.message).toMatch(/\(\+\d+ more\)$/);
    expect(error.message.length).toBeLessThanOrEqual(480);
  });

  it('never echoes field values, only paths and rules', () => {
    // Prepare
    const secret = 'password=hunter2-SECRET';
    const value = json({
      orderId: secret,
      customerId: secret,
      currency: secret,
      createdAt: secret,
      items: [{ sku: secret, quantity: secret, unitPrice: secret, unitPriceMinor: secret }],
      [secret]: secret,
    });

    // Act
    const error = parseError(value);

    // Assess
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error.cause)).not.toContain('hunter2');
  });
});

describe('safeParseOrder', () => {
  it('returns the order for a valid value', () => {
    // Prepare
    const input = validInput();

    // Act
    const result = safeParseOrder(input);

    // Assess
    expect(result).toEqual({ success: true, order: parseOrder(json(input)) });
  });

  it('returns the issues by field path and names the order when its id is well formed', () => {
    // Prepare
    const input = { ...validInput(), currency: 'EURO', createdAt: 'now' };

    // Act
    const result = safeParseOrder(input);

    // Assess
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(result.orderId).toBe('ord-000001');
    expect(result.issues.map((i) => i.path)).toEqual(['currency', 'createdAt']);
    expect(result.error).toBeInstanceOf(PoisonRecordError);
    expect(result.error.code).toBe('SCHEMA_VIOLATION');
  });

  it('does not name an order whose id is malformed', () => {
    // Prepare
    const input = { ...validInput(), orderId: 'ord 1 <b>' };

    // Act
    const result = safeParseOrder(input);

    // Assess
    expect(result).toMatchObject({ success: false });
    expect(result).not.toHaveProperty('orderId');
  });

  it('does not decode JSON text: a string is not an order', () => {
    // Prepare
    const text = json(validInput());

    // Act
    const result = safeParseOrder(text);

    // Assess
    expect(result.success).toBe(false);
  });
});
