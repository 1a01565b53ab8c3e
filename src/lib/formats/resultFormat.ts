import { ConfigurationError } from '../errors.ts';
import type { SchemaMetadata } from '../events/types.ts';
import type { OrderResult } from '../orders/index.ts';
import { loadedOrderCodecs } from './codecs.ts';
import { DATA_FORMATS, type DataFormat } from './decodeOrder.ts';
import { encodeInFormat, frameForGlue } from './encode.ts';

/**
 * Which result schema version (Glue's id) to write a result with, per input format: a
 * result of an Avro order is written in Avro with `versions.AVRO`, and so on. A format
 * without a version, and every plain JSON order, gets a plain JSON result.
 */
export interface ResultFormats {
  versions: Partial<Record<DataFormat, string>>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Reads `RESULT_SCHEMA_VERSIONS` (`AVRO=<id>,PROTOBUF=<id>,JSON=<id>`, any subset): the
 * Glue schema version ids of the result schemas. Unset or empty: results stay JSON.
 *
 * @throws ConfigurationError naming the bad entry.
 *
 * @example
 * readResultFormats({ RESULT_SCHEMA_VERSIONS: 'AVRO=5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10' });
 */
export const readResultFormats = (env: NodeJS.ProcessEnv): ResultFormats | undefined => {
  const text = env.RESULT_SCHEMA_VERSIONS?.trim();
  if (!text) return undefined;
  const versions: ResultFormats['versions'] = {};
  for (const entry of text.split(',')) {
    const [format, id, ...rest] = entry.trim().split('=');
    if (
      rest.length > 0 ||
      !(DATA_FORMATS as readonly string[]).includes(format ?? '') ||
      !UUID.test(id ?? '')
    )
      throw new ConfigurationError(
        `RESULT_SCHEMA_VERSIONS: "${entry.trim().slice(0, 80)}" is not <${DATA_FORMATS.join('|')}>=<schema version id (UUID)>`,
      );
    versions[format as DataFormat] = id!;
  }
  return { versions };
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
  // a registry record's batch has loaded the codecs before any record was processed
  const codecs = versionId === undefined ? undefined : loadedOrderCodecs();
  if (versionId === undefined || codecs === undefined || format === undefined)
    return JSON.stringify(result);
  return frameForGlue(format, encodeInFormat(format, 'result', result, codecs), versionId);
};
