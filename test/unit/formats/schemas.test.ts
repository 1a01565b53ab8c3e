import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import {
  ORDER_AVRO_SCHEMA,
  ORDER_PROTO,
  ORDER_RESULT_AVRO_SCHEMA,
  ORDER_RESULT_PROTO,
} from '../../../src/lib/formats/definitions.ts';
import { decodeInFormat, encodeInFormat, loadOrderCodecs } from '../../../src/lib/formats/index.ts';
import {
  CURRENCY_CODES,
  evaluateOrder,
  type Order,
  orderSchema,
  REASON_CODES,
} from '../../../src/lib/orders/index.ts';

const schemaFile = (name: string) =>
  readFileSync(new URL(`../../../src/lib/orders/schemas/${name}`, import.meta.url), 'utf8');

const ORDER_FIELDS = ['orderId', 'customerId', 'currency', 'createdAt', 'items'];
const LINE_ITEM_FIELDS = ['sku', 'quantity', 'unitPriceMinor'];
const RESULT_FIELDS = [
  'orderId',
  'customerId',
  'currency',
  'itemCount',
  'totalMinor',
  'status',
  'reasonCode',
  'processedAt',
  'source',
];

const idArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,64}$/);
/** Valid orders as the zod schema returns them (prices in minor units). */
const orderArb: fc.Arbitrary<Order> = fc.record({
  orderId: idArb,
  customerId: idArb,
  currency: fc.constantFrom(...CURRENCY_CODES),
  createdAt: fc
    .date({ min: new Date('2000-01-01Z'), max: new Date('2099-12-31Z'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  items: fc.array(
    fc.record({
      sku: idArb,
      quantity: fc.integer({ min: 1, max: 100_000 }),
      // both sides of 2^52, where avsc's default long would stop
      unitPriceMinor: fc.oneof(fc.maxSafeNat(), fc.integer({ min: 2 ** 52, max: 2 ** 53 - 1 })),
    }),
    { minLength: 1, maxLength: 5 },
  ),
});

describe('the schema files', () => {
  it('order.schema.json is the zod schema in JSON Schema (its input side)', () => {
    // Prepare
    const file = JSON.parse(schemaFile('order.schema.json'));

    // Act
    const fromZod = z.toJSONSchema(orderSchema, { io: 'input' });

    // Assess: the file adds only its id, title and description
    const { $id, title, description, ...rest } = file;
    expect($id).toBe('urn:msk-order-pipeline:orders:v1:order');
    expect(title).toBe('Order');
    expect(typeof description).toBe('string');
    expect(rest).toEqual(fromZod);
  });

  it('the Avro and Protobuf files are what the bundle carries', () => {
    // Prepare, Act, Assess
    expect(JSON.parse(schemaFile('order.avsc'))).toEqual(ORDER_AVRO_SCHEMA);
    expect(JSON.parse(schemaFile('orderResult.avsc'))).toEqual(ORDER_RESULT_AVRO_SCHEMA);
    expect(schemaFile('order.proto')).toBe(ORDER_PROTO);
    expect(schemaFile('orderResult.proto')).toBe(ORDER_RESULT_PROTO);
  });

  it('order.avsc and order.proto have the fields of a parsed order, money as 64-bit integers', () => {
    // Prepare
    const avroItems = ORDER_AVRO_SCHEMA.fields[4].type.items;
    const proto = protobuf.parse(ORDER_PROTO).root;
    const order = proto.lookupType('msk_order_pipeline.orders.v1.Order');
    const item = proto.lookupType('msk_order_pipeline.orders.v1.LineItem');

    // Act
    const parsed = orderSchema.parse({
      orderId: 'o-1',
      customerId: 'c-1',
      currency: 'EUR',
      createdAt: '2025-11-24T16:00:00Z',
      items: [{ sku: 'S-1', quantity: 1, unitPrice: '1.00' }],
    });

    // Assess
    expect(Object.keys(parsed)).toEqual(ORDER_FIELDS);
    expect(Object.keys(parsed.items[0]!)).toEqual(LINE_ITEM_FIELDS);
    expect(ORDER_AVRO_SCHEMA.fields.map((f) => f.name)).toEqual(ORDER_FIELDS);
    expect(avroItems.fields.map((f) => f.name)).toEqual(LINE_ITEM_FIELDS);
    expect(avroItems.fields[2].type).toBe('long');
    expect(order.fieldsArray.map((f) => f.name)).toEqual(ORDER_FIELDS);
    expect(item.fieldsArray.map((f) => f.name)).toEqual(LINE_ITEM_FIELDS);
    expect(item.fields.unitPriceMinor!.type).toBe('int64');
  });

  it('the result schemas have the fields of an OrderResult, and its reason codes', () => {
    // Prepare
    const resultFile = JSON.parse(schemaFile('orderResult.schema.json'));
    const proto = protobuf.parse(ORDER_RESULT_PROTO).root;
    const result = proto.lookupType('msk_order_pipeline.orders.v1.OrderResult');
    const reasonField = ORDER_RESULT_AVRO_SCHEMA.fields.find((f) => f.name === 'reasonCode')!;

    // Act
    const evaluated = evaluateOrder(
      {
        orderId: 'o-1',
        customerId: 'c-1',
        currency: 'EUR',
        createdAt: '2025-11-24T16:00:00Z',
        items: [
          { sku: 'S-1', quantity: 1, unitPriceMinor: 1 },
          { sku: 'S-1', quantity: 1, unitPriceMinor: 1 },
        ],
      },
      {
        now: new Date('2025-11-25T00:00:00Z'),
        source: { topic: 'orders', partition: 0, offset: 1 },
      },
    );

    // Assess
    expect(evaluated.reasonCode).toBe('DUPLICATE_SKU');
    expect(Object.keys(evaluated).sort()).toEqual([...RESULT_FIELDS].sort());
    expect(ORDER_RESULT_AVRO_SCHEMA.fields.map((f) => f.name)).toEqual(RESULT_FIELDS);
    expect(result.fieldsArray.map((f) => f.name)).toEqual(RESULT_FIELDS);
    expect(Object.keys(resultFile.properties)).toEqual(RESULT_FIELDS);
    expect((reasonField.type[1] as { symbols: readonly string[] }).symbols).toEqual(REASON_CODES);
    expect(resultFile.properties.reasonCode.enum).toEqual(REASON_CODES);
  });
});

describe('round trips: every valid order is the same order in each format', () => {
  it('Avro and Protobuf encode and decode any valid order unchanged, money exact', async () => {
    // Prepare
    const codecs = await loadOrderCodecs();

    // Act, Assess
    fc.assert(
      fc.property(orderArb, (order) => {
        for (const format of ['AVRO', 'PROTOBUF', 'JSON'] as const) {
          const bytes = encodeInFormat(format, 'order', order, codecs);
          expect(orderSchema.parse(decodeInFormat(format, 'order', bytes, codecs))).toEqual(order);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('Avro and Protobuf carry a result, rejected or accepted, unchanged', async () => {
    // Prepare
    const codecs = await loadOrderCodecs();

    // Act, Assess
    fc.assert(
      fc.property(orderArb, fc.nat({ max: 10 }), (order, offset) => {
        const result = evaluateOrder(order, {
          now: new Date('2026-01-01T00:00:00Z'),
          source: { topic: 'orders', partition: 0, offset },
        });
        for (const format of ['AVRO', 'PROTOBUF'] as const) {
          const bytes = encodeInFormat(format, 'result', result, codecs);
          const back = decodeInFormat(format, 'result', bytes, codecs) as Record<string, unknown>;
          // Avro writes absent optionals as null, Protobuf as absent
          expect({
            ...back,
            reasonCode: back.reasonCode ?? undefined,
            totalMinor: back.totalMinor ?? null,
          }).toEqual({ ...result, reasonCode: result.reasonCode, totalMinor: result.totalMinor });
        }
      }),
      { numRuns: 100 },
    );
  });
});
