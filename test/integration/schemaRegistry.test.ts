import { randomUUID } from 'node:crypto';
import type { GlueClient } from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../src/lib/config.ts';
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import type { KafkaEventRecord, MSKEvent } from '../../src/lib/events/types.ts';
import {
  bareOfSourcePayload,
  type DataFormat,
  decodeInFormat,
  type EventRecordFormat,
  encodeInFormat,
  frameForGlue,
  loadOrderCodecs,
  type OrderCodecs,
  unframeGlue,
} from '../../src/lib/formats/index.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import {
  applySchemaRegistry,
  type SchemaRegistryFailureReason,
} from '../../src/local/esm/schemaRegistry.ts';
import {
  ensureOrderRegistry,
  ensureSchema,
  glueClient,
  lookUpSchemaVersion,
  type OrderRegistry,
} from '../../src/local/schemaRegistry/glue.ts';
import { orderFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatRead } from '../support/kcat.ts';
import { readBack } from '../support/readBack.ts';
import { fixtureOrder, glueFramedOrder } from '../support/registryRecords.ts';
import { awsEndpoint, kafkaBrokers, uniqueName } from '../support/stackEnv.ts';

const READ = { groupId: 'schema-registry-test' };

const LEGACY_AVRO = JSON.stringify({
  type: 'record',
  name: 'LegacyOrder',
  fields: [{ name: 'id', type: 'long' }],
});

const clients: KafkaClient[] = [];
const newClient = () => {
  const c = new KafkaClient({
    clientId: 'schema-registry-test',
    brokers: kafkaBrokers().split(','),
  });
  clients.push(c);
  return c;
};

let glue: GlueClient;
let registry: OrderRegistry;
let legacyVersionId: string;
let codecs: OrderCodecs;

beforeAll(async () => {
  glue = glueClient(awsEndpoint());
  registry = await ensureOrderRegistry(glue, uniqueName('orders-registry'));
  legacyVersionId = (
    await ensureSchema(glue, registry.registryName, 'order-legacy', 'AVRO', LEGACY_AVRO, 'NONE')
  ).schemaVersionId;
  codecs = await loadOrderCodecs();
});

afterAll(async () => {
  glue?.destroy();
  await Promise.all(clients.map((c) => c.close()));
});

/** What each input record is, and where it must end. */
interface Planned {
  key: string;
  value: Buffer;
  expect:
    | { result: string }
    | { deadLetter: string }
    | { mappingFailure: SchemaRegistryFailureReason };
}

const order = fixtureOrder;
const glueFramed = (format: DataFormat, i: number) => glueFramedOrder(format, i, registry, codecs);

const plan = (form: EventRecordFormat): Planned[] => [
  { key: 'avro', value: glueFramed('AVRO', 0), expect: { result: 'ord-000000' } },
  { key: 'protobuf', value: glueFramed('PROTOBUF', 1), expect: { result: 'ord-000001' } },
  { key: 'json-schema', value: glueFramed('JSON', 2), expect: { result: 'ord-000002' } },
  {
    key: 'plain-json',
    value: Buffer.from(JSON.stringify(orderFixture(3))),
    expect: { result: 'ord-000003' },
  },
  { key: 'avro-2', value: glueFramed('AVRO', 4), expect: { result: 'ord-000004' } },
  {
    key: 'unknown-schema',
    value: frameForGlue('AVRO', encodeInFormat('AVRO', 'order', order(5), codecs), randomUUID()),
    expect: { mappingFailure: 'SCHEMA_NOT_FOUND' },
  },
  {
    key: 'corrupt-avro',
    value: frameForGlue(
      'AVRO',
      Buffer.from([0x02, 0xff, 0xff, 0xff]),
      registry.versions.order.AVRO.schemaVersionId,
    ),
    expect: { mappingFailure: 'DESERIALIZATION_ERROR' },
  },
  {
    // valid under the schema it was registered with, so the mapping delivers it, but it
    // is not an order: the handler dead-letters it
    key: 'legacy-schema',
    value: frameForGlue('AVRO', Buffer.from([0x0a]), legacyVersionId),
    expect: { deadLetter: form === 'SOURCE' ? 'UNDECODABLE_VALUE' : 'SCHEMA_VIOLATION' },
  },
];

/** Every record of the topic (partition 0 unless `all`), raw bytes, read from the broker. */
describe.each(['SOURCE', 'JSON'] as const)(
  'a Glue schema registry on moto, the real broker, EventRecordFormat %s',
  (form) => {
    let config: PipelineConfig;

    beforeAll(async () => {
      config = isolatedPipelineConfig(`sr-${form.toLowerCase()}`);
      await createPipelineTopics(newClient(), config);
    });

    it('Avro, Protobuf, JSON Schema and plain JSON in one batch: each order once, failures with their reasons, nothing lost', async () => {
      // Prepare: the records go through the broker
      const planned = plan(form);
      const client = newClient();
      await client.writeIdempotent(
        planned.map((p) => ({
          topic: config.topics.orders,
          partition: 0,
          key: p.key,
          value: p.value,
        })),
      );
      const stored = await readBack(client, config.topics.orders, {
        ...READ,
        partition: 0,
        atLeast: planned.length,
      });
      expect(stored.map((r) => String(r.key))).toEqual(planned.map((p) => p.key));

      // Act: the mapping's registry step, then one invocation with what it delivers
      const delivered: KafkaEventRecord[] = [];
      const failed = new Map<string, SchemaRegistryFailureReason>();
      for (const record of stored) {
        const outcome = await applySchemaRegistry(record, {
          eventRecordFormat: form,
          lookUp: (id) => lookUpSchemaVersion(glue, id),
        });
        if (outcome.ok) delivered.push(outcome.record);
        else failed.set(String(record.key), outcome.reason);
      }
      const event: MSKEvent = {
        eventSource: 'aws:kafka',
        eventSourceArn:
          'arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1',
        bootstrapServers: kafkaBrokers(),
        records: { [`${config.topics.orders}-0`]: delivered },
      };
      const handler = createProcessOrdersHandler({ config, kafka: async () => newClient() });
      const response = await handler(event);

      // Assess: read back with kcat, read_committed
      expect(response.batchItemFailures).toEqual([]);
      const registryRecords = delivered.filter((r) => r.valueSchemaMetadata);
      expect(registryRecords.map((r) => r.valueSchemaMetadata!.dataFormat)).toEqual([
        'AVRO',
        'PROTOBUF',
        'JSON',
        'AVRO',
        'AVRO',
      ]);
      expect(registryRecords[0]!.valueSchemaMetadata!.schemaId).toBe(
        registry.versions.order.AVRO.schemaVersionId,
      );
      const processed = await kcatRead(config.topics.processed);
      const dlq = await kcatRead(config.topics.dlq);
      const resultOf = new Map(
        processed.map((r) => {
          const result = JSON.parse(r.value!) as { orderId: string; source: { offset: number } };
          return [String(stored[result.source.offset]!.key), result.orderId];
        }),
      );
      const deadOf = new Map(
        dlq.map((r) => [
          String(stored[Number(r.header[DLQ_HEADERS.originalOffset])]!.key),
          r.header[DLQ_HEADERS.errorCode],
        ]),
      );
      for (const p of planned) {
        // exactly one place for each input
        const places = [resultOf.has(p.key), deadOf.has(p.key), failed.has(p.key)];
        expect(places.filter(Boolean), p.key).toHaveLength(1);
        if ('result' in p.expect) expect(resultOf.get(p.key), p.key).toBe(p.expect.result);
        if ('deadLetter' in p.expect) expect(deadOf.get(p.key), p.key).toBe(p.expect.deadLetter);
        if ('mappingFailure' in p.expect)
          expect(failed.get(p.key), p.key).toBe(p.expect.mappingFailure);
      }
      expect(processed).toHaveLength(5);
      expect(dlq).toHaveLength(1);
      // the dead letter keeps the original bytes and carries the usual headers
      const dead = dlq[0]!;
      for (const name of [
        DLQ_HEADERS.originalTopic,
        DLQ_HEADERS.originalPartition,
        DLQ_HEADERS.originalOffset,
        DLQ_HEADERS.errorMessage,
        DLQ_HEADERS.attempts,
        DLQ_HEADERS.source,
      ])
        expect(dead.header[name], name).toBeDefined();
      expect(dead.header[DLQ_HEADERS.source]).toBe('handler');
    });
  },
);

describe("results in the order's format (RESULT_SCHEMA_VERSIONS)", () => {
  it("writes the result of an Avro or Protobuf order in that format with the registry's result schema, JSON for JSON", async () => {
    // Prepare
    const config = isolatedPipelineConfig('sr-results');
    const client = newClient();
    await createPipelineTopics(client, config);
    const inputs = [
      { key: 'avro', value: glueFramed('AVRO', 0) },
      { key: 'protobuf', value: glueFramed('PROTOBUF', 1) },
      { key: 'plain-json', value: Buffer.from(JSON.stringify(orderFixture(3))) },
    ];
    await client.writeIdempotent(
      inputs.map((p) => ({
        topic: config.topics.orders,
        partition: 0,
        key: p.key,
        value: p.value,
      })),
    );
    const delivered: KafkaEventRecord[] = [];
    for (const record of await readBack(client, config.topics.orders, {
      ...READ,
      partition: 0,
      atLeast: inputs.length,
    })) {
      const outcome = await applySchemaRegistry(record, {
        eventRecordFormat: 'SOURCE',
        lookUp: (id) => lookUpSchemaVersion(glue, id),
      });
      if (outcome.ok) delivered.push(outcome.record);
    }
    const handler = createProcessOrdersHandler({
      config,
      kafka: async () => newClient(),
      resultFormats: {
        versions: {
          AVRO: registry.versions.result.AVRO.schemaVersionId,
          PROTOBUF: registry.versions.result.PROTOBUF.schemaVersionId,
        },
      },
    });

    // Act
    const response = await handler({
      eventSource: 'aws:kafka',
      eventSourceArn:
        'arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1',
      bootstrapServers: kafkaBrokers(),
      records: { [`${config.topics.orders}-0`]: delivered },
    });

    // Assess: each result read raw from the broker, its schema looked up in the registry
    expect(response.batchItemFailures).toEqual([]);
    const byOrder = new Map<string, string>();
    for (const r of await readBack(client, config.topics.processed, {
      ...READ,
      atLeast: inputs.length,
    })) {
      const framed = unframeGlue(r.value!);
      if (!framed) {
        byOrder.set(JSON.parse(r.value!.toString()).orderId, 'JSON');
        continue;
      }
      const version = await lookUpSchemaVersion(glue, framed.schemaVersionId);
      const format = version!.dataFormat as DataFormat;
      expect(framed.schemaVersionId).toBe(registry.versions.result[format].schemaVersionId);
      const result = decodeInFormat(
        format,
        'result',
        bareOfSourcePayload(format, framed.payload, codecs),
        codecs,
      ) as { orderId: string; status: string };
      expect(result.status).toBe('accepted');
      byOrder.set(result.orderId, format);
    }
    expect(Object.fromEntries(byOrder)).toEqual({
      'ord-000000': 'AVRO',
      'ord-000001': 'PROTOBUF',
      'ord-000003': 'JSON',
    });
  });
});
