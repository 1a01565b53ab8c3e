/**
 * `hotPathAvro`: the `hotPath` event with every order in Avro (`SOURCE` form, as a
 * mapping with a Glue schema registry hands it on, `valueSchemaMetadata` set), through
 * processOrders, beside the same orders in JSON in the same run (issue 15). The two
 * events hold the same orders; the Avro one is smaller, the decoding is avsc's.
 */
import { readPipelineConfig } from '../src/lib/config.ts';
import type { DeliveryKafka } from '../src/lib/delivery/processBatch.ts';
import { createProcessOrdersHandler } from '../src/lib/delivery/processOrders.ts';
import type { MSKEvent } from '../src/lib/events/types.ts';
import { encodeInFormat, loadOrderCodecs } from '../src/lib/formats/index.ts';
import { parseOrder } from '../src/lib/orders/schema.ts';
import { hotPathWorkload } from './hotPath.ts';
import { interleave, median, pairedRatio, round } from './stats.ts';

export interface HotPathAvroResult {
  avroRecordsPerSec: number;
  jsonRecordsPerSec: number;
  /** Median per-round ratio of Avro's rate to JSON's (each round runs both back to back). */
  ratio: number;
  ratioRange: { low: number; high: number };
  avroMs: number;
  jsonMs: number;
  avroEventBytes: number;
  jsonEventBytes: number;
  records: number;
  runs: number;
}

const SCHEMA_ID = '5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10';

const countingSink = (): { kafka: DeliveryKafka; results: () => number } => {
  let results = 0;
  return {
    results: () => results,
    kafka: {
      transactionalProducer: () => ({
        producer: {
          usable: true,
          init: async () => {},
          write: async (messages) => {
            results += messages.length;
          },
        },
        fresh: true,
      }),
      committedCheckpoints: async () => new Map(),
    },
  };
};

/** The hot-path event with each value re-encoded in Avro and marked with its schema metadata. */
const toAvroEvent = async (event: MSKEvent): Promise<MSKEvent> => {
  const codecs = await loadOrderCodecs();
  const records: MSKEvent['records'] = {};
  for (const [key, list] of Object.entries(event.records))
    records[key] = list.map((r) => ({
      ...r,
      value: encodeInFormat(
        'AVRO',
        'order',
        parseOrder(Buffer.from(r.value!, 'base64')),
        codecs,
      ).toString('base64'),
      valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: SCHEMA_ID },
    }));
  return { ...event, records };
};

/**
 * Measures `hotPathAvro`: the Avro and the JSON event through the same handler,
 * interleaved, a full GC between samples; medians after warm-up.
 */
export const measureHotPathAvro = async (options: {
  quick: boolean;
  log: (line: string) => void;
}): Promise<HotPathAvroResult> => {
  const runs = options.quick ? 5 : 15;
  const warmup = options.quick ? 2 : 3;
  const json = await hotPathWorkload(options);
  const avroEvent = await toAvroEvent(json.event);
  const sink = countingSink();
  const handler = createProcessOrdersHandler({
    config: readPipelineConfig({}),
    kafka: async () => sink.kafka,
  });
  const avro = async () => {
    const response = await handler(avroEvent);
    if (response.batchItemFailures.length > 0) throw new Error('hotPathAvro: a partition failed');
  };
  // every Avro order must come out as a result (plus one checkpoint per partition)
  await avro();
  if (sink.results() !== json.records + json.partitions)
    throw new Error(`hotPathAvro: ${sink.results()} messages for ${json.records} Avro orders`);
  const avroEventBytes = Buffer.byteLength(JSON.stringify(avroEvent));
  options.log(
    `hotPathAvro: ${json.records} records, Avro event ${(avroEventBytes / 1e6).toFixed(2)} MB, JSON ${(json.eventBytes / 1e6).toFixed(2)} MB, ${runs} runs`,
  );
  const samples = await interleave({ avro, json: json.figure }, { runs, warmup, gcBetween: true });
  const avroMs = median(samples.avro);
  const jsonMs = median(samples.json);
  const paired = pairedRatio(samples.avro, samples.json);
  return {
    avroRecordsPerSec: Math.round((json.records / avroMs) * 1000),
    jsonRecordsPerSec: Math.round((json.records / jsonMs) * 1000),
    ratio: round(paired.median),
    ratioRange: { low: paired.low, high: paired.high },
    avroMs: round(avroMs),
    jsonMs: round(jsonMs),
    avroEventBytes,
    jsonEventBytes: json.eventBytes,
    records: json.records,
    runs,
  };
};
