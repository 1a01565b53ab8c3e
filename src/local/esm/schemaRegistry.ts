/**
 * What Lambda's Kafka event-source mapping does with `SchemaRegistryConfig` (Glue), for
 * each record it fetches, before the record goes into an event: read the registry framing,
 * look the schema version up, deserialise the value with the registered schema, and
 * deliver it in the configured `EventRecordFormat` with `valueSchemaMetadata`; or fail it
 * with the reason AWS gives, and send it to the on-failure destination without invoking.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html
 *
 * Assumptions (not in the pages read; README "Orders in Avro, Protobuf and JSON Schema"):
 * a value without registry framing is passed on as it is, without metadata; the Protobuf
 * message is the last top-level message of the registered definition; a JSON Schema value
 * is checked to be JSON, not validated against the JSON Schema.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { safeMessage } from '../../lib/errors.ts';
import type { HeaderMap, KafkaEventRecord } from '../../lib/events/types.ts';
import { type EventRecordFormat, unframeGlue } from '../../lib/formats/index.ts';
import { glueClient, lookUpSchemaVersion } from '../schemaRegistry/glue.ts';
import type { Batch, PartitionState } from './batches.ts';
import type { EventRecordEntry } from './eventPayload.ts';
import type { DeadLetter } from './onFailure.ts';
import type { LocalMapping, StartLocalMappingOptions } from './types.ts';

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

/**
 * A registry step whose look-ups are cached: schema versions are immutable, so a found
 * one is kept; a missing one is asked again (it may be registered meanwhile).
 */
export const cachedRegistryStep = (step: SchemaRegistryStep): SchemaRegistryStep => {
  const found = new Map<string, { dataFormat: string; definition: string }>();
  return {
    eventRecordFormat: step.eventRecordFormat,
    lookUp: async (id) => {
      const known = found.get(id);
      if (known) return known;
      const version = await step.lookUp(id);
      if (version) found.set(id, version);
      return version;
    },
  };
};

/**
 * The registry step a local mapping runs, if any: the one in its options, else the Glue
 * registry of its `schemaRegistry` setting.
 *
 * @example
 * const step = registryStepOf({ mapping, handler, brokers }); // undefined: no registry
 */
export const registryStepOf = (
  options: StartLocalMappingOptions,
): SchemaRegistryStep | undefined =>
  options.schemaRegistry
    ? cachedRegistryStep(options.schemaRegistry)
    : options.mapping.schemaRegistry && glueRegistryStep(options.mapping.schemaRegistry);

/**
 * The registry step of a mapping's `schemaRegistry` setting: a Glue registry, read at
 * `AWS_ENDPOINT_URL` when set (moto in the local stack), each look-up bounded.
 *
 * @example
 * const step = glueRegistryStep(mapping.schemaRegistry); // mapping read from serverless.yml
 */
export const glueRegistryStep = (
  setting: NonNullable<LocalMapping['schemaRegistry']>,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 5_000,
): SchemaRegistryStep => {
  const glue = glueClient(env.AWS_ENDPOINT_URL || undefined, env);
  return cachedRegistryStep({
    eventRecordFormat: setting.eventRecordFormat,
    lookUp: (id) => lookUpSchemaVersion(glue, id, timeoutMs),
  });
};

const base64 = (value: string | null | undefined) =>
  value === null || value === undefined ? null : Buffer.from(value, 'base64');

/**
 * Runs the registry step on fetched entries, in place: a delivered value is replaced by
 * its `JSON` / `SOURCE` form with `valueSchemaMetadata` (and its size measured again), a
 * failed one is marked with its reason and left as it was read. A registry that cannot be
 * reached is asked again after a back-off until it answers; `false` when the mapping
 * stops meanwhile (the entries are then not to be used).
 *
 * @example
 * if (await prepareEntries(entries, step, { warn, delay, stopping })) buffer.push(...entries);
 */
export const prepareEntries = async (
  entries: EventRecordEntry[],
  step: SchemaRegistryStep,
  deps: { warn(message: string): void; delay(attempt: number): number; stopping(): boolean },
): Promise<boolean> => {
  for (const entry of entries) {
    for (let attempt = 1; ; attempt++) {
      let result: RegistryStepResult;
      try {
        result = await registryStep(base64(entry.record.value), step);
      } catch (error) {
        deps.warn(
          `schema registry look-up failed (attempt ${attempt}): ${safeMessage(error, 300)}`,
        );
        if (deps.stopping()) return false;
        await sleep(deps.delay(attempt));
        continue;
      }
      if (result.kind === 'fail') entry.registryFailure = result.reason;
      else if (result.kind === 'deliver') {
        entry.record = {
          ...entry.record,
          value: result.value.toString('base64'),
          valueSchemaMetadata: result.metadata,
        };
        entry.bytes = Buffer.byteLength(JSON.stringify(entry.record));
      }
      break;
    }
  }
  return true;
};

/**
 * Sends a batch's records that failed the registry step to the on-failure destination,
 * once each (condition: AWS's reason), and leaves them out of the batch: the function never
 * sees them. `false` when they could not be sent (the mapping stops); the batch is then
 * not to be delivered.
 *
 * @example
 * if (!(await sendRegistryFailures(batch, (items, reason) => writeOnFailure(items, reason, deps)))) return;
 */
export const sendRegistryFailures = async (
  batch: Batch,
  write: (items: DeadLetter[], reason: SchemaRegistryFailureReason) => Promise<boolean>,
): Promise<boolean> => {
  const requestId = randomUUID();
  for (const reason of SCHEMA_REGISTRY_FAILURE_REASONS) {
    const items: DeadLetter[] = batch.slices.flatMap(({ state, entries }) =>
      entries
        .filter((entry) => entry.registryFailure === reason && !entry.registrySent)
        .map((entry) => deadLetter(state, entry, requestId)),
    );
    if (items.length > 0 && !(await write(items, reason))) return false;
    for (const item of items) item.entry.registrySent = true;
  }
  batch.slices = batch.slices
    .map((s) => ({ ...s, entries: s.entries.filter((e) => e.registryFailure === undefined) }))
    .filter((s) => s.entries.length > 0);
  return true;
};

// never invoked: no response, as for a record over the payload cap
const deadLetter = (state: PartitionState, entry: EventRecordEntry, requestId: string) => ({
  state,
  entry,
  approximateInvokeCount: 0,
  requestId,
  responseContext: null,
});
