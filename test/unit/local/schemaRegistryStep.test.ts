import { describe, expect, it } from 'vitest';
import { ORDER_AVRO_SCHEMA, ORDER_PROTO } from '../../../src/lib/formats/definitions.ts';
import {
  encodeInFormat,
  frameForGlue,
  loadOrderCodecs,
  unframeGlue,
} from '../../../src/lib/formats/index.ts';
import { orderSchema } from '../../../src/lib/orders/schema.ts';
import {
  type SchemaRegistryFailureReason,
  withSchemaRegistry,
} from '../../../src/local/schemaRegistry/mapping.ts';
import { orderFixture } from '../../support/fixtures.ts';
import { mskEvent } from '../../support/mskEvent.ts';

const AVRO_ID = '11111111-2222-4333-8444-555555555555';
const PROTO_ID = '66666666-7777-4888-9999-aaaaaaaaaaaa';

/** A registry that has the order schema in Avro and Protobuf, nothing else. */
const lookUp = async (id: string) =>
  id === AVRO_ID
    ? { dataFormat: 'AVRO', definition: JSON.stringify(ORDER_AVRO_SCHEMA) }
    : id === PROTO_ID
      ? { dataFormat: 'PROTOBUF', definition: ORDER_PROTO }
      : undefined;

describe('withSchemaRegistry (the local mapping step)', () => {
  it.each(['SOURCE', 'JSON'] as const)(
    'in %s form: delivers registry records with metadata, passes plain ones, leaves failures out with their reason',
    async (form) => {
      // Prepare
      const codecs = await loadOrderCodecs();
      const order = orderSchema.parse(orderFixture(1));
      const avro = encodeInFormat('AVRO', 'order', order, codecs);
      const proto = encodeInFormat('PROTOBUF', 'order', order, codecs);
      const event = mskEvent([
        { topic: 'orders', partition: 0, offset: 0, value: frameForGlue('AVRO', avro, AVRO_ID) },
        {
          topic: 'orders',
          partition: 0,
          offset: 1,
          value: frameForGlue('PROTOBUF', proto, PROTO_ID),
        },
        { topic: 'orders', partition: 0, offset: 2, value: '{"plain":"json"}' },
        {
          topic: 'orders',
          partition: 0,
          offset: 3,
          value: frameForGlue('AVRO', avro, '00000000-0000-4000-8000-000000000000'),
        },
        {
          topic: 'orders',
          partition: 1,
          offset: 0,
          value: frameForGlue('AVRO', Buffer.from([0x02, 0xff]), AVRO_ID),
        },
      ]);
      const seen: unknown[] = [];
      const failures: Array<[number, number, SchemaRegistryFailureReason]> = [];
      const handler = withSchemaRegistry(
        async (e) => {
          seen.push(e);
          return { batchItemFailures: [] };
        },
        { eventRecordFormat: form, lookUp },
        (r, reason) => failures.push([r.partition, r.offset, reason]),
      );

      // Act
      await handler(event);

      // Assess
      const delivered = (seen[0] as typeof event).records;
      expect(Object.keys(delivered)).toEqual(['orders-0']);
      const [a, p, plain] = delivered['orders-0']!;
      expect(a!.valueSchemaMetadata).toEqual({ dataFormat: 'AVRO', schemaId: AVRO_ID });
      expect(p!.valueSchemaMetadata).toEqual({ dataFormat: 'PROTOBUF', schemaId: PROTO_ID });
      expect(plain!.valueSchemaMetadata).toBeUndefined();
      expect(Buffer.from(plain!.value!, 'base64').toString()).toBe('{"plain":"json"}');
      const avroValue = Buffer.from(a!.value!, 'base64');
      if (form === 'SOURCE') expect(avroValue.equals(avro)).toBe(true);
      else expect(JSON.parse(avroValue.toString())).toEqual(order);
      // the Glue header is gone in both forms
      expect(unframeGlue(Buffer.from(p!.value!, 'base64'))).toBeUndefined();
      expect(failures).toEqual([
        [0, 3, 'SCHEMA_NOT_FOUND'],
        [1, 0, 'DESERIALIZATION_ERROR'],
      ]);
    },
  );
});
