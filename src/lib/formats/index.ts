/**
 * Orders in registry formats (Avro, Protobuf, JSON Schema), as a Kafka event-source
 * mapping with `SchemaRegistryConfig` delivers them. The format libraries (`avsc`,
 * `protobufjs`) are imported dynamically by {@link loadOrderCodecs}, never by this file.
 *
 * @example
 * import { eventHoldsSchemaRecords, loadOrderCodecs, parseOrderRecordValue } from './lib/formats/index.ts';
 * if (eventHoldsSchemaRecords(event)) await loadOrderCodecs();
 * const order = parseOrderRecordValue(record.value, record.valueSchemaMetadata);
 */

export type { OrderCodecs } from './codecs.ts';
export { loadedOrderCodecs, loadOrderCodecs } from './codecs.ts';
export type { DataFormat, EventRecordFormat } from './decodeOrder.ts';
export {
  DATA_FORMATS,
  decodeSchemaValue,
  eventHoldsSchemaRecords,
  eventRecordFormatOf,
  parseOrderRecordValue,
} from './decodeOrder.ts';
export type { GlueFramed, OrderSchemaKind } from './encode.ts';
export {
  bareOfSourcePayload,
  decodeInFormat,
  encodeInFormat,
  frameForGlue,
  unframeGlue,
} from './encode.ts';
export {
  type OrderFormat,
  orderSchemaVersionId,
  orderValue,
  readOrderFormat,
} from './orderFormat.ts';
export { RegistryVersionIds, type SchemaIdLookUp } from './registryVersionIds.ts';
export {
  type SchemaVersionLookUp,
  type WriterDecoder,
  WriterSchemas,
} from './writerSchemas.ts';
