/**
 * The writer's schema of a registry record. A producer may write with another (compatible)
 * version of the order schema than the one processOrders ships; the record names it by
 * `valueSchemaMetadata.schemaId` (Glue's schema version id). Its definition is fetched from
 * the registry once per container, and:
 * - Avro: resolved against the shipped (reader's) schema, as Avro schema resolution says
 *   (avsc `createResolver`): fields the reader lacks are skipped, defaults fill the rest;
 * - Protobuf: the message is decoded with the writer's definition (fields by number);
 * - JSON Schema, and any value in `JSON` form: nothing to fetch, the value is already JSON.
 * A Confluent id (a number) is read with the shipped schema: there is no Confluent client here.
 *
 * Lambda's mapping already sends records of an id the registry does not know to its
 * on-failure destination (`SCHEMA_NOT_FOUND`), so such a record reaching the function means
 * the version was deleted in between, or the mapping has no registry: poison with the same
 * code. A registry that does not answer (network, throttling, the invocation's deadline) is
 * retriable: the partition stops there and the batch comes again.
 * https://docs.aws.amazon.com/glue/latest/webapi/API_GetSchemaVersion.html
 * https://avro.apache.org/docs/1.11.1/specification/#schema-resolution
 */
import { PoisonRecordError, RetriableError, safeMessage } from '../errors.ts';
import type { SchemaMetadata } from '../events/types.ts';
import type { OrderCodecs } from './codecs.ts';
import { ORDER_PROTO_TYPE } from './definitions.ts';

/** A schema version by id (`undefined`: the registry does not have it); throws when it cannot say. */
export type SchemaVersionLookUp = (
  schemaVersionId: string,
  signal: AbortSignal,
) => Promise<{ dataFormat: string; definition: string } | undefined>;

/** Reads the `SOURCE` bytes of one writer schema version into plain data. */
export type WriterDecoder = (source: Buffer) => unknown;

type Known =
  | { kind: 'ready'; decode: WriterDecoder }
  | { kind: 'poison'; code: 'SCHEMA_NOT_FOUND' | 'UNDECODABLE_VALUE'; message: string }
  | { kind: 'unavailable'; message: string };

// Glue schema version ids are UUIDs; Confluent ids are numbers (as Powertools tells them apart)
const GLUE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OPEN_BRACE = 0x7b;

/** Whether a record is read with its writer's schema: Avro or Protobuf, `SOURCE` form, a Glue id. */
const wantsWriter = (metadata: SchemaMetadata | undefined, value: Buffer | null) =>
  metadata !== undefined &&
  (metadata.dataFormat === 'AVRO' || metadata.dataFormat === 'PROTOBUF') &&
  value !== null &&
  value[0] !== OPEN_BRACE &&
  GLUE_ID.test(String(metadata.schemaId ?? ''));

type ProtoType = OrderCodecs['protobuf']['order'];
const isMessage = (n: unknown): n is ProtoType =>
  typeof n === 'object' && n !== null && 'fields' in n && 'decode' in n;

const compile = (
  dataFormat: string,
  definition: string,
  metadata: SchemaMetadata,
  codecs: OrderCodecs,
): Known => {
  if (dataFormat !== metadata.dataFormat)
    return {
      kind: 'poison',
      code: 'UNDECODABLE_VALUE',
      message: `schema version is ${dataFormat}, the record says ${metadata.dataFormat}`,
    };
  try {
    if (dataFormat === 'AVRO') {
      const reader = codecs.avro.order;
      const resolver = reader.createResolver(codecs.avro.compile(JSON.parse(definition)));
      return { kind: 'ready', decode: (source) => reader.fromBuffer(source, resolver) };
    }
    const root = codecs.protobuf.parse(definition).root;
    // the message named as ours, else the last message (as the mapping step reads it)
    const messages: ProtoType[] = [];
    const walk = (ns: { nestedArray?: unknown[] }) => {
      for (const n of ns.nestedArray ?? []) {
        if (isMessage(n)) messages.push(n);
        walk(n as { nestedArray?: unknown[] });
      }
    };
    walk(root);
    const named = root.lookup(ORDER_PROTO_TYPE);
    const type = isMessage(named) ? named : messages.at(-1);
    if (!type) throw new Error('no message in the definition');
    const { Reader } = codecs.protobuf;
    return {
      kind: 'ready',
      decode: (source) => {
        const reader = Reader.create(source);
        reader.uint32(); // Glue's message index
        return type.toObject(type.decode(reader), { longs: Number, defaults: true, arrays: true });
      },
    };
  } catch (error) {
    // avsc says why the schemas do not resolve; it never quotes a value
    return {
      kind: 'poison',
      code: 'UNDECODABLE_VALUE',
      message: `the writer's schema cannot be read as an order: ${safeMessage(error, 200)}`,
    };
  }
};

/**
 * The writer schemas of a container: {@link WriterSchemas.prepare} fetches what a batch
 * needs (only when it holds such records), {@link WriterSchemas.decoderFor} answers per record.
 *
 * @example
 * const writers = new WriterSchemas(glueSchemaVersionLookUp());
 * await writers.prepare(records, deadline, codecs);
 * const decode = writers.decoderFor(record.valueSchemaMetadata, record.value); // or undefined: the reader's schema
 */
export class WriterSchemas {
  readonly #lookUp: SchemaVersionLookUp;
  readonly #timeoutMs: number;
  /** Versions are immutable: a compiled one is kept for the container's life. */
  readonly #ready = new Map<string, Known>();
  /** What this invocation learnt of the others (asked again next time). */
  #current = new Map<string, Known>();

  constructor(lookUp: SchemaVersionLookUp, options: { timeoutMs?: number } = {}) {
    this.#lookUp = lookUp;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
  }

  /**
   * Fetches, in parallel, the writer schemas of `records` not known yet, each look-up
   * bounded by `deadline` (epoch ms) and the per-call timeout. Never throws: what could
   * not be fetched makes its records retriable in {@link decoderFor}.
   */
  async prepare(
    records: Iterable<{ value: Buffer | null; valueSchemaMetadata?: SchemaMetadata | undefined }>,
    deadline: number,
    codecs: OrderCodecs,
  ): Promise<void> {
    this.#current = new Map();
    const wanted = new Map<string, SchemaMetadata>();
    for (const { value, valueSchemaMetadata: m } of records)
      if (wantsWriter(m, value) && !this.#ready.has(String(m!.schemaId)))
        wanted.set(String(m!.schemaId), m!);
    if (wanted.size === 0) return;
    const signal = AbortSignal.timeout(
      Math.max(1, Math.min(this.#timeoutMs, deadline - Date.now())),
    );
    await Promise.all(
      [...wanted].map(async ([id, metadata]) => {
        let known: Known;
        try {
          const version = await this.#lookUp(id, signal);
          known = version
            ? compile(version.dataFormat, version.definition, metadata, codecs)
            : {
                kind: 'poison',
                code: 'SCHEMA_NOT_FOUND',
                message: 'the schema registry has no schema version of this id',
              };
        } catch (error) {
          known = { kind: 'unavailable', message: safeMessage(error, 200) };
        }
        if (known.kind === 'ready') this.#ready.set(id, known);
        else this.#current.set(id, known);
      }),
    );
  }

  /**
   * How to read a record: its writer's decoder, or `undefined` for the shipped schema.
   *
   * @throws PoisonRecordError `SCHEMA_NOT_FOUND` (unknown id) or `UNDECODABLE_VALUE` (a
   *   writer's schema that is not of an order); RetriableError `TRANSIENT` when the
   *   registry did not answer (or {@link prepare} did not run for this record).
   */
  decoderFor(
    metadata: SchemaMetadata | undefined,
    value: Buffer | null,
  ): WriterDecoder | undefined {
    if (!wantsWriter(metadata, value)) return undefined;
    const id = String(metadata!.schemaId);
    const known = this.#ready.get(id) ?? this.#current.get(id);
    if (known?.kind === 'ready') return known.decode;
    if (known?.kind === 'poison') throw new PoisonRecordError(known.code, known.message);
    throw new RetriableError(
      'TRANSIENT',
      `the schema registry did not answer for this record's schema version${known ? `: ${known.message}` : ''}`,
    );
  }
}
