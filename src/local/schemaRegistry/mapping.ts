/**
 * What Lambda's Kafka event-source mapping does with `SchemaRegistryConfig` (Glue), for
 * one record, before the record goes into an event: read the registry framing, look the
 * schema version up, deserialise the value with the registered schema, and deliver it in
 * the configured `EventRecordFormat` with `valueSchemaMetadata`; or fail it with the
 * reason AWS sends to the on-failure destination.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html
 *
 * Assumptions (not in the pages read; README "Orders in Avro, Protobuf and JSON Schema"):
 * a value without registry framing is passed on as it is, without metadata; the Protobuf
 * message is the last top-level message of the registered definition; a JSON Schema value
 * is checked to be JSON, not validated against the JSON Schema.
 */
import type { HeaderMap, KafkaEventRecord } from '../../lib/events/types.ts';
import { type EventRecordFormat, unframeGlue } from '../../lib/formats/index.ts';

/** The reasons AWS gives a record the registry step fails. */
export const SCHEMA_REGISTRY_FAILURE_REASONS = [
  'SCHEMA_NOT_FOUND',
  'DESERIALIZATION_ERROR',
] as const;
export type SchemaRegistryFailureReason = (typeof SCHEMA_REGISTRY_FAILURE_REASONS)[number];

/** A record as read from the broker. */
export interface BrokerRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: HeaderMap;
}

export interface SchemaRegistryStep {
  eventRecordFormat: EventRecordFormat;
  /** The registry's schema version by id (`undefined`: not found), e.g. Glue's GetSchemaVersion. */
  lookUp: (
    schemaVersionId: string,
  ) => Promise<{ dataFormat: string; definition: string } | undefined>;
}

export type SchemaRegistryOutcome =
  | { ok: true; record: KafkaEventRecord }
  | { ok: false; reason: SchemaRegistryFailureReason; record: BrokerRecord };

type Deserialiser = (payload: Buffer) => { json: unknown };

// one compiled deserialiser per schema version: versions are immutable
const compiled = new Map<string, Promise<Deserialiser>>();

const compile = async (dataFormat: string, definition: string): Promise<Deserialiser> => {
  switch (dataFormat) {
    case 'AVRO': {
      const avsc = (await import('avsc')).default;
      const type = avsc.Type.forSchema(JSON.parse(definition));
      // through JSON: what Lambda hands on is a JSON object, not avsc's record class
      return (payload) => ({ json: JSON.parse(JSON.stringify(type.fromBuffer(payload))) });
    }
    case 'PROTOBUF': {
      const protobuf = (await import('protobufjs')).default;
      const root = protobuf.parse(definition).root;
      const messages: InstanceType<typeof protobuf.Type>[] = [];
      const walk = (ns: InstanceType<typeof protobuf.Namespace>) => {
        for (const n of ns.nestedArray)
          if (n instanceof protobuf.Type) messages.push(n);
          else if (n instanceof protobuf.Namespace) walk(n);
      };
      walk(root);
      const type = messages.at(-1);
      if (!type) throw new Error('no message in the Protobuf definition');
      return (payload) => {
        const reader = protobuf.Reader.create(payload);
        reader.uint32(); // Glue's message index
        // proto3's JSON mapping: int64 as strings
        return { json: type.toObject(type.decode(reader), { longs: String, arrays: true }) };
      };
    }
    case 'JSON':
      return (payload) => ({ json: JSON.parse(payload.toString('utf8')) });
    default:
      throw new Error(`unknown data format ${dataFormat}`);
  }
};

const eventHeaders = (headers: HeaderMap) =>
  [...headers].flatMap(([name, values]) => values.map((v) => ({ [name]: [...v] })));

/** What the registry step makes of one value. */
export type RegistryStepResult =
  | { kind: 'pass' }
  | { kind: 'fail'; reason: SchemaRegistryFailureReason }
  | { kind: 'deliver'; value: Buffer; metadata: { dataFormat: string; schemaId: string } };

/**
 * The registry step on one value: `pass` (no registry framing: handed on as it is),
 * `fail` with AWS's reason, or `deliver` the value in the configured form with its metadata.
 */
export const registryStep = async (
  value: Buffer | null,
  step: SchemaRegistryStep,
): Promise<RegistryStepResult> => {
  const framed = value === null ? undefined : unframeGlue(value);
  if (!framed) return { kind: 'pass' };
  const version = await step.lookUp(framed.schemaVersionId);
  if (!version) return { kind: 'fail', reason: 'SCHEMA_NOT_FOUND' };
  const key = framed.schemaVersionId;
  let deserialise = compiled.get(key);
  if (!deserialise) {
    deserialise = compile(version.dataFormat, version.definition);
    compiled.set(key, deserialise);
  }
  let json: unknown;
  try {
    json = (await deserialise)(framed.payload).json;
  } catch {
    return { kind: 'fail', reason: 'DESERIALIZATION_ERROR' };
  }
  return {
    kind: 'deliver',
    value: step.eventRecordFormat === 'JSON' ? Buffer.from(JSON.stringify(json)) : framed.payload,
    metadata: { dataFormat: version.dataFormat, schemaId: framed.schemaVersionId },
  };
};

/**
 * Runs the mapping's schema-registry step on one record read from the broker.
 *
 * @example
 * const outcome = await applySchemaRegistry(record, { eventRecordFormat: 'SOURCE', lookUp });
 * if (!outcome.ok) console.log(outcome.reason); // 'SCHEMA_NOT_FOUND'
 */
export const applySchemaRegistry = async (
  record: BrokerRecord,
  step: SchemaRegistryStep,
): Promise<SchemaRegistryOutcome> => {
  const event: KafkaEventRecord = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    timestampType: 'CREATE_TIME',
    value: record.value === null ? null : record.value.toString('base64'),
    headers: eventHeaders(record.headers),
  };
  if (record.key !== null) event.key = record.key.toString('base64');
  const result = await registryStep(record.value, step);
  if (result.kind === 'fail') return { ok: false, reason: result.reason, record };
  if (result.kind === 'deliver') {
    event.value = result.value.toString('base64');
    event.valueSchemaMetadata = result.metadata;
  }
  return { ok: true, record: event };
};

type EventHandler = (event: unknown, context?: unknown) => Promise<unknown>;

/**
 * A handler behind the registry step, for the local event-source mapping (which hands
 * over events of raw records): each record of the event goes through the step; failed
 * ones are left out of the event and reported to `onFailure` (the mapping would send them
 * to its on-failure destination), the rest reach `handler` as Lambda would deliver them.
 *
 * @example
 * const processOrders = withSchemaRegistry(handler, { eventRecordFormat: 'SOURCE', lookUp }, console.log);
 */
export const withSchemaRegistry =
  (
    handler: EventHandler,
    step: SchemaRegistryStep,
    onFailure: (record: KafkaEventRecord, reason: SchemaRegistryFailureReason) => void,
  ): EventHandler =>
  async (event, context) => {
    const records = (event as { records?: Record<string, KafkaEventRecord[]> }).records ?? {};
    const delivered: Record<string, KafkaEventRecord[]> = {};
    for (const [key, list] of Object.entries(records)) {
      const kept: KafkaEventRecord[] = [];
      for (const record of list) {
        const value = record.value === null ? null : Buffer.from(record.value, 'base64');
        const result = await registryStep(value, step);
        if (result.kind === 'fail') onFailure(record, result.reason);
        else if (result.kind === 'pass') kept.push(record);
        else
          kept.push({
            ...record,
            value: result.value.toString('base64'),
            valueSchemaMetadata: result.metadata,
          });
      }
      if (kept.length > 0) delivered[key] = kept;
    }
    return handler({ ...(event as object), records: delivered }, context);
  };
