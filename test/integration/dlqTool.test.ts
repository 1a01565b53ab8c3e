/**
 * The parking-lot tool (`npm run dlq`) against the real broker, run as an operator runs
 * it: the CLI in a child process, configured by environment. Records are parked by the
 * real processOrders and republishDlq handlers; what the tool writes is checked with
 * kcat (read_committed).
 */
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../src/lib/config.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { createRepublishDlqHandler } from '../../src/lib/delivery/republishDlq.ts';
import { PoisonRecordError } from '../../src/lib/errors.ts';
import { buildOnFailureEnvelope } from '../../src/lib/events/onFailureEnvelope.ts';
import type { KafkaBatchResponse } from '../../src/lib/events/types.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { orderFixture, traceparentFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { type KcatRecord, kcatRead, kcatWrite } from '../support/kcat.ts';
import { mskEventFromKcat } from '../support/mskEvent.ts';
import { kafkaBrokers } from '../support/stackEnv.ts';

const clients: KafkaClient[] = [];
const newClient = () => {
  const c = new KafkaClient({ clientId: 'dlq-tool-test', brokers: kafkaBrokers().split(',') });
  clients.push(c);
  return c;
};

/** Runs `npm run dlq -- <args>` as its script does (Node 22, the tool's CLI file). */
const dlq = (config: PipelineConfig, args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      ['src/local/dlq/cli.ts', ...args, '--timeout', '20'],
      {
        timeout: 45_000,
        env: {
          ...process.env,
          KAFKA_BROKERS: kafkaBrokers(),
          KAFKA_AUTH: 'none',
          KAFKA_TLS: 'false',
          SERVICE_NAME: config.service,
          STAGE: config.stage,
          TOPIC_ORDERS: config.topics.orders,
          TOPIC_PROCESSED: config.topics.processed,
          TOPIC_DLQ: config.topics.dlq,
          TOPIC_PARKING_LOT: config.topics.parkingLot,
          TOPIC_CHECKPOINTS: config.topics.checkpoints,
        },
      },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : -1) : 0,
          stdout,
          stderr,
        }),
    );
  });

type Handler = (event: unknown) => Promise<KafkaBatchResponse>;

/** Delivers a whole topic (read back with kcat) to a handler, as one mapping batch. */
const deliverAll = async (topic: string, handler: Handler) => {
  const records = await kcatRead(topic);
  if (records.length === 0) throw new Error(`nothing in ${topic}`);
  const response = await handler(mskEventFromKcat(records));
  expect(response.batchItemFailures).toEqual([]);
};

const POISON = [orderFixture(11), orderFixture(12), orderFixture(13)];
const NOT_JSON_KEY = 'ord-notjson-1';
const ENVELOPED = orderFixture(14);
const LATE = orderFixture(15);

/** Records of `orders` that a replay wrote (they carry its id). */
const replayed = (records: KcatRecord[]) =>
  records.filter((r) => r.header['x-dlq-replay-id'] !== undefined);

const orderIdOf = (r: KcatRecord) => {
  try {
    return (JSON.parse(r.value ?? '') as { orderId?: string }).orderId ?? r.key;
  } catch {
    return r.key;
  }
};

const countBy = (ids: Array<string | null>) => {
  const out: Record<string, number> = {};
  for (const id of ids) out[String(id)] = (out[String(id)] ?? 0) + 1;
  return out;
};

describe('parking-lot tool (npm run dlq)', () => {
  let config: PipelineConfig;

  beforeAll(async () => {
    // Prepare: poison orders go through the real processOrders and republishDlq (one
    // attempt allowed) into the parking lot; the DLQ mapping's AWS on-failure envelope
    // of one dead letter is parked too.
    config = isolatedPipelineConfig('dlqtool', { DLQ_MAX_ATTEMPTS: '1', DLQ_BACKOFF_BASE_MS: '0' });
    await createPipelineTopics(newClient(), config, { all: 2, parkingLot: 2 });
    const { orders, dlq, parkingLot } = config.topics;
    for (const [i, order] of POISON.entries())
      await kcatWrite(orders, JSON.stringify(order), {
        key: order.orderId,
        headers: { traceparent: traceparentFixture(i), 'x-tenant': 'acme' },
      });
    await kcatWrite(orders, 'this is not json', { key: NOT_JSON_KEY });
    await deliverAll(
      orders,
      createProcessOrdersHandler({
        config,
        kafka: async () => newClient(),
        beforeRecord: (record) => {
          const text = record.value?.toString() ?? '';
          if (POISON.some((o) => text.includes(`"orderId":"${o.orderId}"`)))
            throw new PoisonRecordError('SCHEMA_VIOLATION', 'injected: invalid order');
        },
      }),
    );
    await deliverAll(dlq, createRepublishDlqHandler({ config, kafka: async () => newClient() }));
    const envelope = buildOnFailureEnvelope({
      record: {
        topic: dlq,
        partition: 1,
        offset: 7,
        key: ENVELOPED.orderId,
        value: JSON.stringify(ENVELOPED),
        headers: {
          traceparent: traceparentFixture(9),
          'x-dlq-original-topic': orders,
          'x-dlq-original-partition': '0',
          'x-dlq-original-offset': '123',
          'x-dlq-error-code': 'RETRIES_EXHAUSTED',
          'x-dlq-attempts': '1',
          'x-dlq-source': 'esm-on-failure',
        },
      },
      bootstrapServers: kafkaBrokers(),
      requestId: 'c0ffee00-0000-4000-8000-000000000002',
      functionArn: `arn:aws:lambda:us-east-1:000000000000:function:${config.service}-test-republishDlq`,
      approximateInvokeCount: 11,
    });
    await kcatWrite(parkingLot, JSON.stringify(envelope), { key: ENVELOPED.orderId, partition: 0 });
    expect(await kcatRead(parkingLot)).toHaveLength(5);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  it('lists parked and dead-lettered records with their x-dlq-* story, filtered', async () => {
    // Act
    const all = await dlq(config, ['list', '--json']);
    const parkedOnly = await dlq(config, ['list', '--in', 'parking-lot', '--json']);
    const notJson = await dlq(config, ['list', '--code', 'NOT_JSON', '--in', 'parking-lot']);
    const byOrder = await dlq(config, ['list', '--order', POISON[1]!.orderId, '--json']);
    const enveloped = await dlq(config, ['list', '--order', ENVELOPED.orderId, '--json']);
    const future = await dlq(config, ['list', '--since', '2999-01-01', '--json']);
    const past = await dlq(config, ['list', '--until', '2000-01-01', '--json']);
    const recent = await dlq(config, ['list', '--since', '1h', '--topic', 'orders', '--json']);

    // Assess
    for (const r of [all, parkedOnly, notJson, byOrder, enveloped, future, past, recent])
      expect(r.stderr).toBe('');
    const parsed = (r: { stdout: string }) =>
      JSON.parse(r.stdout) as {
        complete: boolean;
        matched: number;
        records: Array<Record<string, unknown>>;
      };
    // 4 dead letters in the DLQ, the same 4 parked, and the envelope
    expect(parsed(all)).toMatchObject({ complete: true, matched: 9 });
    expect(parsed(parkedOnly).matched).toBe(5);
    expect(notJson.code).toBe(0);
    expect(notJson.stdout).toMatch(
      /NOT_JSON {2}attempts 1 {2}order ord-notjson-1 {2}from .*\.orders\//,
    );
    expect(notJson.stdout).toContain('1 record(s) matched of 5 read');
    expect(
      parsed(byOrder)
        .records.map((r) => r.topic)
        .sort(),
    ).toEqual([config.topics.dlq, config.topics.parkingLot]);
    const [env] = parsed(enveloped).records;
    expect(env).toMatchObject({
      errorCode: 'RETRIES_EXHAUSTED',
      source: 'esm-on-failure',
      orderId: ENVELOPED.orderId,
      original: { topic: config.topics.orders, offset: '123' },
    });
    expect(parsed(future).matched).toBe(0);
    expect(parsed(past).matched).toBe(0);
    // the original topic of every record is the orders topic; all were written just now
    expect(parsed(recent).matched).toBe(9);
  });

  it('shows one record: every header decoded, the value pretty-printed, the envelope opened', async () => {
    const parked = (await kcatRead(config.topics.parkingLot)).find(
      (r) => r.key === ENVELOPED.orderId,
    )!;
    const poison = (await kcatRead(config.topics.parkingLot)).find(
      (r) => r.key === POISON[0]!.orderId,
    )!;

    const shownEnvelope = await dlq(config, [
      'show',
      `parking-lot:${parked.partition}:${parked.offset}`,
    ]);
    const shownPoison = await dlq(config, [
      'show',
      `${config.topics.parkingLot}:${poison.partition}:${poison.offset}`,
    ]);
    const missing = await dlq(config, ['show', 'parking-lot:0:999999']);

    expect(shownEnvelope.code).toBe(0);
    expect(shownEnvelope.stdout).toContain('"condition": "RetriesExhausted"');
    expect(shownEnvelope.stdout).toContain('original record inside 1 AWS on-failure envelope(s)');
    expect(shownEnvelope.stdout).toContain(`"orderId": "${ENVELOPED.orderId}"`);
    expect(shownPoison.code).toBe(0);
    expect(shownPoison.stdout).toContain(`traceparent: ${traceparentFixture(0)}`);
    expect(shownPoison.stdout).toContain('x-tenant: acme');
    expect(shownPoison.stdout).toContain('x-dlq-error-code: SCHEMA_VIOLATION');
    expect(shownPoison.stdout).toContain(`  "orderId": "${POISON[0]!.orderId}",`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/no committed record there/);
  });

  it('replays parked records exactly once per replay id; a dry run writes nothing', async () => {
    const { orders } = config.topics;
    const before = await kcatRead(orders);

    // Act: a dry run, the replay, the same replay again, and a dry run under a new id
    const dry = await dlq(config, ['replay']);
    const afterDry = await kcatRead(orders, { isolation: 'read_uncommitted' });
    const first = await dlq(config, ['replay', '--yes', '--replay-id', 'it-1']);
    const second = await dlq(config, ['replay', '--yes', '--replay-id', 'it-1']);
    const other = await dlq(config, ['replay', '--replay-id', 'it-other']);

    // Assess
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^DRY RUN: nothing written\. Would replay 5 record\(s\)/);
    expect(afterDry).toHaveLength(before.length);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('replayed 5 record(s)');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('replay it-1 was already done; nothing written.');
    expect(second.stdout).toContain('5 record(s)');
    expect(other.stdout).toContain('Nothing to replay.');
    expect(other.stdout.match(/already replayed by replay it-1/g)).toHaveLength(5);

    // kcat: every parked order is back in orders once, with the replay's headers
    const back = replayed(await kcatRead(orders));
    expect(countBy(back.map(orderIdOf))).toEqual({
      [POISON[0]!.orderId]: 1,
      [POISON[1]!.orderId]: 1,
      [POISON[2]!.orderId]: 1,
      [NOT_JSON_KEY]: 1,
      [ENVELOPED.orderId]: 1,
    });
    for (const r of back) {
      expect(r.header['x-dlq-replay-id']).toBe('it-1');
      expect(Number.isNaN(Date.parse(r.header['x-dlq-replayed-at'] ?? ''))).toBe(false);
      expect(r.header['x-dlq-attempts']).toBeUndefined();
      expect(r.header['x-dlq-error-code']).toBeUndefined();
      expect(r.header['x-dlq-original-topic']).toBeUndefined();
    }
    const poison0 = back.find((r) => r.key === POISON[0]!.orderId)!;
    expect(JSON.parse(poison0.value!)).toEqual(POISON[0]);
    expect(poison0.header.traceparent).toBe(traceparentFixture(0));
    expect(poison0.header['x-tenant']).toBe('acme');
    expect(back.find((r) => r.key === NOT_JSON_KEY)?.value).toBe('this is not json');
    // the envelope's original record, not the envelope
    const unwrapped = back.find((r) => r.key === ENVELOPED.orderId)!;
    expect(JSON.parse(unwrapped.value!)).toEqual(ENVELOPED);
    expect(unwrapped.header.traceparent).toBe(traceparentFixture(9));
    // nothing but the replayed records was added, committed or not
    expect(await kcatRead(orders, { isolation: 'read_uncommitted' })).toHaveLength(
      before.length + 5,
    );
  });

  it('two runs of one replay id at once still put a record back once', async () => {
    // Prepare: a record parked after the first replay
    await kcatWrite(config.topics.parkingLot, JSON.stringify(LATE), {
      key: LATE.orderId,
      headers: {
        'x-dlq-original-topic': config.topics.orders,
        'x-dlq-original-partition': '1',
        'x-dlq-original-offset': '500',
        'x-dlq-error-code': 'SCHEMA_VIOLATION',
        'x-dlq-attempts': '1',
        'x-dlq-source': 'handler',
      },
    });

    // Act
    const args = ['replay', '--order', LATE.orderId, '--yes', '--replay-id', 'it-2'];
    const runs = await Promise.all([dlq(config, args), dlq(config, args)]);
    const again = await dlq(config, args);

    // Assess: a run fenced by the other may fail; the effect is one copy
    expect(runs.some((r) => r.code === 0)).toBe(true);
    expect(again.stdout).toContain('replay it-2 was already done');
    const late = replayed(await kcatRead(config.topics.orders)).filter(
      (r) => r.key === LATE.orderId,
    );
    expect(late).toHaveLength(1);
    expect(late[0]?.header['x-dlq-replay-id']).toBe('it-2');
  });

  it('refuses bad input with one clear line', async () => {
    const noId = await dlq(config, ['replay', '--yes']);
    const badTime = await dlq(config, ['list', '--since', 'yesterday']);
    const purge = await dlq(config, ['purge']);
    expect(noId.code).toBe(1);
    expect(noId.stderr).toMatch(/replay --yes needs --replay-id/);
    expect(badTime.stderr).toMatch(/"yesterday" is not a time/);
    expect(purge.stderr).toMatch(/unknown command "purge".*there is no purge/);
  });
});
