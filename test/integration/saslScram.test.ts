import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readStackEnv, SCRAM_USERNAME, scramCredentials } from '../../scripts/stack.ts';
import { type PipelineConfig, readPipelineConfig } from '../../src/lib/config.ts';
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { deliveryLambda } from '../../src/lib/delivery/lambda.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { createRepublishDlqHandler } from '../../src/lib/delivery/republishDlq.ts';
import type { ErrorCode } from '../../src/lib/errors.ts';
import type { KafkaBatchResponse } from '../../src/lib/events/types.ts';
import { readIdempotencySettings } from '../../src/lib/intake/idempotency.ts';
import { createProduceOrdersHandler } from '../../src/lib/intake/produceOrders.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { buildKafkaConfig, readConnectionSettings } from '../../src/lib/kafka/connection.ts';
import { kafkaFromEnvironment } from '../../src/lib/kafka/index.ts';
import { type LocalMappingHandle, startLocalMapping } from '../../src/local/esm/index.ts';
import { orderFixture } from '../support/fixtures.ts';
import { createPipelineTopics } from '../support/isolated.ts';
import { kcatRead, kcatWrite } from '../support/kcat.ts';
import { mskEvent, mskEventFromKcat } from '../support/mskEvent.ts';
import { awsEndpoint, kafkaBrokers, uniqueName } from '../support/stackEnv.ts';

// The handlers over the local broker's SASL_SSL listener (SCRAM-SHA-512, a certificate
// signed by the stack's own CA), with the credentials read from an `AmazonMSK_…` secret
// in the AWS emulator, exactly as on MSK. What they wrote is read back with kcat over
// the plaintext listener: a client that shares no code (nor credentials) with them.

const run = uniqueName('sasl');
const AWS = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
const secrets = new SecretsManagerClient({
  endpoint: awsEndpoint(),
  region: AWS.AWS_REGION,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});
let sasl: { brokers: string; caFile: string };
let plain: KafkaClient;
let otherCaDir: string;
const { password } = scramCredentials();
const WRONG_PASSWORD = `wrong-${run}-pw`;

/** Creates a secret in the emulator; its name says MSK's prefix. */
const secret = async (suffix: string, value: string) => {
  const name = `AmazonMSK_${run}-${suffix}`;
  await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  return name;
};
const names = {} as Record<'good' | 'wrongPassword' | 'notJson' | 'noPassword', string>;

/** The environment of a function deployed against the SASL_SSL listener. */
const kafkaEnv = (secretName: string, caFile = sasl.caFile): Record<string, string> => ({
  KAFKA_BROKERS: sasl.brokers,
  KAFKA_SCRAM_SECRET_ARN: secretName,
  KAFKA_TLS_CA_FILE: caFile,
  AWS_ENDPOINT_URL: awsEndpoint(),
  ...AWS,
});

/** Pipeline topics of its own (made over plaintext) and the env naming them. */
const pipeline = async (name: string) => {
  const id = `${run}-${name}`;
  const env: Record<string, string> = {
    SERVICE_NAME: id,
    STAGE: 'test',
    TOPIC_ORDERS: `${id}.orders`,
    TOPIC_PROCESSED: `${id}.processed`,
    TOPIC_DLQ: `${id}.dlq`,
    TOPIC_PARKING_LOT: `${id}.parking-lot`,
    TOPIC_CHECKPOINTS: `${id}.checkpoints`,
    DLQ_BACKOFF_BASE_MS: '1',
    DLQ_BACKOFF_MAX_MS: '1',
  };
  const config = readPipelineConfig(env);
  await createPipelineTopics(plain, config, { all: 2 });
  return { env, config };
};

const produceHandler = (config: PipelineConfig, env: Record<string, string>) => {
  const settings = readIdempotencySettings({
    IDEMPOTENCY_TABLE: 'msk-order-pipeline-local-idempotency',
    AWS_ENDPOINT_URL: awsEndpoint(),
    ...AWS,
  });
  const kafka = kafkaFromEnvironment(env);
  return {
    kafka,
    handler: createProduceOrdersHandler({ config, kafka, idempotency: settings }),
  };
};

/** A Kafka-triggered function wired as in Lambda (src/handlers/*.ts), env given instead of read. */
const deliveryFunction = (fn: 'processOrders' | 'republishDlq', env: Record<string, string>) => {
  const lambdaEnv = { POWERTOOLS_METRICS_DISABLED: 'true', ...env };
  return fn === 'processOrders'
    ? deliveryLambda(
        {
          functionName: fn,
          destinations: (topics) => [topics.processed, topics.dlq],
          create: createProcessOrdersHandler,
          reportOutcome: (outcome, { logOutcome }) => logOutcome(outcome),
        },
        lambdaEnv,
      )
    : deliveryLambda(
        {
          functionName: fn,
          destinations: (topics) => [topics.orders, topics.parkingLot],
          create: createRepublishDlqHandler,
          reportOutcome: (outcome, { logOutcome }) => logOutcome(outcome),
        },
        lambdaEnv,
      );
};

const lambdaContext = (timeoutMs = 30_000): Context => {
  const deadline = Date.now() + timeoutMs;
  return {
    functionName: 'processOrders',
    awsRequestId: uniqueName('req'),
    getRemainingTimeInMillis: () => deadline - Date.now(),
  } as Partial<Context> as Context;
};

/** What a call writes to stdout and stderr, as parsed JSON log lines, and its outcome. */
const withLogs = async <T>(fn: () => Promise<T>) => {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  const started = Date.now();
  let result: { value?: T; error?: unknown };
  try {
    result = { value: await fn() };
  } catch (error) {
    result = { error };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  const text = chunks.join('');
  const lines = text
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { ...result, text, lines, ms: Date.now() - started };
};

const warnings = (lines: Array<Record<string, unknown>>) =>
  lines.filter((l) => l.level === 'WARN' || l.level === 'ERROR' || l.level === 'CRITICAL');

/** Everything that could leak a credential: the message, the cause chain, the logs. */
const expectNoSecret = (...texts: string[]) => {
  for (const text of texts) {
    expect(text).not.toContain(password);
    expect(text).not.toContain(WRONG_PASSWORD);
  }
};

const topicsOf = (config: PipelineConfig) => [
  config.topics.orders,
  config.topics.processed,
  config.topics.dlq,
  config.topics.parkingLot,
  config.topics.checkpoints,
];

/** Reads every topic of the pipeline with kcat over plaintext, uncommitted records too. */
const everythingIn = async (config: PipelineConfig) =>
  (
    await Promise.all(topicsOf(config).map((t) => kcatRead(t, { isolation: 'read_uncommitted' })))
  ).flat();

beforeAll(async () => {
  const stack = readStackEnv();
  if (!stack?.KAFKA_SASL_BROKERS || !stack.KAFKA_TLS_CA_FILE)
    throw new Error(
      'the SASL_SSL listener of the local stack is needed (npm run stack:up starts it; KAFKA_BROKERS pointing at another broker has none)',
    );
  sasl = { brokers: stack.KAFKA_SASL_BROKERS, caFile: stack.KAFKA_TLS_CA_FILE };
  plain = new KafkaClient({ clientId: 'sasl-test-plain', brokers: kafkaBrokers().split(',') });
  names.good = await secret('good', JSON.stringify({ username: SCRAM_USERNAME, password }));
  names.wrongPassword = await secret(
    'wrong',
    JSON.stringify({ username: SCRAM_USERNAME, password: WRONG_PASSWORD }),
  );
  // a value that is nearly JSON and holds the password: the error must not quote it
  names.notJson = await secret('not-json', `{username: ${SCRAM_USERNAME}, password: ${password}`);
  names.noPassword = await secret(
    'no-password',
    JSON.stringify({ username: SCRAM_USERNAME, pass: password }),
  );
  // a CA the broker's certificate was not signed by
  otherCaDir = mkdtempSync(join(tmpdir(), 'sasl-other-ca-'));
  const ca = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(otherCaDir, 'ca.key'),
      '-out',
      join(otherCaDir, 'ca.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=some other CA',
    ],
    { encoding: 'utf8' },
  );
  if (ca.status !== 0) throw new Error(`openssl: ${ca.stderr}`);
});

afterAll(async () => {
  await plain?.close();
  secrets.destroy();
  if (otherCaDir) rmSync(otherCaDir, { recursive: true, force: true });
});

describe('over the SASL_SSL listener (SCRAM-SHA-512, the stack CA)', () => {
  it('builds its client from the AmazonMSK_ secret: SCRAM-SHA-512, TLS trusting only the stack CA', async () => {
    const config = await buildKafkaConfig(readConnectionSettings(kafkaEnv(names.good)));
    expect(config.brokers).toEqual([sasl.brokers]);
    expect(config.sasl).toMatchObject({ mechanism: 'scram-sha-512', username: SCRAM_USERNAME });
    expect(config.ssl).toEqual({ ca: [expect.stringContaining('BEGIN CERTIFICATE')] });
    // the credentials object never prints its password
    expectNoSecret(JSON.stringify(config), inspect(config, { depth: 5 }));
  });

  it('produceOrders → processOrders → republishDlq (local mapping), checked with kcat over plaintext', async () => {
    // Prepare
    const { env, config } = await pipeline('flow');
    const { orders, processed, dlq, parkingLot } = config.topics;
    const input = [0, 1, 2, 3].map((i) => ({ ...orderFixture(i), orderId: `${run}-o${i}` }));
    const producer = produceHandler(config, kafkaEnv(names.good));

    // Act 1: produceOrders over SASL_SSL
    const produced = await producer.handler({ idempotencyKey: `${run}-flow`, orders: input });
    await (await producer.kafka()).close();

    // Assess 1
    const inOrders = await kcatRead(orders);
    expect(inOrders.map((r) => r.key).sort()).toEqual(input.map((o) => o.orderId).sort());
    expect(produced.orders.map((o) => `${o.partition}:${o.offset}`).sort()).toEqual(
      inOrders.map((r) => `${r.partition}:${r.offset}`).sort(),
    );

    // Act 2: processOrders over SASL_SSL, a poison record among the orders
    await kcatWrite(orders, 'not json at all', { key: `${run}-poison`, partition: 0 });
    const handler = deliveryFunction('processOrders', { ...env, ...kafkaEnv(names.good) });
    const event = mskEventFromKcat(await kcatRead(orders));
    const processing = await withLogs(() => handler(event, lambdaContext()));

    // Assess 2
    expect(processing.error).toBeUndefined();
    expect((processing.value as KafkaBatchResponse).batchItemFailures).toEqual([]);
    const results = await kcatRead(processed);
    expect(results.map((r) => r.key).sort()).toEqual(input.map((o) => o.orderId).sort());
    const deadLetters = await kcatRead(dlq);
    expect(deadLetters.map((r) => [r.key, r.header[DLQ_HEADERS.errorCode]])).toEqual([
      [`${run}-poison`, 'NOT_JSON'],
    ]);
    expectNoSecret(processing.text);

    // Act 3: republishDlq over SASL_SSL, invoked by the local event-source mapping
    const republish = createRepublishDlqHandler({
      config: readPipelineConfig({ ...env, DLQ_MAX_ATTEMPTS: '1' }),
      kafka: kafkaFromEnvironment(kafkaEnv(names.good)),
    });
    const handle: LocalMappingHandle = await startLocalMapping({
      mapping: {
        functionName: 'republishDlq',
        deployedFunctionName: `${run}-republishDlq`,
        handlerPath: 'src/handlers/republishDlq.handler',
        logicalId: 'RepublishDlqEventSourceMappingMSKOrdersDlq',
        eventSource: 'aws:kafka',
        topic: dlq,
        batchSize: 100,
        maximumBatchingWindowInSeconds: 0,
        startingPosition: 'TRIM_HORIZON',
        consumerGroupId: `${run}-republish`,
        enabled: true,
        reportBatchItemFailures: true,
        maximumRetryAttempts: 2,
        maximumRecordAgeInSeconds: -1,
        bisectBatchOnFunctionError: false,
        timeoutSeconds: 30,
        memorySize: 1024,
        region: 'us-east-1',
        service: run,
        stage: 'test',
        environment: {},
        warnings: [],
      },
      handler: (event, context) => republish(event, context),
      brokers: kafkaBrokers(),
      retryBackoff: { initialMs: 50, maxMs: 200 },
    });
    try {
      await handle.idle({ timeoutMs: 30_000 });
    } finally {
      await handle.stop();
    }

    // Assess 3: one attempt allowed, so the dead letter is parked, with its story
    const parked = await kcatRead(parkingLot);
    expect(parked.map((r) => [r.key, r.value, r.header[DLQ_HEADERS.errorCode]])).toEqual([
      [`${run}-poison`, 'not json at all', 'NOT_JSON'],
    ]);
    expect(handle.stats).toMatchObject({ failedInvocations: 0, onFailureRecords: 0 });
    expect(handle.stats.invocations).toBeGreaterThan(0);
  });
});

describe('misconfiguration over SASL_SSL: one clear error, nothing written, nothing dead-lettered', () => {
  // every case: the code the error carries, and words of its message a user would search for
  const cases: Array<{
    name: string;
    env: () => Record<string, string>;
    code: ErrorCode;
    says: RegExp;
    /** Known when the client is built (the first invocation fails before any record). */
    atClientCreation: boolean;
  }> = [
    {
      name: 'wrong password',
      env: () => kafkaEnv(names.wrongPassword),
      code: 'AUTHENTICATION_FAILED',
      says: /refused SASL authentication/,
      atClientCreation: false,
    },
    {
      name: 'unknown CA',
      env: () => kafkaEnv(names.good, join(otherCaDir, 'ca.pem')),
      code: 'TLS_UNTRUSTED',
      says: /TLS certificate is not trusted/,
      atClientCreation: false,
    },
    {
      name: 'missing secret',
      env: () => kafkaEnv(`AmazonMSK_${run}-absent`),
      code: 'SECRET_NOT_FOUND',
      says: /SCRAM secret AmazonMSK_\S+-absent not found in Secrets Manager/,
      atClientCreation: true,
    },
    {
      name: 'secret that is not JSON',
      env: () => kafkaEnv(names.notJson),
      code: 'SECRET_MALFORMED',
      says: /SCRAM secret \S+ is not JSON/,
      atClientCreation: true,
    },
    {
      name: 'secret without a password',
      env: () => kafkaEnv(names.noPassword),
      code: 'SECRET_MALFORMED',
      says: /SCRAM secret \S+ has no password string/,
      atClientCreation: true,
    },
    {
      // moto has no GetBootstrapBrokers: its answer is a failed lookup, as a throttled or
      // unreachable control plane would give (AWS's own refusals are CONFIGURATION, unit-tested)
      name: 'failed broker discovery',
      env: () => ({
        MSK_CLUSTER_ARN: `arn:aws:kafka:us-east-1:123456789012:cluster/${run}/abcd-1234`,
        KAFKA_SCRAM_SECRET_ARN: names.good,
        AWS_ENDPOINT_URL: awsEndpoint(),
        ...AWS,
      }),
      code: 'TRANSIENT',
      says: /GetBootstrapBrokers for arn:aws:kafka:\S+ failed/,
      atClientCreation: true,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: produceOrders fails with ${c.code} and writes nothing`, async () => {
      // Prepare
      const { config } = await pipeline(`produce-${c.code.toLowerCase()}`);
      const { handler, kafka } = produceHandler(config, c.env());

      // Act
      const call = await withLogs(() =>
        handler({
          idempotencyKey: `${run}-${c.code}-${c.name.replaceAll(' ', '-')}`,
          orders: [{ ...orderFixture(1), orderId: `${run}-never` }],
        }),
      );
      await (await kafka().catch(() => undefined))?.close();

      // Assess
      expect(call.error).toMatchObject({ code: c.code, message: expect.stringMatching(c.says) });
      expectNoSecret(String(call.error), inspect(call.error, { depth: 10 }), call.text);
      expect(call.ms).toBeLessThan(15_000);
      expect(await everythingIn(config)).toEqual([]);
    });

    for (const fn of ['processOrders', 'republishDlq'] as const)
      it(`${c.name}: ${fn} ${c.atClientCreation ? 'fails the invocation (ERROR' : 'reports every partition from its first offset (WARN'} ${c.code}), nothing dead-lettered or parked`, async () => {
        // Prepare
        const { env, config } = await pipeline(`${fn}-${c.code.toLowerCase()}`);
        const t = fn === 'processOrders' ? config.topics.orders : config.topics.dlq;
        const order = (i: number) => JSON.stringify({ ...orderFixture(i), orderId: `${run}-${i}` });
        // a dead letter at its last attempt (parked if the function could write) and one to republish
        const deadLetter = (attempts: number) => ({
          [DLQ_HEADERS.originalTopic]: config.topics.orders,
          [DLQ_HEADERS.originalPartition]: '0',
          [DLQ_HEADERS.originalOffset]: String(attempts),
          [DLQ_HEADERS.errorCode]: 'SCHEMA_VIOLATION',
          [DLQ_HEADERS.attempts]: String(attempts),
          [DLQ_HEADERS.source]: 'handler',
        });
        // processOrders: valid orders and a poison record; none may reach any topic, the poison not the DLQ
        const event = mskEvent(
          fn === 'processOrders'
            ? [
                { topic: t, partition: 0, offset: 5, key: 'a', value: order(1) },
                { topic: t, partition: 0, offset: 6, key: 'b', value: 'not json' },
                { topic: t, partition: 1, offset: 9, key: 'c', value: order(2) },
              ]
            : [
                {
                  topic: t,
                  partition: 0,
                  offset: 5,
                  key: 'a',
                  value: order(1),
                  headers: deadLetter(3),
                },
                { topic: t, partition: 0, offset: 6, key: 'b', value: 'garbage' },
                {
                  topic: t,
                  partition: 1,
                  offset: 9,
                  key: 'c',
                  value: order(2),
                  headers: deadLetter(1),
                },
              ],
        );
        const handler = deliveryFunction(fn, { ...env, ...c.env() });

        // Act
        const call = await withLogs(() => handler(event, lambdaContext()));

        // Assess
        const warned = warnings(call.lines);
        expect(warned.length).toBeGreaterThan(0);
        // one cause, said by every WARN line: no cascade of other errors
        expect(new Set(warned.map((l) => l.errorCode))).toEqual(new Set([c.code]));
        for (const line of warned) expect(line.errorMessage).toMatch(c.says);
        if (c.atClientCreation) {
          expect(call.error).toMatchObject({ code: c.code });
          // the invocation's own failure line (withTelemetry): ERROR, with the code
          expect(warned.map((l) => [l.level, l.message])).toEqual([['ERROR', 'invocation failed']]);
        } else {
          expect(call.error).toBeUndefined();
          expect((call.value as KafkaBatchResponse).batchItemFailures).toEqual(
            expect.arrayContaining([
              { itemIdentifier: { partition: `${t}-0`, offset: 5 } },
              { itemIdentifier: { partition: `${t}-1`, offset: 9 } },
            ]),
          );
          expect((call.value as KafkaBatchResponse).batchItemFailures).toHaveLength(2);
          expect(warned.map((l) => [l.message, l.partition, l.offset]).sort()).toEqual([
            ['partition stopped', 0, 5],
            ['partition stopped', 1, 9],
          ]);
        }
        expectNoSecret(call.text, String(call.error ?? ''), inspect(call.error, { depth: 10 }));
        // within the deadline, with time to spare
        expect(call.ms).toBeLessThan(15_000);
        expect(await everythingIn(config)).toEqual([]);
      });
  }
});
