/**
 * Schema version ids looked up in the registry by definition (issue 15, item 3): on the
 * real broker and the moto Glue registry, produceOrders writes Avro orders framed with the
 * id the registry holds for `order-avro`, and processOrders writes Avro results framed
 * with the id of `result-avro`, neither configured. kcat reads the framing back.
 */
import { GetSchemaVersionCommand, type GlueClient } from '@aws-sdk/client-glue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import type { KafkaEventRecord, MSKEvent } from '../../src/lib/events/types.ts';
import {
  bareOfSourcePayload,
  decodeInFormat,
  loadOrderCodecs,
  type OrderCodecs,
  readOrderFormat,
  unframeGlue,
} from '../../src/lib/formats/index.ts';
import { readResultFormats } from '../../src/lib/formats/resultFormat.ts';
import { createProduceOrdersHandler } from '../../src/lib/intake/produceOrders.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { applySchemaRegistry } from '../../src/local/esm/schemaRegistry.ts';
import {
  ensureOrderRegistry,
  ensureSchema,
  glueClient,
  lookUpSchemaVersion,
  type OrderRegistry,
  schemaDefinition,
} from '../../src/local/schemaRegistry/glue.ts';
import { orderFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatReadValues } from '../support/kcat.ts';
import { readBack } from '../support/readBack.ts';
import { awsEndpoint, kafkaBrokers, uniqueName } from '../support/stackEnv.ts';

const READ = { groupId: 'registry-ids-test' };

const clients: KafkaClient[] = [];
const newClient = () => {
  const c = new KafkaClient({ clientId: 'registry-ids-test', brokers: kafkaBrokers().split(',') });
  clients.push(c);
  return c;
};

let glue: GlueClient;
let registry: OrderRegistry;
let codecs: OrderCodecs;

beforeAll(async () => {
  glue = glueClient(awsEndpoint());
  registry = await ensureOrderRegistry(glue, uniqueName('orders-ids'));
  codecs = await loadOrderCodecs();
});

afterAll(async () => {
  glue?.destroy();
  await Promise.all(clients.map((c) => c.close()));
});

/** The handlers' environment: the stack's endpoint, and the registry by its ARN. */
const env = (registryArn: string, own: NodeJS.ProcessEnv) => ({
  ...process.env,
  AWS_ENDPOINT_URL: awsEndpoint(),
  SCHEMA_REGISTRY_URI: registryArn,
  ...own,
});

/** Every record of a topic as the broker holds it (all partitions). */
const eventOf = (records: KafkaEventRecord[]): MSKEvent => {
  const byPartition: Record<string, KafkaEventRecord[]> = {};
  for (const r of records) {
    const key = `${r.topic}-${r.partition}`;
    byPartition[key] = [...(byPartition[key] ?? []), r];
  }
  return {
    eventSource: 'aws:kafka',
    eventSourceArn:
      'arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1',
    bootstrapServers: kafkaBrokers(),
    records: byPartition,
  };
};

describe('schema version ids from the Glue registry (moto), on the real broker', () => {
  it('produceOrders emits Avro with the looked-up order id; processOrders writes Avro results with the looked-up result id', async () => {
    // Prepare: no id configured anywhere, only the registry's ARN
    const config = isolatedPipelineConfig('sr-ids');
    await createPipelineTopics(newClient(), config);
    const orderFormat = readOrderFormat(env(registry.registryArn, { ORDER_FORMAT: 'AVRO' }))!;
    const resultFormats = readResultFormats(
      env(registry.registryArn, { RESULT_SCHEMA_VERSIONS: 'AVRO' }),
    );
    expect(orderFormat.schemaVersionId).toBeUndefined();
    expect(resultFormats?.versions).toEqual({});
    const produce = createProduceOrdersHandler({
      config,
      kafka: async () => newClient(),
      orderFormat,
    });
    const orders = [orderFixture(1), orderFixture(2), orderFixture(3)];

    // Act: produce (two requests, one id), then one processOrders batch
    // with what the mapping's registry step delivers in SOURCE form
    await produce(
      { idempotencyKey: 'ids-1', orders: orders.slice(0, 2) },
      {
        getRemainingTimeInMillis: () => 20_000,
      },
    );
    await produce({ idempotencyKey: 'ids-2', orders: orders.slice(2) });
    const delivered: KafkaEventRecord[] = [];
    for (const record of await readBack(newClient(), config.topics.orders, {
      ...READ,
      atLeast: orders.length,
    })) {
      const outcome = await applySchemaRegistry(record, {
        eventRecordFormat: 'SOURCE',
        lookUp: (id) => lookUpSchemaVersion(glue, id),
      });
      expect(outcome.ok).toBe(true);
      if (outcome.ok) delivered.push(outcome.record);
    }
    const processOrders = createProcessOrdersHandler({
      config,
      kafka: async () => newClient(),
      ...(resultFormats ? { resultFormats } : {}),
    });
    const response = await processOrders(eventOf(delivered), {
      getRemainingTimeInMillis: () => 60_000,
    });

    // Assess: the framing kcat sees carries the registry's ids
    expect(response.batchItemFailures).toEqual([]);
    const orderValues = await kcatReadValues(config.topics.orders);
    expect(orderValues).toHaveLength(3);
    for (const value of orderValues)
      expect(unframeGlue(value)?.schemaVersionId).toBe(
        registry.versions.order.AVRO.schemaVersionId,
      );
    const resultValues = await kcatReadValues(config.topics.processed);
    expect(resultValues).toHaveLength(3);
    const orderIds: string[] = [];
    for (const value of resultValues) {
      const framed = unframeGlue(value)!;
      expect(framed.schemaVersionId).toBe(registry.versions.result.AVRO.schemaVersionId);
      // the id names the registry's result-avro version, and the bytes decode with it
      expect((await lookUpSchemaVersion(glue, framed.schemaVersionId))?.definition).toBe(
        schemaDefinition('result', 'AVRO'),
      );
      const result = decodeInFormat(
        'AVRO',
        'result',
        bareOfSourcePayload('AVRO', framed.payload, codecs),
        codecs,
      ) as { orderId: string; status: string };
      expect(result.status).toBe('accepted');
      orderIds.push(result.orderId);
    }
    expect(orderIds.sort()).toEqual(orders.map((o) => o.orderId).sort());
    expect(resultFormats?.versions).toEqual({
      AVRO: registry.versions.result.AVRO.schemaVersionId,
    });
  });

  it('a registry without the shipped definitions: CONFIGURATION naming the schema, nothing written', async () => {
    // Prepare: a registry holding order-avro only, and result-avro with another text
    const config = isolatedPipelineConfig('sr-ids-missing');
    await createPipelineTopics(newClient(), config);
    const other = await ensureOrderRegistryWithout(uniqueName('orders-ids-other'));
    const produce = createProduceOrdersHandler({
      config,
      kafka: async () => newClient(),
      orderFormat: readOrderFormat(env(other.arn, { ORDER_FORMAT: 'PROTOBUF' }))!,
    });
    const orderOnly = createProduceOrdersHandler({
      config,
      kafka: async () => newClient(),
      orderFormat: readOrderFormat(env(other.arn, { ORDER_FORMAT: 'AVRO' }))!,
    });
    const processOrders = createProcessOrdersHandler({
      config,
      kafka: async () => newClient(),
      resultFormats: readResultFormats(env(other.arn, { RESULT_SCHEMA_VERSIONS: 'AVRO' }))!,
    });

    // Act
    const produced = produce({ idempotencyKey: 'missing-1', orders: [orderFixture(1)] });
    await expect(produced).rejects.toMatchObject({ code: 'CONFIGURATION' });
    await orderOnly({ idempotencyKey: 'missing-2', orders: [orderFixture(2)] });
    const delivered: KafkaEventRecord[] = [];
    for (const record of await readBack(newClient(), config.topics.orders, READ)) {
      const outcome = await applySchemaRegistry(record, {
        eventRecordFormat: 'SOURCE',
        lookUp: (id) => lookUpSchemaVersion(glue, id),
      });
      if (outcome.ok) delivered.push(outcome.record);
    }
    const processed = processOrders(eventOf(delivered), { getRemainingTimeInMillis: () => 60_000 });

    // Assess: the whole request / batch fails, before anything is written
    await expect(produced).rejects.toThrow(/schema order-protobuf has no version/);
    expect(delivered).toHaveLength(1);
    await expect(processed).rejects.toMatchObject({ code: 'CONFIGURATION' });
    await expect(processed).rejects.toThrow(/schema result-avro has no version/);
    expect(await kcatReadValues(config.topics.orders)).toHaveLength(1);
    expect(await kcatReadValues(config.topics.processed)).toEqual([]);
    expect(await kcatReadValues(config.topics.dlq)).toEqual([]);
  });
});

/** A registry holding `order-avro` as shipped and `result-avro` with another definition. */
const ensureOrderRegistryWithout = async (name: string) => {
  const order = await ensureSchema(
    glue,
    name,
    'order-avro',
    'AVRO',
    schemaDefinition('order', 'AVRO'),
  );
  // the same schema, compacted: Glue matches definitions by their text
  const compact = JSON.stringify(JSON.parse(schemaDefinition('result', 'AVRO')));
  await ensureSchema(glue, name, 'result-avro', 'AVRO', compact);
  const arn = (
    await glue.send(new GetSchemaVersionCommand({ SchemaVersionId: order.schemaVersionId }))
  ).SchemaArn!.replace(/:schema\/([^/]+)\/.*$/, ':registry/$1');
  return { arn };
};
