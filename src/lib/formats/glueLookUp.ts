/**
 * Glue Schema Registry look-ups: a schema version by id (`GetSchemaVersion`, processOrders'
 * writer schemas) and a version id by definition (`GetSchemaByDefinition`, the ids results
 * and produceOrders' orders are framed with). The SDK client loads on the first look-up, so
 * a container that never needs one never loads it.
 * https://docs.aws.amazon.com/glue/latest/webapi/API_GetSchemaVersion.html
 * https://docs.aws.amazon.com/glue/latest/webapi/API_GetSchemaByDefinition.html
 */
import type { SchemaIdLookUp } from './registryVersionIds.ts';
import type { SchemaVersionLookUp } from './writerSchemas.ts';

type Sdk = typeof import('./glueSdk.ts');
type LoadedGlue = { glue: InstanceType<Sdk['GlueClient']>; sdk: Sdk };

/** The SDK chunk and one client, loaded on the first call (a failed load is tried again). */
const lazyGlue = (env: NodeJS.ProcessEnv): (() => Promise<LoadedGlue>) => {
  // an emulator's endpoint (moto in the local stack), as the other clients take it
  const endpoint = env.AWS_ENDPOINT_URL_GLUE?.trim() || env.AWS_ENDPOINT_URL?.trim();
  let client: Promise<LoadedGlue> | undefined;
  return () => {
    client ??= import('./glueSdk.ts').then((sdk) => ({
      glue: new sdk.GlueClient(endpoint ? { endpoint } : {}),
      sdk,
    }));
    return client.catch((error: unknown) => {
      client = undefined;
      throw error;
    });
  };
};

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
  const loadGlue = lazyGlue(env);
  return async (schemaVersionId, signal) => {
    const { glue, sdk } = await loadGlue();
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

/**
 * The registry name in a Glue registry ARN (`arn:aws:glue:…:registry/<name>`), or
 * `undefined` when `uri` is not one (none, or a Confluent-compatible URL).
 *
 * @example
 * glueRegistryName('arn:aws:glue:us-east-1:111122223333:registry/orders'); // 'orders'
 */
export const glueRegistryName = (uri: string | undefined): string | undefined =>
  GLUE_REGISTRY_ARN.test(uri?.trim() ?? '') ? uri!.trim().split(':registry/')[1] : undefined;

/**
 * A look-up of schema version ids by definition in the Glue registry `registryName`:
 * the id of the version of schema `schemaName` whose definition is exactly `definition`,
 * `undefined` when the registry holds none (no such schema, or no such version, or one
 * that is not `AVAILABLE`); any other failure throws. Client as {@link glueSchemaVersionLookUp}.
 *
 * @example
 * const id = await glueSchemaIdLookUp('orders')('order-avro', definition, AbortSignal.timeout(2_000));
 */
export const glueSchemaIdLookUp = (
  registryName: string,
  env: NodeJS.ProcessEnv = process.env,
): SchemaIdLookUp => {
  const loadGlue = lazyGlue(env);
  return async (schemaName, definition, signal) => {
    const { glue, sdk } = await loadGlue();
    try {
      const found = await glue.send(
        new sdk.GetSchemaByDefinitionCommand({
          SchemaId: { RegistryName: registryName, SchemaName: schemaName },
          SchemaDefinition: definition,
        }),
        { abortSignal: signal },
      );
      return found.Status === undefined || found.Status === 'AVAILABLE'
        ? found.SchemaVersionId
        : undefined;
    } catch (error) {
      if ((error as { name?: string }).name === 'EntityNotFoundException') return undefined;
      throw error;
    }
  };
};
