import type * as Avro from 'avsc';
import type * as Protobuf from 'protobufjs';
import {
  ORDER_AVRO_SCHEMA,
  ORDER_PROTO,
  ORDER_PROTO_TYPE,
  ORDER_RESULT_AVRO_SCHEMA,
  ORDER_RESULT_PROTO,
  ORDER_RESULT_PROTO_TYPE,
} from './definitions.ts';

/** The compiled order and result types of both binary formats. */
export interface OrderCodecs {
  avro: {
    order: Avro.Type;
    result: Avro.Type;
    /** Compiles another Avro schema (a writer's) with the same 64-bit long. */
    compile: (schema: unknown) => Avro.Type;
  };
  protobuf: {
    order: Protobuf.Type;
    result: Protobuf.Type;
    /** protobufjs's reader, for the registry framing (message indexes are varints). */
    Reader: typeof Protobuf.Reader;
    /** protobufjs's parser, for another definition (a writer's). */
    parse: typeof Protobuf.parse;
  };
}

// A CommonJS package imported dynamically comes as `{ default: module.exports }` under
// Node and esbuild alike; its named exports may or may not be copied beside it.
const commonJs = <T>(module: T | { default: T }): T =>
  (module as { default?: T }).default ?? (module as T);

/**
 * avsc's own `long` refuses integers beyond ±2^52 ("potential precision loss"), while an
 * order may carry any safe integer of minor units (up to 2^53 − 1). This long reads and
 * writes all 64 bits through BigInt; a value beyond the safe range comes out as an unsafe
 * number, which the order schema then rejects (never a silently rounded price).
 */
const safeIntegerLong = (avsc: Pick<typeof Avro, 'types'>): Avro.Type =>
  avsc.types.LongType.__with({
    fromBuffer: (buf: Buffer) => Number(buf.readBigInt64LE()),
    toBuffer: (n: number) => {
      const buf = Buffer.alloc(8);
      buf.writeBigInt64LE(BigInt(n));
      return buf;
    },
    fromJSON: Number,
    toJSON: (n: number) => n,
    isValid: (n: unknown) => Number.isSafeInteger(n),
    compare: (a: number, b: number) => (a === b ? 0 : a < b ? -1 : 1),
  });

let loading: Promise<OrderCodecs> | undefined;
let loaded: OrderCodecs | undefined;

/**
 * Loads `avsc` and `protobufjs` and compiles the order and result schemas, once per
 * container. Imported dynamically: a batch of plain JSON orders never pays for them
 * (they become separate chunks of the Lambda bundle).
 *
 * @example
 * if (eventHoldsSchemaRecords(event)) await loadOrderCodecs();
 */
export const loadOrderCodecs = (): Promise<OrderCodecs> => {
  loading ??= (async () => {
    const [avsc, protobuf] = await Promise.all([
      import('avsc').then(commonJs),
      import('protobufjs').then(commonJs),
    ]);
    const order = protobuf.parse(ORDER_PROTO).root.lookupType(ORDER_PROTO_TYPE);
    const result = protobuf.parse(ORDER_RESULT_PROTO).root.lookupType(ORDER_RESULT_PROTO_TYPE);
    const long = safeIntegerLong(avsc);
    // a fresh registry per schema: named types of one schema must not clash with another's
    const compile = (schema: unknown) =>
      avsc.Type.forSchema(schema as Avro.Schema, { registry: { long } });
    loaded = {
      avro: {
        order: compile(ORDER_AVRO_SCHEMA),
        result: compile(ORDER_RESULT_AVRO_SCHEMA),
        compile,
      },
      protobuf: { order, result, Reader: protobuf.Reader, parse: protobuf.parse },
    };
    return loaded;
  })();
  // a failed load (a missing chunk) is not cached: the next batch tries again
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
};

/** The codecs if {@link loadOrderCodecs} has finished, else `undefined`. */
export const loadedOrderCodecs = (): OrderCodecs | undefined => loaded;
