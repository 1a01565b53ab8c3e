import { randomUUID } from 'node:crypto';
import type { GlueClient } from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { parseOnFailureEnvelope } from '../../src/lib/events/onFailureEnvelope.ts';
import type { KafkaEvent, KafkaEventRecord } from '../../src/lib/events/types.ts';
import {
  type DataFormat,
  encodeInFormat,
  frameForGlue,
  loadOrderCodecs,
  type OrderCodecs,
} from '../../src/lib/formats/index.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { orderSchema } from '../../src/lib/orders/schema.ts';
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

const order = (i: number) => orderSchema.parse(orderFixture(i));
const framed = (format: DataFormat, i: number) =>
  frameForGlue(
    format,
    encodeInFormat(format, 'order', order(i), codecs),
    registry.versions.order[format].schemaVersionId,
  );

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
