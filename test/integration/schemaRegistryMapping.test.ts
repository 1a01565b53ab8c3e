import { randomUUID } from 'node:crypto';
import type { GlueClient } from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { parseOnFailureEnvelope } from '../../src/lib/events/onFailureEnvelope.ts';
import type { KafkaEvent, KafkaEventRecord } from '../../src/lib/events/types.ts';
import { glueSchemaVersionLookUp } from '../../src/lib/formats/glueLookUp.ts';
import {
  type DataFormat,
  encodeInFormat,
  frameForGlue,
  loadOrderCodecs,
  type OrderCodecs,
  WriterSchemas,
} from '../../src/lib/formats/index.ts';
import { createProduceOrdersHandler } from '../../src/lib/intake/produceOrders.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import {
  type LocalMappingEvent,
  type LocalMappingHandle,
  readMappings,
  startLocalMapping,
} from '../../src/local/esm/index.ts';
import {
  ensureOrderRegistry,
  ensureSchema,
  glueClient,
  type OrderRegistry,
} from '../../src/local/schemaRegistry/glue.ts';
import { orderFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatRead } from '../support/kcat.ts';
import { fixtureOrder, glueFramedOrder } from '../support/registryRecords.ts';
import { awsEndpoint, kafkaBrokers, uniqueName } from '../support/stackEnv.ts';

// The local event-source mapping with SchemaRegistryConfig set as serverless.yml sets it
// (stage parameters), against the real broker and the Glue registry on moto, in front of
// the real processOrders: every input ends in exactly one place, and the registry's
// failures reach the on-failure topic as AWS envelopes with their reason.

const clients: KafkaClient[] = [];
const newClient = () => {
  const c = new KafkaClient({ clientId: 'sr-mapping-test', brokers: kafkaBrokers().split(',') });
  clients.push(c);
  return c;
};
const running: LocalMappingHandle[] = [];

let glue: GlueClient;
let registry: OrderRegistry;
let legacyVersionId: string;
let codecs: OrderCodecs;

beforeAll(async () => {
  // the mapping's Glue client reads the emulator's endpoint from the environment
  process.env.AWS_ENDPOINT_URL = awsEndpoint();
  glue = glueClient(awsEndpoint());
  registry = await ensureOrderRegistry(glue, uniqueName('orders-registry'));
  legacyVersionId = (
    await ensureSchema(
      glue,
      registry.registryName,
      'order-legacy',
      'AVRO',
      JSON.stringify({ type: 'record', name: 'Legacy', fields: [{ name: 'id', type: 'long' }] }),
      'NONE',
    )
  ).schemaVersionId;
  codecs = await loadOrderCodecs();
});

afterAll(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop()));
  glue?.destroy();
  await Promise.all(clients.map((c) => c.close()));
});

const order = fixtureOrder;
const framed = (format: DataFormat, i: number) => glueFramedOrder(format, i, registry, codecs);

describe.each(['SOURCE', 'JSON'] as const)(
  'the local mapping with a Glue SchemaRegistryConfig, EventRecordFormat %s',
  (form) => {
    it('a mixed batch: orders processed once, registry failures in the on-failure topic with their reason', async () => {
      // Prepare: the mapping as serverless.yml deploys it with the registry, on fresh topics
      const config = isolatedPipelineConfig(`srm-${form.toLowerCase()}`);
      const client = newClient();
      await createPipelineTopics(client, config, { orders: 1 });
      const [fromYml] = readMappings(new URL('../../serverless.yml', import.meta.url).pathname, {
        stage: 'local',
        params: {
          schemaRegistryUri: registry.registryArn,
          schemaRegistryEventRecordFormat: form,
        },
      }).filter((m) => m.functionName === 'processOrders');
      expect(fromYml!.schemaRegistry).toEqual({
        uri: registry.registryArn,
        eventRecordFormat: form,
      });
      const mapping = {
        ...fromYml!,
        topic: config.topics.orders,
        consumerGroupId: uniqueName('srm-group'),
        onFailureDestination: config.topics.dlq,
      };
      const planned: Array<{ key: string; value: Buffer; ends: string }> = [
        { key: 'avro', value: framed('AVRO', 0), ends: 'result' },
        {
          key: 'unknown-schema',
          value: frameForGlue(
            'AVRO',
            encodeInFormat('AVRO', 'order', order(1), codecs),
            randomUUID(),
          ),
          ends: 'SCHEMA_NOT_FOUND',
        },
        { key: 'protobuf', value: framed('PROTOBUF', 2), ends: 'result' },
        { key: 'json-schema', value: framed('JSON', 3), ends: 'result' },
        { key: 'plain-json', value: Buffer.from(JSON.stringify(orderFixture(4))), ends: 'result' },
        {
          key: 'legacy-schema',
          value: frameForGlue('AVRO', Buffer.from([0x0a]), legacyVersionId),
          ends: form === 'SOURCE' ? 'UNDECODABLE_VALUE' : 'SCHEMA_VIOLATION',
        },
        {
          // last in the partition: the mapping must still commit past it
          key: 'corrupt-avro',
          value: frameForGlue(
            'AVRO',
            Buffer.from([0x02, 0xff, 0xff, 0xff]),
            registry.versions.order.AVRO.schemaVersionId,
          ),
          ends: 'DESERIALIZATION_ERROR',
        },
      ];
      await client.writeIdempotent(
        planned.map((p) => ({
          topic: config.topics.orders,
          partition: 0,
          key: p.key,
          value: p.value,
        })),
      );
      const processOrders = createProcessOrdersHandler({ config, kafka: async () => newClient() });
      const delivered: KafkaEventRecord[] = [];
      const events: LocalMappingEvent[] = [];

      // Act
      const handle = await startLocalMapping({
        mapping,
        handler: (event: KafkaEvent) => {
          delivered.push(...Object.values(event.records).flat());
          return processOrders(event);
        },
        brokers: kafkaBrokers(),
        retryBackoff: { initialMs: 40, maxMs: 400 },
        onEvent: (e) => events.push(e),
      });
      running.push(handle);
      await handle.idle({ timeoutMs: 30_000 });

      // Assess: the function saw the registry's records with their metadata, never a failure
      const byOffset = (offset: number) => planned[offset]!;
      expect(delivered.map((r) => byOffset(r.offset).key)).toEqual([
        'avro',
        'protobuf',
        'json-schema',
        'plain-json',
        'legacy-schema',
      ]);
      expect(delivered.map((r) => r.valueSchemaMetadata?.dataFormat)).toEqual([
        'AVRO',
        'PROTOBUF',
        'JSON',
        undefined,
        'AVRO',
      ]);
      expect(delivered[0]!.valueSchemaMetadata!.schemaId).toBe(
        registry.versions.order.AVRO.schemaVersionId,
      );
      if (form === 'JSON')
        expect(JSON.parse(Buffer.from(delivered[0]!.value!, 'base64').toString())).toMatchObject({
          orderId: order(0).orderId,
        });
      // read back with kcat (read_committed): results, dead letters, envelopes
      const processed = await kcatRead(config.topics.processed);
      const dlq = await kcatRead(config.topics.dlq);
      const placeOf = new Map<string, string[]>();
      const put = (key: string, place: string) =>
        placeOf.set(key, [...(placeOf.get(key) ?? []), place]);
      for (const r of processed) {
        const result = JSON.parse(r.value!) as { source: { offset: number } };
        put(byOffset(result.source.offset).key, 'result');
      }
      const envelopes = dlq.filter((r) => r.header[DLQ_HEADERS.source] === undefined);
      for (const r of dlq)
        if (r.header[DLQ_HEADERS.source] === 'handler')
          put(
            byOffset(Number(r.header[DLQ_HEADERS.originalOffset])).key,
            r.header[DLQ_HEADERS.errorCode]!,
          );
      for (const r of envelopes) {
        const envelope = parseOnFailureEnvelope(Buffer.from(r.value!));
        expect(envelope, r.value!).toBeDefined();
        expect(envelope!.approximateInvokeCount).toBe(0);
        const original = byOffset(Number(envelope!.original.offset));
        // the original record as read, Glue framing included, keyed as it was
        expect(envelope!.original.value!.equals(original.value)).toBe(true);
        expect(r.key).toBe(original.key);
        put(original.key, envelope!.condition);
      }
      for (const p of planned) expect(placeOf.get(p.key), p.key).toEqual([p.ends]);
      expect(handle.stats.onFailureRecords).toBe(2);
      expect(events.filter((e) => e.type === 'on-failure').map((e) => e.condition)).toEqual([
        'SCHEMA_NOT_FOUND',
        'DESERIALIZATION_ERROR',
      ]);

      // a second mapping of the same group has nothing left: every offset was committed
      await handle.stop();
      const again: KafkaEventRecord[] = [];
      const second = await startLocalMapping({
        mapping,
        handler: (event: KafkaEvent) => {
          again.push(...Object.values(event.records).flat());
          return { batchItemFailures: [] };
        },
        brokers: kafkaBrokers(),
      });
      running.push(second);
      await second.idle({ timeoutMs: 30_000 });
      expect(again).toEqual([]);
      expect(second.stats.onFailureRecords).toBe(0);
    });
  },
);

describe("processOrders reads a registry record with its producer's schema (Glue GetSchemaVersion)", () => {
  /** A newer order schema: one more field first, which the shipped schema lacks. */
  const orderV2 = async () => {
    const { ORDER_AVRO_SCHEMA } = await import('../../src/lib/formats/definitions.ts');
    return {
      ...ORDER_AVRO_SCHEMA,
      fields: [{ name: 'channel', type: 'string' }, ...ORDER_AVRO_SCHEMA.fields],
    };
  };

  it('an order of a newer Avro schema version through the mapping, an unknown id, a registry down', async () => {
    // Prepare
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    process.env.AWS_REGION ??= 'us-east-1';
    const v2 = await orderV2();
    const v2Id = (
      await ensureSchema(
        glue,
        registry.registryName,
        'order-v2',
        'AVRO',
        JSON.stringify(v2),
        'NONE',
      )
    ).schemaVersionId;
    const config = isolatedPipelineConfig('srm-writer');
    const client = newClient();
    // partitions 8 and 9 for the direct invocations below
    await createPipelineTopics(client, config, { orders: 10 });
    const [fromYml] = readMappings(new URL('../../serverless.yml', import.meta.url).pathname, {
      stage: 'local',
      params: { schemaRegistryUri: registry.registryArn },
    }).filter((m) => m.functionName === 'processOrders');
    const mapping = {
      ...fromYml!,
      topic: config.topics.orders,
      consumerGroupId: uniqueName('srm-writer'),
      onFailureDestination: config.topics.dlq,
    };
    const written = codecs.avro.compile(v2).toBuffer({ channel: 'web', ...order(8) });
    await client.writeIdempotent([
      {
        topic: config.topics.orders,
        partition: 0,
        key: 'v2',
        value: frameForGlue('AVRO', written, v2Id),
      },
    ]);
    const lookUp = glueSchemaVersionLookUp({ AWS_ENDPOINT_URL: awsEndpoint() });
    const processOrders = createProcessOrdersHandler({
      config,
      kafka: async () => newClient(),
      writerSchemas: new WriterSchemas(lookUp),
    });
    // events as the mapping hands them over, on partitions of their own (own checkpoints)
    const event = (schemaId: string, partition: number): KafkaEvent => ({
      eventSource: 'aws:kafka',
      eventSourceArn: 'arn:aws:kafka:us-east-1:123456789012:cluster/local/x-1',
      bootstrapServers: kafkaBrokers(),
      records: {
        [`${config.topics.orders}-${partition}`]: [
          {
            topic: config.topics.orders,
            partition,
            offset: 0,
            timestamp: Date.now(),
            timestampType: 'CREATE_TIME',
            key: Buffer.from('direct').toString('base64'),
            value: written.toString('base64'),
            headers: [],
            valueSchemaMetadata: { dataFormat: 'AVRO', schemaId },
          },
        ],
      },
    });

    // Act: through the local mapping (SOURCE form), then two direct invocations
    const handle = await startLocalMapping({
      mapping,
      handler: (e: KafkaEvent) => processOrders(e),
      brokers: kafkaBrokers(),
    });
    running.push(handle);
    await handle.idle({ timeoutMs: 30_000 });
    const unknown = await processOrders(event(randomUUID(), 9));
    const down = await createProcessOrdersHandler({
      config,
      kafka: async () => newClient(),
      writerSchemas: new WriterSchemas(
        glueSchemaVersionLookUp({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }),
      ),
    })(event(v2Id, 8), { getRemainingTimeInMillis: () => 10_000 });

    // Assess (kcat, read_committed)
    const processed = await kcatRead(config.topics.processed);
    expect(processed.map((r) => JSON.parse(r.value!).orderId)).toEqual([order(8).orderId]);
    expect(unknown.batchItemFailures).toEqual([]);
    const dlq = await kcatRead(config.topics.dlq);
    expect(dlq.map((r) => [r.key, r.header[DLQ_HEADERS.errorCode]])).toEqual([
      ['direct', 'SCHEMA_NOT_FOUND'],
    ]);
    // an unreachable registry stops the partition at the record: retried, never dead-lettered
    expect(down.batchItemFailures).toEqual([
      { itemIdentifier: { partition: `${config.topics.orders}-8`, offset: 0 } },
    ]);
  });
});

describe('produceOrders in a registry format (ORDER_FORMAT), end to end', () => {
  it('Protobuf orders from produceOrders go through the mapping and processOrders in JSON form', async () => {
    // Prepare
    const config = isolatedPipelineConfig('srm-produce');
    const client = newClient();
    await createPipelineTopics(client, config, { orders: 1 });
    const produceOrders = createProduceOrdersHandler({
      config,
      kafka: async () => newClient(),
      orderFormat: {
        format: 'PROTOBUF',
        schemaVersionId: registry.versions.order.PROTOBUF.schemaVersionId,
      },
    });
    const [fromYml] = readMappings(new URL('../../serverless.yml', import.meta.url).pathname, {
      stage: 'local',
      params: { schemaRegistryUri: registry.registryArn, schemaRegistryEventRecordFormat: 'JSON' },
    }).filter((m) => m.functionName === 'processOrders');
    const mapping = {
      ...fromYml!,
      topic: config.topics.orders,
      consumerGroupId: uniqueName('srm-produce'),
      onFailureDestination: config.topics.dlq,
    };
    const processOrders = createProcessOrdersHandler({ config, kafka: async () => newClient() });
    const delivered: KafkaEventRecord[] = [];

    // Act
    const sent = await produceOrders({
      idempotencyKey: uniqueName('k'),
      orders: [orderFixture(20), orderFixture(21)],
    });
    const handle = await startLocalMapping({
      mapping,
      handler: (event: KafkaEvent) => {
        delivered.push(...Object.values(event.records).flat());
        return processOrders(event);
      },
      brokers: kafkaBrokers(),
    });
    running.push(handle);
    await handle.idle({ timeoutMs: 30_000 });

    // Assess: kcat sees the orders (read_committed) and their results
    const ids = [orderFixture(20).orderId, orderFixture(21).orderId];
    expect(sent.orders.map((o) => o.orderId)).toEqual(ids);
    expect((await kcatRead(config.topics.orders)).map((r) => r.key)).toEqual(ids);
    expect(delivered.map((r) => r.valueSchemaMetadata)).toEqual(
      ids.map(() => ({
        dataFormat: 'PROTOBUF',
        schemaId: registry.versions.order.PROTOBUF.schemaVersionId,
      })),
    );
    const results = await kcatRead(config.topics.processed);
    expect(results.map((r) => JSON.parse(r.value!).orderId).sort()).toEqual(ids);
    expect(await kcatRead(config.topics.dlq)).toEqual([]);
  });
});
