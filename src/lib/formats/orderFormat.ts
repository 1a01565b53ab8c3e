import { ConfigurationError } from '../errors.ts';
import type { Order } from '../orders/index.ts';
import type { OrderCodecs } from './codecs.ts';
import { DATA_FORMATS, type DataFormat } from './decodeOrder.ts';
import { encodeInFormat, frameForGlue } from './encode.ts';

/**
 * The registry format produceOrders writes orders in: Glue-framed with the schema version
 * id of the order schema in that format (the `order-avro`, `order-protobuf` or
 * `order-json` version registered from `src/lib/orders/schemas/`).
 */
export interface OrderFormat {
  format: DataFormat;
  schemaVersionId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads `ORDER_FORMAT` (`AVRO`, `PROTOBUF` or `JSON` for JSON Schema; any case) and
 * `ORDER_SCHEMA_VERSION_ID` (the Glue schema version id to frame with). `ORDER_FORMAT`
 * unset or empty: plain JSON orders, as before. The id is configuration: produceOrders
 * makes no registry call (and needs no Glue permission).
 *
 * @throws ConfigurationError naming the bad setting.
 *
 * @example
 * readOrderFormat({ ORDER_FORMAT: 'avro', ORDER_SCHEMA_VERSION_ID: '5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10' });
 * // { format: 'AVRO', schemaVersionId: '5f7e9c2a-…' }
 */
export const readOrderFormat = (env: NodeJS.ProcessEnv): OrderFormat | undefined => {
  const format = env.ORDER_FORMAT?.trim().toUpperCase();
  if (!format) return undefined;
  if (!(DATA_FORMATS as readonly string[]).includes(format))
    throw new ConfigurationError(
      `ORDER_FORMAT: "${format.slice(0, 40)}" is not one of ${DATA_FORMATS.join(', ')} (or empty for plain JSON)`,
    );
  const schemaVersionId = env.ORDER_SCHEMA_VERSION_ID?.trim() ?? '';
  if (!UUID.test(schemaVersionId))
    throw new ConfigurationError(
      `ORDER_SCHEMA_VERSION_ID: ORDER_FORMAT=${format} needs the Glue schema version id (a UUID) of the order schema in that format`,
    );
  return { format: format as DataFormat, schemaVersionId };
};

/**
 * An order's Kafka value in `format`, Glue-framed (header byte 3, no compression, the
 * version id; Protobuf with its message index), as a Glue serialiser writes it.
 *
 * @example
 * const value = orderValue(order, { format: 'AVRO', schemaVersionId }, await loadOrderCodecs());
 */
export const orderValue = (order: Order, format: OrderFormat, codecs: OrderCodecs): Buffer =>
  frameForGlue(
    format.format,
    encodeInFormat(format.format, 'order', order, codecs),
    format.schemaVersionId,
  );
