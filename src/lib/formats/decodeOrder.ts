import { PoisonRecordError, RetriableError } from '../errors.ts';
import type { SchemaMetadata } from '../events/types.ts';
import type { Order } from '../orders/index.ts';
import { parseOrder, safeParseOrder } from '../orders/index.ts';
import { loadedOrderCodecs, type OrderCodecs } from './codecs.ts';
import type { WriterDecoder } from './writerSchemas.ts';

/** `dataFormat` values of `valueSchemaMetadata` (AVRO, PROTOBUF, JSON Schema). */
export const DATA_FORMATS = ['AVRO', 'PROTOBUF', 'JSON'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

/** The mapping's `EventRecordFormat`: `JSON` (decoded by Lambda) or `SOURCE` (the bytes, framing removed). */
export type EventRecordFormat = 'JSON' | 'SOURCE';

const OPEN_BRACE = 0x7b;

/**
 * Which form a registry record's value is in. A `JSON`-form value is a JSON object, so its
 * first byte is `{`; a `SOURCE`-form value of these schemas never starts with it: in Avro
 * 0x7B is a negative string length (invalid), in Protobuf it is field 15 as a group, which
 * no message here has, and as a message index it is out of range. So the handler needs no
 * setting to mirror the mapping's `EventRecordFormat`, and takes both.
 */
export const eventRecordFormatOf = (value: Buffer): EventRecordFormat =>
  value[0] === OPEN_BRACE ? 'JSON' : 'SOURCE';

/**
 * Whether any record of a Kafka event (as Lambda delivers it, not yet decoded) carries
 * `valueSchemaMetadata`: only then are the format libraries loaded. Reads the raw event,
 * so it does not depend on how the event is decoded afterwards.
 *
 * @example
 * if (eventHoldsSchemaRecords(event)) await loadOrderCodecs();
 */
export const eventHoldsSchemaRecords = (event: unknown): boolean => {
  const records = (event as { records?: unknown } | null)?.records;
  if (typeof records !== 'object' || records === null) return false;
  for (const list of Object.values(records)) {
    if (!Array.isArray(list)) continue;
    for (const record of list)
      if (typeof record?.valueSchemaMetadata === 'object' && record.valueSchemaMetadata !== null)
        return true;
  }
  return false;
};

// Kafka values are bytes; JSON text must be UTF-8 (RFC 8259).
const utf8 = new TextDecoder('utf-8', { fatal: true });

const parseJsonText = (value: Buffer, format: string): unknown => {
  try {
    return JSON.parse(utf8.decode(value));
  } catch {
    // The SyntaxError quotes the input, so it is not kept.
    throw new PoisonRecordError('NOT_JSON', `${format} record in JSON form is not UTF-8 JSON`);
  }
};

const undecodable = (message: string) => new PoisonRecordError('UNDECODABLE_VALUE', message);

/** Glue schema version ids are UUIDs; Confluent ids are numbers (as Powertools tells them apart). */
const isGlueSchemaId = (schemaId: string): boolean => schemaId.length > 10;

/**
 * The Protobuf message of a `SOURCE` value, after the message index the registry's
 * serialiser put before it: one varint for Glue; for Confluent a zig-zag count and that
 * many zig-zag indexes (a single 0 byte meaning the first message).
 */
const protobufSource = (value: Buffer, schemaId: string, codecs: OrderCodecs): unknown => {
  const { order, Reader } = codecs.protobuf;
  const reader = Reader.create(value);
  if (isGlueSchemaId(schemaId)) reader.uint32();
  else for (let n = reader.sint32(); n > 0; n--) reader.sint32();
  return order.toObject(order.decode(reader), { longs: Number, defaults: true, arrays: true });
};

/** A `JSON`-form Protobuf value as plain data: proto3's JSON writes int64 as strings and omits defaults. */
const protobufJson = (json: unknown, codecs: OrderCodecs): unknown => {
  const { order } = codecs.protobuf;
  return order.toObject(order.fromObject(json as Record<string, unknown>), {
    longs: Number,
    defaults: true,
    arrays: true,
  });
};

const requireCodecs = (codecs: OrderCodecs | undefined): OrderCodecs => {
  const ready = codecs ?? loadedOrderCodecs();
  // The handler loads them before a batch with registry records; if a caller did not,
  // stop here and let the batch come again rather than dead-letter a good record.
  if (!ready) throw new RetriableError('TRANSIENT', 'order format codecs are not loaded yet');
  return ready;
};

/**
 * The plain value of a record whose `valueSchemaMetadata` says how it is encoded, in
 * either `EventRecordFormat`: the same kind of value the JSON path gets from `JSON.parse`,
 * to be validated by the order schema. `JSON` (JSON Schema) values are JSON text in both forms.
 *
 * @throws PoisonRecordError `UNDECODABLE_VALUE` when the bytes are not a value of the
 *   declared format or the format is unknown, `NOT_JSON` when a JSON-form value is not JSON.
 *
 * @example
 * const input = decodeSchemaValue(record.value, { dataFormat: 'AVRO', schemaId: '…' }, codecs);
 * // `writer`: the producer's schema version (writerSchemas.ts); without it, the shipped schema
 */
export const decodeSchemaValue = (
  value: Buffer,
  metadata: SchemaMetadata,
  codecs?: OrderCodecs,
  writer?: WriterDecoder,
): unknown => {
  const { dataFormat } = metadata;
  const form = eventRecordFormatOf(value);
  switch (dataFormat) {
    case 'JSON':
      return parseJsonText(value, 'JSON Schema');
    case 'AVRO': {
      // Avro's JSON is the plain object for these schemas (no unions in an order)
      if (form === 'JSON') return parseJsonText(value, 'Avro');
      const { avro } = requireCodecs(codecs);
      try {
        // with the producer's schema resolved against ours when it is known (writerSchemas.ts)
        return writer ? writer(value) : avro.order.fromBuffer(value);
      } catch {
        // avsc's messages can quote the value: not kept
        throw undecodable('order value is not Avro of the order schema');
      }
    }
    case 'PROTOBUF': {
      const ready = requireCodecs(codecs);
      if (form === 'JSON') {
        const json = parseJsonText(value, 'Protobuf');
        try {
          return protobufJson(json, ready);
        } catch {
          throw undecodable('order value is not Protobuf JSON of the order schema');
        }
      }
      try {
        return writer
          ? writer(value)
          : protobufSource(value, String(metadata.schemaId ?? ''), ready);
      } catch {
        throw undecodable('order value is not Protobuf of the order schema');
      }
    }
    default:
      throw undecodable(
        `unknown valueSchemaMetadata.dataFormat (expected ${DATA_FORMATS.join(', ')})`,
      );
  }
};

/**
 * Parses a record value into an {@link Order}: by its `valueSchemaMetadata` when it has
 * one, as UTF-8 JSON otherwise (exactly {@link parseOrder}). Both paths end in the same
 * order schema, so an Avro order and a JSON order are held to the same rules.
 *
 * @throws PoisonRecordError as {@link decodeSchemaValue} and {@link parseOrder}.
 *
 * @example
 * const order = parseOrderRecordValue(record.value, record.valueSchemaMetadata);
 */
export const parseOrderRecordValue = (
  value: Buffer,
  metadata: SchemaMetadata | undefined,
  codecs?: OrderCodecs,
  writer?: WriterDecoder,
): Order => {
  if (metadata === undefined) return parseOrder(value);
  const result = safeParseOrder(decodeSchemaValue(value, metadata, codecs, writer));
  if (!result.success) throw result.error;
  return result.order;
};
