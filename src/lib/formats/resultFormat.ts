import { ConfigurationError, RetriableError } from '../errors.ts';
import type { SchemaMetadata } from '../events/types.ts';
import type { OrderResult } from '../orders/index.ts';
import { loadedOrderCodecs } from './codecs.ts';
import { DATA_FORMATS, type DataFormat } from './decodeOrder.ts';
import { encodeInFormat, frameForGlue } from './encode.ts';
import { glueRegistryName, glueSchemaIdLookUp } from './glueLookUp.ts';
import { RegistryVersionIds, type SchemaIdLookUp } from './registryVersionIds.ts';

/**
 * Which result schema version (Glue's id) to write a result with, per input format: a
 * result of an Avro order is written in Avro with `versions.AVRO`, and so on. A format
 * without a version, and every plain JSON order, gets a plain JSON result. A format in
 * `lookUp.formats` gets its version from the registry ({@link prepareResultFormats}).
 */
export interface ResultFormats {
  versions: Partial<Record<DataFormat, string>>;
  /** Formats named without an id, and where their ids are found (a Glue registry). */
  lookUp?: { formats: DataFormat[]; ids: RegistryVersionIds };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads `RESULT_SCHEMA_VERSIONS` (`AVRO=<id>,PROTOBUF=<id>,JSON=<id>`, any subset): the
 * Glue schema version ids of the result schemas. A format named without an id (`AVRO`)
 * has its id looked up by the shipped definition (`GetSchemaByDefinition`, schema
 * `result-<format>`) in the Glue registry `SCHEMA_REGISTRY_URI` names, on the first batch
 * that needs it. Unset or empty: results stay JSON.
 *
 * @throws ConfigurationError naming the bad entry, or a format without an id and no Glue registry.
 *
 * @example
 * readResultFormats({ RESULT_SCHEMA_VERSIONS: 'AVRO=5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10' });
 * readResultFormats({ RESULT_SCHEMA_VERSIONS: 'AVRO,PROTOBUF', SCHEMA_REGISTRY_URI: 'arn:aws:glue:us-east-1:111122223333:registry/orders' });
 */
export const readResultFormats = (
  env: NodeJS.ProcessEnv,
  options: { lookUp?: SchemaIdLookUp } = {},
): ResultFormats | undefined => {
  const text = env.RESULT_SCHEMA_VERSIONS?.trim();
  if (!text) return undefined;
  const versions: ResultFormats['versions'] = {};
  const unnamed: DataFormat[] = [];
  const registryName = glueRegistryName(env.SCHEMA_REGISTRY_URI);
  for (const entry of text.split(',')) {
    const [format, id, ...rest] = entry.trim().split('=');
    const known = (DATA_FORMATS as readonly string[]).includes(format ?? '');
    // `AVRO` or `AVRO=`: the registry's id, when there is a Glue registry to ask
    const lookedUp = known && rest.length === 0 && !id && registryName !== undefined;
    if (!lookedUp && (rest.length > 0 || !known || !UUID.test(id ?? '')))
      throw new ConfigurationError(
        `RESULT_SCHEMA_VERSIONS: "${entry.trim().slice(0, 80)}" is not <${DATA_FORMATS.join('|')}>=<schema version id (UUID)>${known && !id ? ' (a format without an id needs SCHEMA_REGISTRY_URI a Glue registry ARN)' : ''}`,
      );
    if (lookedUp) unnamed.push(format as DataFormat);
    else versions[format as DataFormat] = id!;
  }
  if (unnamed.length === 0 || registryName === undefined) return { versions };
  const ids = new RegistryVersionIds(
    options.lookUp ?? glueSchemaIdLookUp(registryName, env),
    registryName,
  );
  return { versions, lookUp: { formats: unnamed, ids } };
};

/**
 * Looks up, once per container, the result schema versions a batch needs: those of its
 * records' formats named without an id. Nothing to do (no registry call) otherwise.
 *
 * @throws ConfigurationError (the registry holds no version with the shipped definition)
 *   or RetriableError `TRANSIENT` (it did not answer by `deadline`, epoch ms): the whole
 *   batch fails before any record is processed, and comes again.
 *
 * @example
 * await prepareResultFormats(formats, records, deadline);
 */
export const prepareResultFormats = async (
  formats: ResultFormats | undefined,
  records: Iterable<{ valueSchemaMetadata?: SchemaMetadata | undefined }>,
  deadline: number,
): Promise<void> => {
  const lookUp = formats?.lookUp;
  if (!lookUp) return;
  const wanted = new Set<DataFormat>();
  for (const { valueSchemaMetadata: m } of records) {
    const format = m?.dataFormat as DataFormat | undefined;
    if (format && formats.versions[format] === undefined && lookUp.formats.includes(format))
      wanted.add(format);
  }
  await Promise.all(
    [...wanted].map(async (format) => {
      formats.versions[format] = await lookUp.ids.versionId('result', format, deadline);
    }),
  );
};

/**
 * A result's Kafka value: in its order's registry format, Glue-framed with the result
 * schema's version, when `formats` names one for that format; JSON text otherwise.
 *
 * @example
 * const value = resultValue(result, record.valueSchemaMetadata, formats);
 */
export const resultValue = (
  result: OrderResult,
  metadata: SchemaMetadata | undefined,
  formats: ResultFormats | undefined,
): string | Buffer => {
  const format = metadata?.dataFormat as DataFormat | undefined;
  const versionId = format === undefined ? undefined : formats?.versions[format];
  // never a JSON result where a registry format is configured ({@link prepareResultFormats} ran first)
  if (versionId === undefined && format !== undefined && formats?.lookUp?.formats.includes(format))
    throw new RetriableError('TRANSIENT', `the ${format} result schema version is not known yet`);
  // a registry record's batch has loaded the codecs before any record was processed
  const codecs = versionId === undefined ? undefined : loadedOrderCodecs();
  if (versionId === undefined || codecs === undefined || format === undefined)
    return JSON.stringify(result);
  return frameForGlue(format, encodeInFormat(format, 'result', result, codecs), versionId);
};
