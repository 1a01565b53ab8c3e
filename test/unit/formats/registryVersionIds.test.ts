import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../../src/lib/config.ts';
import { ConfigurationError, RetriableError } from '../../../src/lib/errors.ts';
import { glueRegistryName } from '../../../src/lib/formats/glueLookUp.ts';
import {
  type DataFormat,
  loadOrderCodecs,
  type OrderCodecs,
  parseOrderRecordValue,
  RegistryVersionIds,
  readOrderFormat,
  type SchemaIdLookUp,
  unframeGlue,
} from '../../../src/lib/formats/index.ts';
import {
  registryDefinition,
  registrySchemaName,
} from '../../../src/lib/formats/registryDefinitions.ts';
import {
  prepareResultFormats,
  readResultFormats,
  resultValue,
} from '../../../src/lib/formats/resultFormat.ts';
import { createProduceOrdersHandler } from '../../../src/lib/intake/produceOrders.ts';
import { evaluateOrder, orderSchema } from '../../../src/lib/orders/index.ts';
import { schemaDefinition, schemaName } from '../../../src/local/schemaRegistry/glue.ts';
import { orderFixture } from '../../support/fixtures.ts';
import { recordingKafka as fakeKafka } from '../intake/recordingKafka.ts';

const REGISTRY = 'arn:aws:glue:us-east-1:111122223333:registry/orders-registry';
const ORDER_ID = '5f7e9c2a-3b1d-4e8f-9a6c-0d2b4f6e8a10';
const RESULT_ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
const FORMATS = ['AVRO', 'PROTOBUF', 'JSON'] as const;

/** A registry holding `held` (schema name → id) with the shipped definitions; counts calls. */
const fakeRegistry = (held: Record<string, string>) => {
  const calls: { schemaName: string; definition: string }[] = [];
  const lookUp: SchemaIdLookUp = async (schemaName, definition) => {
    calls.push({ schemaName, definition });
    const [kind, format] = schemaName.split('-') as ['order' | 'result', string];
    const shipped = registryDefinition(kind, format.toUpperCase() as DataFormat);
    return definition === shipped ? held[schemaName] : undefined;
  };
  return { calls, lookUp };
};

const soon = () => Date.now() + 5_000;

let codecs: OrderCodecs;
beforeAll(async () => {
  codecs = await loadOrderCodecs();
});

describe('the definitions looked up by', () => {
  it.each(FORMATS)(
    '%s: the texts the stack registers, verbatim, under the names it registers',
    (format) => {
      for (const kind of ['order', 'result'] as const) {
        expect(registryDefinition(kind, format)).toBe(schemaDefinition(kind, format));
        expect(registrySchemaName(kind, format)).toBe(schemaName(kind, format));
      }
    },
  );

  it('are the files of src/lib/orders/schemas/', () => {
    const file = (name: string) =>
      readFileSync(new URL(`../../../src/lib/orders/schemas/${name}`, import.meta.url), 'utf8');
    expect(registryDefinition('order', 'JSON')).toBe(file('order.schema.json'));
    expect(registryDefinition('result', 'AVRO')).toBe(file('orderResult.avsc'));
  });
});

describe('glueRegistryName', () => {
  it('is the name in a Glue registry ARN, and nothing for a URL or none', () => {
    expect(glueRegistryName(REGISTRY)).toBe('orders-registry');
    expect(glueRegistryName(' arn:aws-cn:glue:cn-north-1:111122223333:registry/r1 ')).toBe('r1');
    expect(glueRegistryName('https://schema-registry.example.com')).toBeUndefined();
    expect(glueRegistryName('')).toBeUndefined();
    expect(glueRegistryName(undefined)).toBeUndefined();
  });
});

describe('RegistryVersionIds', () => {
  it('looks an id up once per container by the shipped definition; concurrent callers share it', async () => {
    // Prepare
    const { calls, lookUp } = fakeRegistry({ 'result-avro': RESULT_ID });
    const ids = new RegistryVersionIds(lookUp, 'orders-registry');

    // Act
    const found = await Promise.all([
      ids.versionId('result', 'AVRO', soon()),
      ids.versionId('result', 'AVRO', soon()),
    ]);
    const again = await ids.versionId('result', 'AVRO', soon());

    // Assess
    expect(found).toEqual([RESULT_ID, RESULT_ID]);
    expect(again).toBe(RESULT_ID);
    expect(calls).toEqual([
      { schemaName: 'result-avro', definition: registryDefinition('result', 'AVRO') },
    ]);
  });

  it('a definition the registry does not hold: ConfigurationError naming the schema, asked again later', async () => {
    // Prepare
    const { calls, lookUp } = fakeRegistry({});
    const ids = new RegistryVersionIds(lookUp, 'orders-registry');

    // Act
    const first = ids.versionId('order', 'PROTOBUF', soon());
    await expect(first).rejects.toThrow(ConfigurationError);
    const second = ids.versionId('order', 'PROTOBUF', soon());

    // Assess
    await expect(second).rejects.toThrow(
      /schema registry orders-registry: schema order-protobuf has no version with the PROTOBUF order definition/,
    );
    expect(calls).toHaveLength(2);
    // the message names the schema, never the definition's text
    await expect(second).rejects.not.toThrow(/syntax = "proto3"/);
  });

  it('a registry that does not answer by the deadline: RetriableError, asked again later', async () => {
    // Prepare: a registry that never answers, only aborts
    let calls = 0;
    const lookUp: SchemaIdLookUp = (_name, _definition, signal) => {
      calls += 1;
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason)),
      );
    };
    const ids = new RegistryVersionIds(lookUp, 'orders-registry', { timeoutMs: 60_000 });
    const started = Date.now();

    // Act
    const act = ids.versionId('order', 'AVRO', Date.now() + 100);

    // Assess
    await expect(act).rejects.toThrow(RetriableError);
    await expect(act).rejects.toMatchObject({ code: 'TRANSIENT' });
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(ids.versionId('order', 'AVRO', Date.now() + 50)).rejects.toThrow(RetriableError);
    expect(calls).toBe(2);
  });
});

describe('produceOrders with ORDER_FORMAT and no ORDER_SCHEMA_VERSION_ID', () => {
  const config = readPipelineConfig({ SERVICE_NAME: 'shop', STAGE: 'test', TOPIC_ORDERS: 'o' });

  it('frames every order with the id the Glue registry holds for the shipped definition, looked up once', async () => {
    // Prepare
    const { calls, lookUp } = fakeRegistry({ 'order-avro': ORDER_ID });
    const orderFormat = readOrderFormat(
      { ORDER_FORMAT: 'avro', SCHEMA_REGISTRY_URI: REGISTRY },
      { lookUp },
    )!;
    const { written, kafka } = fakeKafka();
    const handler = createProduceOrdersHandler({ config, kafka: async () => kafka, orderFormat });

    // Act
    await handler({ idempotencyKey: 'k1', orders: [orderFixture(1), orderFixture(2)] });
    await handler({ idempotencyKey: 'k2', orders: [orderFixture(3)] });

    // Assess
    expect(calls.map((c) => c.schemaName)).toEqual(['order-avro']);
    const values = written.flat().map((m) => unframeGlue(m.value as Buffer)!);
    expect(values.map((v) => v.schemaVersionId)).toEqual([ORDER_ID, ORDER_ID, ORDER_ID]);
    expect(
      parseOrderRecordValue(values[2]!.payload, { dataFormat: 'AVRO', schemaId: ORDER_ID }, codecs),
    ).toEqual(orderSchema.parse(orderFixture(3)));
  });

  it('a definition the registry does not hold: the request fails with CONFIGURATION, nothing written', async () => {
    // Prepare
    const { lookUp } = fakeRegistry({ 'order-avro': ORDER_ID });
    const orderFormat = readOrderFormat(
      { ORDER_FORMAT: 'JSON', SCHEMA_REGISTRY_URI: REGISTRY },
      { lookUp },
    )!;
    const { written, kafka } = fakeKafka();
    const handler = createProduceOrdersHandler({ config, kafka: async () => kafka, orderFormat });

    // Act
    const act = handler({ idempotencyKey: 'k1', orders: [orderFixture(1)] });

    // Assess
    await expect(act).rejects.toMatchObject({ code: 'CONFIGURATION' });
    await expect(act).rejects.toThrow(/schema order-json/);
    expect(written).toEqual([]);
  });

  it('a configured id is used as is: no registry call', async () => {
    // Prepare
    const { calls, lookUp } = fakeRegistry({ 'order-avro': ORDER_ID });

    // Act
    const format = readOrderFormat(
      { ORDER_FORMAT: 'AVRO', ORDER_SCHEMA_VERSION_ID: RESULT_ID, SCHEMA_REGISTRY_URI: REGISTRY },
      { lookUp },
    );

    // Assess
    expect(format).toEqual({ format: 'AVRO', schemaVersionId: RESULT_ID });
    expect(calls).toEqual([]);
  });

  it.each([
    { ORDER_FORMAT: 'AVRO' },
    { ORDER_FORMAT: 'AVRO', SCHEMA_REGISTRY_URI: 'https://schema-registry.example.com' },
  ])('no id and no Glue registry (%j): refused at init', (env) => {
    expect(() => readOrderFormat(env)).toThrow(ConfigurationError);
    expect(() => readOrderFormat(env)).toThrow(/SCHEMA_REGISTRY_URI a Glue registry ARN/);
  });
});

describe('processOrders result formats named without an id', () => {
  const record = (dataFormat: DataFormat) => ({
    valueSchemaMetadata: { dataFormat, schemaId: ORDER_ID },
  });
  const result = () =>
    evaluateOrder(orderSchema.parse(orderFixture(4)), {
      now: new Date('2026-01-01T00:00:00Z'),
      source: { topic: 'orders', partition: 0, offset: 1 },
    });

  it("looks up only the formats a batch holds, once per container; results framed with the registry's id", async () => {
    // Prepare
    const { calls, lookUp } = fakeRegistry({ 'result-avro': RESULT_ID, 'result-json': ORDER_ID });
    const formats = readResultFormats(
      {
        RESULT_SCHEMA_VERSIONS: `AVRO, JSON=, PROTOBUF=${ORDER_ID}`,
        SCHEMA_REGISTRY_URI: REGISTRY,
      },
      { lookUp },
    )!;

    // Act
    await prepareResultFormats(formats, [record('AVRO'), record('PROTOBUF'), {}], soon());
    await prepareResultFormats(formats, [record('AVRO')], soon());
    const avro = resultValue(result(), record('AVRO').valueSchemaMetadata, formats);

    // Assess
    expect(calls.map((c) => c.schemaName)).toEqual(['result-avro']);
    expect(unframeGlue(avro as Buffer)?.schemaVersionId).toBe(RESULT_ID);
    expect(formats.versions).toEqual({ AVRO: RESULT_ID, PROTOBUF: ORDER_ID });
    // JSON not met yet: not asked, and never written as plain JSON instead
    expect(() => resultValue(result(), record('JSON').valueSchemaMetadata, formats)).toThrow(
      RetriableError,
    );
  });

  it('a definition the registry does not hold fails the batch with CONFIGURATION, not a record', async () => {
    // Prepare
    const { lookUp } = fakeRegistry({});
    const formats = readResultFormats(
      { RESULT_SCHEMA_VERSIONS: 'PROTOBUF', SCHEMA_REGISTRY_URI: REGISTRY },
      { lookUp },
    );

    // Act
    const act = prepareResultFormats(formats, [record('PROTOBUF')], soon());

    // Assess
    await expect(act).rejects.toThrow(ConfigurationError);
    await expect(act).rejects.toThrow(/schema result-protobuf/);
  });

  it('configured ids only: no look-up at all', async () => {
    // Prepare
    const { calls, lookUp } = fakeRegistry({});
    const formats = readResultFormats(
      { RESULT_SCHEMA_VERSIONS: `AVRO=${RESULT_ID}`, SCHEMA_REGISTRY_URI: REGISTRY },
      { lookUp },
    );

    // Act
    await prepareResultFormats(formats, [record('AVRO'), record('JSON')], soon());

    // Assess
    expect(formats).toEqual({ versions: { AVRO: RESULT_ID } });
    expect(calls).toEqual([]);
  });

  it.each(['', 'https://schema-registry.example.com'])(
    'a format without an id and no Glue registry (%j) is refused at init',
    (uri) => {
      const act = () =>
        readResultFormats({ RESULT_SCHEMA_VERSIONS: 'AVRO', SCHEMA_REGISTRY_URI: uri });
      expect(act).toThrow(ConfigurationError);
      expect(act).toThrow(/a format without an id needs SCHEMA_REGISTRY_URI a Glue registry ARN/);
    },
  );
});

describe('the Glue client loads lazily', () => {
  // Which packages a fresh process has resolved after reading the settings as the handlers'
  // init does, then after the first look-up (against a closed port: it fails, TRANSIENT).
  const SCRIPT = `
    const { registerHooks } = require('node:module');
    const seen = new Set();
    registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.add(r.url); return r; } });
    const glue = () => [...seen].some((u) => u.includes('/node_modules/@aws-sdk/client-glue/'));
    (async () => {
      const { readResultFormats, prepareResultFormats } = await import(process.argv[1]);
      const { readOrderFormat } = await import(process.argv[2]);
      const formats = readResultFormats(process.env);
      readOrderFormat(process.env);
      await new Promise((r) => setTimeout(r, 300)); // what init would have started, resolved
      const atInit = glue();
      const record = { valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: 'x' } };
      const code = await prepareResultFormats(formats, [record], Date.now() + 3000).then(() => 'ok', (e) => e.code);
      console.log('RESULT ' + JSON.stringify({ atInit, afterLookUp: glue(), code }));
    })();`;
  const path = (p: string) => fileURLToPath(new URL(p, import.meta.url));

  it('not at init, only on the first look-up', async () => {
    // Act
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        '--input-type=commonjs',
        '-e',
        SCRIPT,
        path('../../../src/lib/formats/resultFormat.ts'),
        path('../../../src/lib/formats/orderFormat.ts'),
      ],
      {
        timeout: 30_000,
        env: {
          PATH: process.env.PATH,
          SCHEMA_REGISTRY_URI: REGISTRY,
          RESULT_SCHEMA_VERSIONS: 'AVRO',
          ORDER_FORMAT: 'AVRO',
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
        },
      },
    );
    const line = stdout.split('\n').find((l) => l.startsWith('RESULT '))!;

    // Assess
    expect(JSON.parse(line.slice('RESULT '.length))).toEqual({
      atInit: false,
      afterLookUp: true,
      code: 'TRANSIENT',
    });
  });
});
