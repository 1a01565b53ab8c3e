/**
 * Glue Schema Registry look-ups for processOrders: a schema version by id
 * (`GetSchemaVersion`). The SDK client loads on the first look-up, so a container that
 * never meets a registry record never loads it.
 * https://docs.aws.amazon.com/glue/latest/webapi/API_GetSchemaVersion.html
 */
import type { SchemaVersionLookUp } from './writerSchemas.ts';

type Sdk = typeof import('./glueSdk.ts');

/** A Glue registry ARN, as `SchemaRegistryURI` names one. */
const GLUE_REGISTRY_ARN = /^arn:aws[a-z-]*:glue:[a-z0-9-]+:\d{12}:registry\/[^/]+$/;

/**
 * A look-up of Glue schema versions by id, `undefined` when Glue does not have the id;
 * any other failure (unreachable, throttled, aborted) throws. Region from the environment as
 * for every SDK client; endpoint `AWS_ENDPOINT_URL_GLUE` or `AWS_ENDPOINT_URL` when set.
 *
 * @example
 * const version = await glueSchemaVersionLookUp()(schemaId, AbortSignal.timeout(2_000));
 */
export const glueSchemaVersionLookUp = (
  env: NodeJS.ProcessEnv = process.env,
): SchemaVersionLookUp => {
  // an emulator's endpoint (moto in the local stack), as the other clients take it
  const endpoint = env.AWS_ENDPOINT_URL_GLUE?.trim() || env.AWS_ENDPOINT_URL?.trim();
  let client: Promise<{ glue: InstanceType<Sdk['GlueClient']>; sdk: Sdk }> | undefined;
  return async (schemaVersionId, signal) => {
    client ??= import('./glueSdk.ts').then((sdk) => ({
      glue: new sdk.GlueClient(endpoint ? { endpoint } : {}),
      sdk,
    }));
    const { glue, sdk } = await client.catch((error: unknown) => {
      client = undefined; // a failed load is tried again
      throw error;
    });
    try {
      const version = await glue.send(
        new sdk.GetSchemaVersionCommand({ SchemaVersionId: schemaVersionId }),
        { abortSignal: signal },
      );
      return { dataFormat: version.DataFormat ?? '', definition: version.SchemaDefinition ?? '' };
    } catch (error) {
      if ((error as { name?: string }).name === 'EntityNotFoundException') return undefined;
      throw error;
    }
  };
};

/**
 * Whether processOrders reads registry records with their writer's schema: only with a
 * Glue registry (`SCHEMA_REGISTRY_URI`, the mapping's `SchemaRegistryURI`), whose versions
 * its role may read. A Confluent-compatible URL or none: the shipped schema.
 *
 * @example
 * const writerSchemas = readsWriterSchemas(process.env) ? new WriterSchemas(glueSchemaVersionLookUp()) : undefined;
 */
export const readsWriterSchemas = (env: NodeJS.ProcessEnv): boolean =>
  GLUE_REGISTRY_ARN.test(env.SCHEMA_REGISTRY_URI ?? '');
