import type { Order, OrderResult } from '../orders/index.ts';
import type { OrderCodecs } from './codecs.ts';
import type { DataFormat } from './decodeOrder.ts';

/** Which schema of a pair: the order (`orders`) or its result (`orders.processed`). */
export type OrderSchemaKind = 'order' | 'result';

/**
 * The bare encoding of an order or a result in a registry format, without any
 * registry framing: Avro binary, Protobuf binary, or JSON text (JSON Schema).
 *
 * @example
 * const avro = encodeInFormat('AVRO', 'order', order, await loadOrderCodecs());
 */
export const encodeInFormat = (
  format: DataFormat,
  kind: OrderSchemaKind,
  value: Order | OrderResult,
  codecs: OrderCodecs,
): Buffer => {
  switch (format) {
    case 'JSON':
      return Buffer.from(JSON.stringify(value));
    case 'AVRO':
      return codecs.avro[kind].toBuffer(
        kind === 'result' ? avroResult(value as OrderResult) : value,
      );
    case 'PROTOBUF': {
      const type = codecs.protobuf[kind];
      return Buffer.from(type.encode(type.fromObject(value as object)).finish());
    }
  }
};

// Optional fields are explicit nulls in Avro (unions with null).
const avroResult = (result: OrderResult) => ({
  ...result,
  reasonCode: result.reasonCode ?? null,
  source: result.source ?? null,
});

/**
 * The plain value of a bare Avro or Protobuf encoding (the inverse of
 * {@link encodeInFormat}): what Lambda puts in a `JSON`-form record.
 *
 * @throws Error from the format library when the bytes do not decode.
 */
export const decodeInFormat = (
  format: DataFormat,
  kind: OrderSchemaKind,
  bytes: Buffer,
  codecs: OrderCodecs,
): unknown => {
  switch (format) {
    case 'JSON':
      return JSON.parse(bytes.toString('utf8'));
    case 'AVRO':
      // through JSON: a plain object, not avsc's record class
      return JSON.parse(JSON.stringify(codecs.avro[kind].fromBuffer(bytes)));
    case 'PROTOBUF': {
      const type = codecs.protobuf[kind];
      return type.toObject(type.decode(bytes), { longs: Number, defaults: true, arrays: true });
    }
  }
};

// ------------------------------------------------------------------------------------
// Glue Schema Registry's wire format (the SerDe library's): a header version byte (3),
// a compression byte (0 none, 5 zlib), the 16-byte schema version id, then the payload.
// Lambda removes this framing for SOURCE records; a Protobuf payload keeps the message
// index varint before the message (one byte 1 in Powertools' Glue fixture).

const GLUE_HEADER_VERSION = 3;
const GLUE_COMPRESSION_NONE = 0;
const GLUE_HEADER_BYTES = 18;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Frames a bare encoding as Glue's serialiser does, for schema version `schemaVersionId`.
 *
 * @example
 * const value = frameForGlue('AVRO', encodeInFormat('AVRO', 'order', order, codecs), versionId);
 */
export const frameForGlue = (format: DataFormat, bare: Buffer, schemaVersionId: string): Buffer => {
  if (!UUID.test(schemaVersionId)) throw new TypeError('schemaVersionId must be a UUID');
  const header = Buffer.alloc(GLUE_HEADER_BYTES);
  header[0] = GLUE_HEADER_VERSION;
  header[1] = GLUE_COMPRESSION_NONE;
  Buffer.from(schemaVersionId.replaceAll('-', ''), 'hex').copy(header, 2);
  const index = format === 'PROTOBUF' ? Buffer.of(1) : Buffer.alloc(0);
  return Buffer.concat([header, index, bare]);
};

/**
 * A `SOURCE`-form payload framed again as its producer wrote it (Lambda removed the
 * framing; a Protobuf payload kept its message index), or `undefined` when the schema
 * id is not a Glue schema version id (a UUID).
 *
 * @example
 * reframeSourcePayload(record.valueSchemaMetadata.schemaId, record.value) // <Buffer 03 00 …>
 */
export const reframeSourcePayload = (schemaId: string, payload: Buffer): Buffer | undefined => {
  if (!UUID.test(schemaId)) return undefined;
  const header = Buffer.alloc(GLUE_HEADER_BYTES);
  header[0] = GLUE_HEADER_VERSION;
  header[1] = GLUE_COMPRESSION_NONE;
  Buffer.from(schemaId.replaceAll('-', ''), 'hex').copy(header, 2);
  return Buffer.concat([header, payload]);
};

/** A Glue-framed value split into its schema version id and the bytes after the header. */
export interface GlueFramed {
  schemaVersionId: string;
  /** What a `SOURCE`-form record carries (for Protobuf, still with its message index). */
  payload: Buffer;
}

/**
 * Reads Glue's framing, or returns `undefined` when the value does not carry it (wrong
 * header version, compression this reader does not take, too short).
 */
export const unframeGlue = (value: Buffer): GlueFramed | undefined => {
  if (value.length <= GLUE_HEADER_BYTES || value[0] !== GLUE_HEADER_VERSION) return undefined;
  if (value[1] !== GLUE_COMPRESSION_NONE) return undefined;
  const hex = value.subarray(2, GLUE_HEADER_BYTES).toString('hex');
  const schemaVersionId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return { schemaVersionId, payload: value.subarray(GLUE_HEADER_BYTES) };
};

/** The bare encoding inside a `SOURCE` payload: a Protobuf payload loses its message index. */
export const bareOfSourcePayload = (
  format: DataFormat,
  payload: Buffer,
  codecs: OrderCodecs,
): Buffer => {
  if (format !== 'PROTOBUF') return payload;
  const reader = codecs.protobuf.Reader.create(payload);
  reader.uint32();
  return payload.subarray(reader.pos);
};
