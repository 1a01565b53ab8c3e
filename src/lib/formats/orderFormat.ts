import { ConfigurationError } from '../errors.ts';
import type { Order } from '../orders/index.ts';
import type { OrderCodecs } from './codecs.ts';
import { DATA_FORMATS, type DataFormat } from './decodeOrder.ts';
import { encodeInFormat, frameForGlue } from './encode.ts';
import { glueRegistryName, glueSchemaIdLookUp } from './glueLookUp.ts';
import { RegistryVersionIds, type SchemaIdLookUp } from './registryVersionIds.ts';

/**
 * The registry format produceOrders writes orders in: Glue-framed with the schema version
 * id of the order schema in that format (the `order-avro`, `order-protobuf` or
 * `order-json` version registered from `src/lib/orders/schemas/`), configured or looked up.
 */
export interface OrderFormat {
  format: DataFormat;
  /** The configured id; without it, {@link OrderFormat.lookUpVersionId} finds it. */
  schemaVersionId?: string;
  /** The id from the registry by definition, once per container, by `deadline` (epoch ms). */
  lookUpVersionId?: (deadline: number) => Promise<string>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads `ORDER_FORMAT` (`AVRO`, `PROTOBUF` or `JSON` for JSON Schema; any case) and
 * `ORDER_SCHEMA_VERSION_ID` (the Glue schema version id to frame with). `ORDER_FORMAT`
 * unset or empty: plain JSON orders, as before. A configured id: no registry call. No id
 * but `SCHEMA_REGISTRY_URI` a Glue registry ARN: the id is looked up there by the shipped
 * definition (`GetSchemaByDefinition`, schema `order-<format>`) on the first emit.
 *
 * @throws ConfigurationError naming the bad setting.
 *
 * @example
 * readOrderFormat({ ORDER_FORMAT: 'avro', ORDER_SCHEMA_VERSION_ID: '5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10' });
 * // { format: 'AVRO', schemaVersionId: '5f7e9c2a-…' }
 * readOrderFormat({ ORDER_FORMAT: 'avro', SCHEMA_REGISTRY_URI: 'arn:aws:glue:us-east-1:111122223333:registry/orders' });
 * // { format: 'AVRO', lookUpVersionId: [Function] }
 */
export const readOrderFormat = (
  env: NodeJS.ProcessEnv,
  options: { lookUp?: SchemaIdLookUp } = {},
): OrderFormat | undefined => {
  const format = env.ORDER_FORMAT?.trim().toUpperCase();
  if (!format) return undefined;
  if (!(DATA_FORMATS as readonly string[]).includes(format))
    throw new ConfigurationError(
      `ORDER_FORMAT: "${format.slice(0, 40)}" is not one of ${DATA_FORMATS.join(', ')} (or empty for plain JSON)`,
    );
  const schemaVersionId = env.ORDER_SCHEMA_VERSION_ID?.trim() ?? '';
  const registryName = glueRegistryName(env.SCHEMA_REGISTRY_URI);
  if (schemaVersionId === '' && registryName !== undefined) {
    const ids = new RegistryVersionIds(
      options.lookUp ?? glueSchemaIdLookUp(registryName, env),
      registryName,
    );
    return {
      format: format as DataFormat,
      lookUpVersionId: (deadline) => ids.versionId('order', format as DataFormat, deadline),
    };
  }
  if (!UUID.test(schemaVersionId))
    throw new ConfigurationError(
      `ORDER_SCHEMA_VERSION_ID: ORDER_FORMAT=${format} needs the Glue schema version id (a UUID) of the order schema in that format, or SCHEMA_REGISTRY_URI a Glue registry ARN to look it up in`,
    );
  return { format: format as DataFormat, schemaVersionId };
};

/**
 * The schema version id to frame orders with: the configured one, or the registry's.
 *
 * @throws ConfigurationError (the registry holds no such definition) or RetriableError
 *   (the registry did not answer by `deadline`), from the look-up.
 */
export const orderSchemaVersionId = async (
  format: OrderFormat,
  deadline: number,
): Promise<string> => {
  if (format.schemaVersionId !== undefined) return format.schemaVersionId;
  if (!format.lookUpVersionId)
    throw new ConfigurationError('ORDER_SCHEMA_VERSION_ID: no order schema version id');
  return format.lookUpVersionId(deadline);
};

/**
 * An order's Kafka value in `format`, Glue-framed (header byte 3, no compression, the
 * version id; Protobuf with its message index), as a Glue serialiser writes it.
 *
 * @example
 * const value = orderValue(order, { format: 'AVRO', schemaVersionId }, await loadOrderCodecs());
 */
export const orderValue = (
  order: Order,
  format: { format: DataFormat; schemaVersionId: string },
  codecs: OrderCodecs,
): Buffer =>
  frameForGlue(
    format.format,
    encodeInFormat(format.format, 'order', order, codecs),
    format.schemaVersionId,
  );
