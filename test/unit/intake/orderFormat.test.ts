import { beforeAll, describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../../src/lib/config.ts';
import { ConfigurationError } from '../../../src/lib/errors.ts';
import {
  type DataFormat,
  loadOrderCodecs,
  type OrderCodecs,
  parseOrderRecordValue,
  readOrderFormat,
  unframeGlue,
} from '../../../src/lib/formats/index.ts';
import { createProduceOrdersHandler } from '../../../src/lib/intake/produceOrders.ts';
import { orderSchema } from '../../../src/lib/orders/schema.ts';
import { orderFixture } from '../../support/fixtures.ts';
import { recordingKafka as fakeKafka } from './recordingKafka.ts';

const VERSION = '5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10';
const config = readPipelineConfig({
  SERVICE_NAME: 'shop',
  STAGE: 'test',
  TOPIC_ORDERS: 'orders.in',
});

let codecs: OrderCodecs;
beforeAll(async () => {
  codecs = await loadOrderCodecs();
});

describe('produceOrders in a registry format (ORDER_FORMAT)', () => {
  it.each(['AVRO', 'PROTOBUF', 'JSON'] as const)(
    '%s: every order Glue-framed with the version id, read back by processOrders as the same order',
    async (format: DataFormat) => {
      // Prepare
      const { written, kafka } = fakeKafka();
      const handler = createProduceOrdersHandler({
        config,
        kafka: async () => kafka,
        orderFormat: { format, schemaVersionId: VERSION },
      });
      const orders = [orderFixture(1), orderFixture(2)];

      // Act
      const result = await handler({ idempotencyKey: `k-${format}`, orders });

      // Assess
      expect(result.orders).toHaveLength(2);
      expect(written).toHaveLength(1); // one transaction, as for JSON
      written[0]!.forEach((message, i) => {
        const framed = unframeGlue(message.value as Buffer);
        expect(framed?.schemaVersionId).toBe(VERSION);
        // what the mapping hands over in SOURCE form, read as processOrders reads it
        const read = parseOrderRecordValue(
          framed!.payload,
          { dataFormat: format, schemaId: VERSION },
          codecs,
        );
        expect(read).toEqual(orderSchema.parse(orders[i]));
        expect(message.key).toBe(orders[i]!.orderId);
      });
    },
  );

  it('without it, orders stay plain JSON text', async () => {
    // Prepare
    const { written, kafka } = fakeKafka();
    const handler = createProduceOrdersHandler({ config, kafka: async () => kafka });

    // Act
    await handler({ idempotencyKey: 'k-plain', orders: [orderFixture(3)] });

    // Assess
    const value = written[0]![0]!.value;
    expect(typeof value).toBe('string');
    expect(JSON.parse(value as string).orderId).toBe(orderFixture(3).orderId);
  });
});

describe('readOrderFormat', () => {
  it('reads the format in any case with its version id; unset or empty is plain JSON', () => {
    expect(readOrderFormat({ ORDER_FORMAT: 'avro', ORDER_SCHEMA_VERSION_ID: VERSION })).toEqual({
      format: 'AVRO',
      schemaVersionId: VERSION,
    });
    expect(
      readOrderFormat({ ORDER_FORMAT: ' Protobuf ', ORDER_SCHEMA_VERSION_ID: VERSION }),
    ).toEqual({
      format: 'PROTOBUF',
      schemaVersionId: VERSION,
    });
    expect(readOrderFormat({})).toBeUndefined();
    expect(readOrderFormat({ ORDER_FORMAT: '', ORDER_SCHEMA_VERSION_ID: VERSION })).toBeUndefined();
  });

  it.each([
    [
      { ORDER_FORMAT: 'thrift', ORDER_SCHEMA_VERSION_ID: VERSION },
      /ORDER_FORMAT: "THRIFT" is not one of AVRO, PROTOBUF, JSON/,
    ],
    [
      { ORDER_FORMAT: 'AVRO' },
      /ORDER_SCHEMA_VERSION_ID: ORDER_FORMAT=AVRO needs the Glue schema version id/,
    ],
    [{ ORDER_FORMAT: 'JSON', ORDER_SCHEMA_VERSION_ID: 'order-json' }, /ORDER_SCHEMA_VERSION_ID/],
  ])('refuses %j at init with a clear message', (env, message) => {
    expect(() => readOrderFormat(env)).toThrow(ConfigurationError);
    expect(() => readOrderFormat(env)).toThrow(message);
  });
});
