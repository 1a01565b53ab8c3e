/**
 * `serverless invoke local` of the self-managed variant (`kafkaSource=selfManaged`) with
 * the `SelfManagedKafka` sample event of `events/`, as the README tells a user to run it:
 * osls resolves serverless.yml with the self-managed parameters (no MSK ARN), loads the
 * bundle and invokes it against the real local broker. kcat then reads the results.
 *
 * A stage of its own (hence checkpoint group and transactional ids) and topics of its
 * own keep it apart from the other tests.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../scripts/build.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatRead } from '../support/kcat.ts';
import { kafkaBrokers } from '../support/stackEnv.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVERLESS_BIN = join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js');
const EVENT = join(ROOT, 'events', 'processOrders.self-managed.json');
const run = promisify(execFile);

const config = isolatedPipelineConfig('invoke-sm');
// osls stage names: letters, digits and dashes
const stage = `sm${Date.now().toString(36)}`;
let client: KafkaClient;

const invokeLocal = async () => {
  const params = {
    kafkaSource: 'selfManaged',
    kafkaBrokers: kafkaBrokers(),
    kafkaAuth: 'none',
    kafkaTls: 'false',
    subnetIds: 'subnet-0123456789abcdef0',
    securityGroupIds: 'sg-0123456789abcdef0',
    topicProcessed: config.topics.processed,
    topicDlq: config.topics.dlq,
    topicParkingLot: config.topics.parkingLot,
    topicCheckpoints: config.topics.checkpoints,
  };
  const args = [SERVERLESS_BIN, 'invoke', 'local', '-f', 'processOrders', '-p', EVENT];
  args.push('--stage', stage, ...Object.entries(params).map(([k, v]) => `--param=${k}=${v}`));
  const { stdout } = await run(process.execPath, args, {
    cwd: ROOT,
    // nothing of the caller's Kafka or AWS settings: only what serverless.yml says
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
    },
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  // the batch response is the last JSON document printed, after the handler's log lines
  const response = stdout.slice(stdout.lastIndexOf('\n{\n') + 1);
  return { stdout, response: JSON.parse(response) as unknown };
};

beforeAll(async () => {
  client = new KafkaClient({ clientId: 'invoke-local-test', brokers: kafkaBrokers().split(',') });
  await createPipelineTopics(client, config);
  await build();
}, 180_000);

afterAll(async () => {
  await client?.close();
});

describe('serverless invoke local, kafkaSource=selfManaged', () => {
  it('processes the SelfManagedKafka sample event once, and skips it when it comes again', async () => {
    // Arrange
    const event = JSON.parse(readFileSync(EVENT, 'utf8')) as {
      eventSource: string;
      records: Record<string, Array<{ key: string }>>;
    };
    const orderIds = Object.values(event.records)
      .flat()
      .map((r) => Buffer.from(r.key, 'base64').toString('utf8'))
      .sort();
    expect(event.eventSource).toBe('SelfManagedKafka');

    // Act
    const first = await invokeLocal();
    const again = await invokeLocal();

    // Assess
    expect(first.response).toEqual({ batchItemFailures: [] });
    expect(again.response).toEqual({ batchItemFailures: [] });
    expect(first.stdout).toContain(`msk-order-pipeline-${stage}-processOrders`);
    const results = await kcatRead(config.topics.processed);
    expect(results.map((r) => r.key).sort()).toEqual(orderIds);
    expect(await kcatRead(config.topics.dlq)).toEqual([]);
  }, 300_000);
});
