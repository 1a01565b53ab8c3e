/**
 * Deadlines and unknown outcomes against the real broker (DESIGN.md, "Facts added after
 * the first release"): an invocation answers before its deadline whatever the broker
 * does, says why it stopped a partition, and a transaction whose commit went unanswered
 * is neither reused nor doubled.
 *
 * The commit test freezes the shared broker (SIGSTOP) for a few seconds: the integration
 * project runs one file at a time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { status } from '../../scripts/stack.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { orderFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatRead } from '../support/kcat.ts';
import { mskEvent } from '../support/mskEvent.ts';
import { awsEndpoint, kafkaBrokers } from '../support/stackEnv.ts';
import { captureOutput } from '../unit/telemetry/capture.ts';

const clients: KafkaClient[] = [];
let frozen: number | undefined;

/** SIGSTOP / SIGCONT to the broker of the stack (its process group, as stack.ts signals it). */
const signalBroker = (pid: number, signal: 'SIGSTOP' | 'SIGCONT') => {
  try {
    process.kill(-pid, signal);
  } catch {
    process.kill(pid, signal);
  }
};

afterAll(async () => {
  // a failure while frozen must not leave the shared broker stopped
  if (frozen !== undefined) signalBroker(frozen, 'SIGCONT');
  await Promise.all(clients.map((c) => c.close()));
});

const lambdaContext = (timeoutMs: number) => {
  const end = Date.now() + timeoutMs;
  return {
    functionName: 'processOrders',
    awsRequestId: 'deadline-test',
    getRemainingTimeInMillis: () => end - Date.now(),
  };
};

describe('deadlines', () => {
  it('answers an event for a topic the broker lacks within the timeout, with a WARN naming the cause', async () => {
    // Prepare: the Lambda handler module as deployed, configured for the local stack
    Object.assign(process.env, {
      KAFKA_BROKERS: kafkaBrokers(),
      KAFKA_AUTH: 'none',
      KAFKA_TLS: 'false',
      AWS_ENDPOINT_URL: awsEndpoint(),
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    const { handler } = await import('../../src/handlers/processOrders.ts');
    const event = mskEvent([
      { topic: 'AWSKafkaTopic', partition: 0, offset: 15, value: JSON.stringify(orderFixture(1)) },
      { topic: 'AWSKafkaTopic', partition: 0, offset: 16, value: JSON.stringify(orderFixture(2)) },
    ]);
    const started = Date.now();
    let response: unknown;

    // Act
    const lines = await captureOutput(async () => {
      response = await handler(event, lambdaContext(30_000) as never);
    });

    // Assess
    expect(Date.now() - started).toBeLessThan(28_000);
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: 'AWSKafkaTopic-0', offset: 15 } }],
    });
    const warn = lines.find((l) => l.message === 'partition stopped');
    expect(warn).toMatchObject({
      level: 'WARN',
      topic: 'AWSKafkaTopic',
      partition: 0,
      offset: 15,
      stage: 'checkpoint',
      errorCode: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    expect(String(warn?.errorMessage)).toContain('AWSKafkaTopic');
    const stopMetric = lines.find((l) => 'partitionsStopped' in l);
    expect(stopMetric).toMatchObject({
      errorCode: 'UNKNOWN_TOPIC_OR_PARTITION',
      partitionsStopped: 1,
    });
  });

  it('discards a producer whose commit went unanswered, and the retry doubles nothing', async () => {
    // Prepare: a commit that the broker receives while frozen: its outcome is unknown
    const pid = status().kafka;
    if (pid === undefined)
      throw new Error('this test freezes the broker of scripts/stack.ts (no KAFKA_BROKERS)');
    const config = isolatedPipelineConfig('deadline', { DEADLINE_MARGIN_MS: '1000' });
    const admin = new KafkaClient({
      clientId: 'deadline-admin',
      brokers: kafkaBrokers().split(','),
    });
    clients.push(admin);
    await createPipelineTopics(admin, config);
    let freezeNext = true;
    const client = new KafkaClient({
      clientId: 'deadline-test',
      brokers: kafkaBrokers().split(','),
      hooks: {
        beforeCommit: () => {
          if (!freezeNext) return;
          freezeNext = false;
          frozen = pid;
          signalBroker(pid, 'SIGSTOP');
        },
      },
    });
    clients.push(client);
    const stops: unknown[] = [];
    const handler = createProcessOrdersHandler({
      config,
      kafka: async () => client,
      onBatch: ({ partitions }) => stops.push(...partitions.map((p) => [p.stage, p.error?.code])),
    });
    const event = mskEvent(
      Array.from({ length: 20 }, (_, i) => ({
        topic: config.topics.orders,
        partition: 0,
        offset: i,
        key: `o-${i}`,
        value: JSON.stringify(orderFixture(i)),
      })),
    );

    // Act 1: the commit hangs; the invocation must answer by its deadline (5 s − 1 s margin)
    const started = Date.now();
    const first = await handler(event, lambdaContext(5_000));
    const answeredIn = Date.now() - started;
    await sleep(500);
    signalBroker(pid, 'SIGCONT');
    frozen = undefined;

    // Act 2: Lambda delivers the batch again, to the same warm container
    const second = await handler(event, lambdaContext(30_000));

    // Assess
    expect(answeredIn).toBeLessThan(5_000);
    expect(first).toEqual({
      batchItemFailures: [
        { itemIdentifier: { partition: `${config.topics.orders}-0`, offset: 0 } },
      ],
    });
    expect(stops[0]).toEqual(['commit', 'TIMEOUT']);
    expect(second).toEqual({ batchItemFailures: [] });
    const results = await kcatRead(config.topics.processed);
    const ids = results.map((r) => r.key);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  }, 60_000);
});
