/**
 * The order schemas in AWS Glue Schema Registry (on AWS, or moto's implementation of it
 * in the local stack): register them once, look a schema version up by its id as
 * Lambda's mapping does before it hands a record on. Local tooling, not bundled.
 */
import { readFileSync } from 'node:fs';
import {
  type Compatibility,
  CreateRegistryCommand,
  CreateSchemaCommand,
  GetSchemaByDefinitionCommand,
  GetSchemaVersionCommand,
  GlueClient,
  type DataFormat as GlueDataFormat,
} from '@aws-sdk/client-glue';
import type { DataFormat, OrderSchemaKind } from '../../lib/formats/index.ts';

/** The registry `npm run stack:up` creates, and the demo and tests use by default. */
export const DEFAULT_REGISTRY_NAME = 'msk-order-pipeline';

const SCHEMA_FILES: Record<OrderSchemaKind, Record<DataFormat, string>> = {
  order: { AVRO: 'order.avsc', PROTOBUF: 'order.proto', JSON: 'order.schema.json' },
  result: {
    AVRO: 'orderResult.avsc',
    PROTOBUF: 'orderResult.proto',
    JSON: 'orderResult.schema.json',
  },
};

/** The text of a schema file of `src/lib/orders/schemas/`. */
export const schemaDefinition = (kind: OrderSchemaKind, format: DataFormat): string =>
  readFileSync(
    new URL(`../../lib/orders/schemas/${SCHEMA_FILES[kind][format]}`, import.meta.url),
    'utf8',
  );

/** The Glue schema name of a kind and format: `order-avro`, `result-protobuf`, … */
export const schemaName = (kind: OrderSchemaKind, format: DataFormat) =>
  `${kind}-${format.toLowerCase()}`;

/** A Glue client for an endpoint (moto's in the local stack), dummy keys when none are set. */
export const glueClient = (endpoint?: string, env: NodeJS.ProcessEnv = process.env): GlueClient => {
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
  const local = endpoint !== undefined && !(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY);
  return new GlueClient({
    region,
    ...(endpoint ? { endpoint } : {}),
    ...(local ? { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } } : {}),
  });
};

const alreadyExists = (error: unknown) =>
  (error as { name?: string }).name === 'AlreadyExistsException';

/** One registered schema: its name and the version id records carry (a UUID). */
export interface RegisteredSchema {
  schemaName: string;
  schemaVersionId: string;
  dataFormat: DataFormat;
}

/**
 * Creates the registry and registers one schema (idempotent: an existing registry or
 * schema is kept, and the version of `definition` is looked up).
 */
export const ensureSchema = async (
  glue: GlueClient,
  registryName: string,
  name: string,
  dataFormat: DataFormat,
  definition: string,
  compatibility: Compatibility = 'BACKWARD',
): Promise<RegisteredSchema> => {
  try {
    await glue.send(new CreateRegistryCommand({ RegistryName: registryName }));
  } catch (error) {
    if (!alreadyExists(error)) throw error;
  }
  const schemaId = { RegistryName: registryName, SchemaName: name };
  try {
    await glue.send(
      new CreateSchemaCommand({
        RegistryId: { RegistryName: registryName },
        SchemaName: name,
        DataFormat: dataFormat as GlueDataFormat,
        Compatibility: compatibility,
        SchemaDefinition: definition,
      }),
    );
  } catch (error) {
    if (!alreadyExists(error)) throw error;
  }
  const found = await glue.send(
    new GetSchemaByDefinitionCommand({ SchemaId: schemaId, SchemaDefinition: definition }),
  );
  if (!found.SchemaVersionId)
    throw new Error(`schema ${name} is registered with another definition than this project's`);
  return { schemaName: name, schemaVersionId: found.SchemaVersionId, dataFormat };
};

/** The registry's ARN and the version id of each order and result schema. */
export interface OrderRegistry {
  registryName: string;
  registryArn: string;
  versions: Record<OrderSchemaKind, Record<DataFormat, RegisteredSchema>>;
}

/**
 * Registers the order and result schemas in the three formats (idempotent).
 *
 * @example
 * const registry = await ensureOrderRegistry(glueClient(process.env.AWS_ENDPOINT_URL));
 * registry.versions.order.AVRO.schemaVersionId; // '5f7e…'
 */
export const ensureOrderRegistry = async (
  glue: GlueClient,
  registryName = DEFAULT_REGISTRY_NAME,
): Promise<OrderRegistry> => {
  const versions = { order: {}, result: {} } as OrderRegistry['versions'];
  for (const kind of ['order', 'result'] as const)
    for (const format of ['AVRO', 'PROTOBUF', 'JSON'] as const)
      versions[kind][format] = await ensureSchema(
        glue,
        registryName,
        schemaName(kind, format),
        format,
        schemaDefinition(kind, format),
      );
  const arn = (
    await glue.send(
      new GetSchemaVersionCommand({
        SchemaVersionId: versions.order.AVRO.schemaVersionId,
      }),
    )
  ).SchemaArn;
  // arn:aws:glue:<region>:<account>:schema/<registry>/<schema> → …:registry/<registry>
  const registryArn = arn ? arn.replace(/:schema\/([^/]+)\/.*$/, ':registry/$1') : '';
  return { registryName, registryArn, versions };
};

/**
 * A schema version by id, as the mapping looks it up, or `undefined` when the registry
 * does not have it. Any other failure (unreachable, throttled, over `timeoutMs`) throws.
 */
export const lookUpSchemaVersion = async (
  glue: GlueClient,
  schemaVersionId: string,
  timeoutMs = 5_000,
): Promise<{ dataFormat: string; definition: string } | undefined> => {
  try {
    const v = await glue.send(new GetSchemaVersionCommand({ SchemaVersionId: schemaVersionId }), {
      abortSignal: AbortSignal.timeout(timeoutMs),
    });
    return { dataFormat: v.DataFormat ?? '', definition: v.SchemaDefinition ?? '' };
  } catch (error) {
    if ((error as { name?: string }).name === 'EntityNotFoundException') return undefined;
    throw error;
  }
};
