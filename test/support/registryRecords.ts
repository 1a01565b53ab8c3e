import type { KafkaEventRecord, MSKEvent, SchemaMetadata } from '../../src/lib/events/types.ts';
import {
  type DataFormat,
  type EventRecordFormat,
  encodeInFormat,
  frameForGlue,
  type OrderCodecs,
} from '../../src/lib/formats/index.ts';
import { type Order, orderSchema } from '../../src/lib/orders/schema.ts';
import type { OrderRegistry } from '../../src/local/schemaRegistry/glue.ts';
import { orderFixture } from './fixtures.ts';

export const GLUE_SCHEMA_ID = '5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10';

/**
 * An order's value as a mapping with `SchemaRegistryConfig` delivers it: `SOURCE` is the
 * serialiser's bytes without the registry header (a Protobuf message keeps its index),
 * `JSON` is the decoded object as JSON text (Protobuf's int64 as strings, as proto3's JSON
 * mapping writes them).
 */
export const registryValue = (
  order: Order,
  format: DataFormat,
  form: EventRecordFormat,
  codecs: OrderCodecs,
  schemaId = GLUE_SCHEMA_ID,
): { value: Buffer; metadata: SchemaMetadata } => {
  const metadata = { dataFormat: format, schemaId };
  const bare = encodeInFormat(format, 'order', order, codecs);
  if (format === 'JSON') return { value: bare, metadata };
  if (form === 'SOURCE') {
    if (format === 'AVRO') return { value: bare, metadata };
    // Glue: one varint; Confluent: the index list, `0` meaning the first message
    const index = schemaId.length > 10 ? Buffer.of(1) : Buffer.of(0);
    return { value: Buffer.concat([index, bare]), metadata };
  }
  if (format === 'AVRO') return { value: Buffer.from(JSON.stringify(order)), metadata };
  const type = codecs.protobuf.order;
  const json = type.toObject(type.decode(bare), { longs: String, arrays: true });
  return { value: Buffer.from(JSON.stringify(json)), metadata };
};

/** Sets `valueSchemaMetadata` on the record at `topic-partition` / `offset` of an event. */
export const withValueSchemaMetadata = (
  event: MSKEvent,
  at: { topic: string; partition: number; offset: number },
  metadata: SchemaMetadata,
): MSKEvent => {
  const record = event.records[`${at.topic}-${at.partition}`]?.find(
    (r: KafkaEventRecord) => r.offset === at.offset,
  );
  if (!record) throw new Error(`no record at ${at.topic}-${at.partition}@${at.offset}`);
  record.valueSchemaMetadata = metadata;
  return event;
};

/** `orderFixture(i)` as the schema parses it: prices in minor units, as codecs encode orders. */
export const fixtureOrder = (i: number): Order => orderSchema.parse(orderFixture(i));

/**
 * `fixtureOrder(i)` in `format`, framed with the registry's version of the order schema:
 * the bytes a Glue serialiser writes to the orders topic.
 */
export const glueFramedOrder = (
  format: DataFormat,
  i: number,
  registry: OrderRegistry,
  codecs: OrderCodecs,
): Buffer =>
  frameForGlue(
    format,
    encodeInFormat(format, 'order', fixtureOrder(i), codecs),
    registry.versions.order[format].schemaVersionId,
  );
