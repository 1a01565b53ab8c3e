import { beforeAll, describe, expect, it } from 'vitest';
import { PoisonRecordError, RetriableError } from '../../../src/lib/errors.ts';
import { ORDER_AVRO_SCHEMA, ORDER_PROTO } from '../../../src/lib/formats/definitions.ts';
import { readsWriterSchemas } from '../../../src/lib/formats/glueLookUp.ts';
import {
  encodeInFormat,
  loadOrderCodecs,
  type OrderCodecs,
  parseOrderRecordValue,
  type SchemaVersionLookUp,
  WriterSchemas,
} from '../../../src/lib/formats/index.ts';
import { type Order, orderSchema } from '../../../src/lib/orders/schema.ts';
import { orderFixture } from '../../support/fixtures.ts';

const V2 = '22222222-2222-4222-8222-222222222222';
const V1 = '11111111-1111-4111-8111-111111111111';
const PROTO = '33333333-3333-4333-8333-333333333333';
const GONE = '99999999-9999-4999-8999-999999999999';

/** A newer order schema: a `channel` field first and a `note` on each item, which ours lacks. */
const ORDER_V2 = {
  ...ORDER_AVRO_SCHEMA,
  fields: [
    { name: 'channel', type: 'string' },
    ...ORDER_AVRO_SCHEMA.fields.map((f) =>
      f.name === 'items'
        ? {
            ...f,
            type: {
              type: 'array',
              items: {
                ...(f.type as unknown as { items: { fields: unknown[] } }).items,
                fields: [
                  ...(f.type as unknown as { items: { fields: unknown[] } }).items.fields,
                  { name: 'note', type: 'string' },
                ],
              },
            },
          }
        : f,
    ),
  ],
};

let codecs: OrderCodecs;
let order: Order;
let v2Bytes: Buffer;

beforeAll(async () => {
  codecs = await loadOrderCodecs();
  order = orderSchema.parse(orderFixture(7));
  v2Bytes = codecs.avro.compile(ORDER_V2).toBuffer({
    channel: 'web',
    ...order,
    items: order.items.map((i) => ({ ...i, note: 'gift' })),
  });
});

/** A registry holding V2, our own schema as V1 and the Protobuf order; counts its calls. */
const registry = () => {
  const calls: string[] = [];
  const lookUp: SchemaVersionLookUp = async (id) => {
    calls.push(id);
    if (id === V2) return { dataFormat: 'AVRO', definition: JSON.stringify(ORDER_V2) };
    if (id === V1) return { dataFormat: 'AVRO', definition: JSON.stringify(ORDER_AVRO_SCHEMA) };
    if (id === PROTO) return { dataFormat: 'PROTOBUF', definition: ORDER_PROTO };
    return undefined;
  };
  return { calls, lookUp };
};

const avro = (schemaId: string) => ({ dataFormat: 'AVRO', schemaId });
const soon = () => Date.now() + 5_000;

describe("WriterSchemas: reading a registry record with its producer's schema", () => {
  it('reads an order written with a newer Avro schema, which the shipped schema alone misreads', async () => {
    // Prepare
    const { lookUp } = registry();
    const writers = new WriterSchemas(lookUp);

    // Act
    await writers.prepare([{ value: v2Bytes, valueSchemaMetadata: avro(V2) }], soon(), codecs);
    const decode = writers.decoderFor(avro(V2), v2Bytes);
    const read = parseOrderRecordValue(v2Bytes, avro(V2), codecs, decode);

    // Assess
    expect(read).toEqual(order);
    // without the writer's schema the same bytes are not this order
    expect(() => parseOrderRecordValue(v2Bytes, avro(V2), codecs)).toThrow(PoisonRecordError);
  });

  it('reads Protobuf with the definition the registry holds', async () => {
    // Prepare
    const { lookUp } = registry();
    const writers = new WriterSchemas(lookUp);
    // SOURCE form: Glue's message index, then the message
    const value = Buffer.concat([Buffer.of(1), encodeInFormat('PROTOBUF', 'order', order, codecs)]);
    const metadata = { dataFormat: 'PROTOBUF', schemaId: PROTO };

    // Act
    await writers.prepare([{ value, valueSchemaMetadata: metadata }], soon(), codecs);
    const decode = writers.decoderFor(metadata, value);

    // Assess
    expect(decode).toBeDefined();
    expect(parseOrderRecordValue(value, metadata, codecs, decode)).toEqual(order);
  });

  it('fetches only what a batch needs, once per container, in parallel', async () => {
    // Prepare
    const { calls, lookUp } = registry();
    const writers = new WriterSchemas(lookUp);
    const records = [
      { value: v2Bytes, valueSchemaMetadata: avro(V2) },
      { value: v2Bytes, valueSchemaMetadata: avro(V2) },
      { value: Buffer.from('x'), valueSchemaMetadata: avro(V1) },
      // nothing to fetch: plain JSON, JSON form, JSON Schema, a Confluent id
      { value: Buffer.from('{}'), valueSchemaMetadata: undefined },
      { value: Buffer.from('{"a":1}'), valueSchemaMetadata: avro(V2) },
      { value: Buffer.from('x'), valueSchemaMetadata: { dataFormat: 'JSON', schemaId: V1 } },
      { value: Buffer.from('x'), valueSchemaMetadata: avro('7') },
    ];

    // Act
    await writers.prepare(records, soon(), codecs);
    await writers.prepare(records, soon(), codecs);
    await writers.prepare([{ value: null, valueSchemaMetadata: avro(GONE) }], soon(), codecs);

    // Assess
    expect(calls.sort()).toEqual([V1, V2]);
    expect(writers.decoderFor(avro('7'), Buffer.from('x'))).toBeUndefined();
    expect(writers.decoderFor(avro(V2), Buffer.from('{"a":1}'))).toBeUndefined();
  });

  it('an id the registry does not know is poison SCHEMA_NOT_FOUND, asked again next batch', async () => {
    // Prepare
    const { calls, lookUp } = registry();
    const writers = new WriterSchemas(lookUp);
    const value = Buffer.from([2, 0]);

    // Act
    await writers.prepare([{ value, valueSchemaMetadata: avro(GONE) }], soon(), codecs);
    const error = (() => {
      try {
        writers.decoderFor(avro(GONE), value);
      } catch (e) {
        return e;
      }
    })();
    await writers.prepare([{ value, valueSchemaMetadata: avro(GONE) }], soon(), codecs);

    // Assess
    expect(error).toBeInstanceOf(PoisonRecordError);
    expect((error as PoisonRecordError).code).toBe('SCHEMA_NOT_FOUND');
    expect(calls).toEqual([GONE, GONE]);
  });

  it('a registry that fails or does not answer by the deadline is retriable, never poison', async () => {
    // Prepare
    const value = Buffer.from([2, 0]);
    const down = new WriterSchemas(async () => {
      throw new Error('getaddrinfo ENOTFOUND glue.us-east-1.amazonaws.com');
    });
    const hanging = new WriterSchemas(
      (_, signal) =>
        new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason)),
        ),
    );

    // Act
    await down.prepare([{ value, valueSchemaMetadata: avro(V2) }], soon(), codecs);
    const started = Date.now();
    await hanging.prepare([{ value, valueSchemaMetadata: avro(V2) }], Date.now() + 80, codecs);
    const waited = Date.now() - started;

    // Assess
    for (const writers of [down, hanging]) {
      expect(() => writers.decoderFor(avro(V2), value)).toThrow(RetriableError);
    }
    expect(() => down.decoderFor(avro(V2), value)).toThrow(/ENOTFOUND/);
    expect(waited).toBeLessThan(2_000);
    // a record prepare did not see is retriable too (never guessed)
    expect(() => new WriterSchemas(registry().lookUp).decoderFor(avro(V1), value)).toThrow(
      RetriableError,
    );
  });

  it("a writer's schema that does not resolve against the order is UNDECODABLE_VALUE", async () => {
    // Prepare
    const other = JSON.stringify({
      type: 'record',
      name: 'Order',
      namespace: 'msk_order_pipeline.orders.v1',
      fields: [{ name: 'orderId', type: 'long' }],
    });
    const writers = new WriterSchemas(async () => ({ dataFormat: 'AVRO', definition: other }));
    const value = Buffer.from([2]);

    // Act
    await writers.prepare([{ value, valueSchemaMetadata: avro(V1) }], soon(), codecs);

    // Assess
    expect(() => writers.decoderFor(avro(V1), value)).toThrow(
      expect.objectContaining({ code: 'UNDECODABLE_VALUE' }),
    );
  });

  it('is on only with a Glue registry ARN in SCHEMA_REGISTRY_URI', () => {
    expect(
      readsWriterSchemas({ SCHEMA_REGISTRY_URI: 'arn:aws:glue:us-east-1:123456789012:registry/o' }),
    ).toBe(true);
    expect(readsWriterSchemas({ SCHEMA_REGISTRY_URI: 'https://registry.example.com' })).toBe(false);
    expect(readsWriterSchemas({ SCHEMA_REGISTRY_URI: '' })).toBe(false);
    expect(readsWriterSchemas({})).toBe(false);
  });
});
