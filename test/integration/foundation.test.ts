import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { kcatRead } from '../support/kcat.ts';
import { kafkaBrokers, uniqueName } from '../support/stackEnv.ts';

// The ground every other test stands on: a real broker that runs transactions,
// read back by a client nobody here wrote.
describe('local stack: transactions on a real broker, read by kcat', () => {
  let client: KafkaClient;
  const topic = 'orders';
  const run = uniqueName('foundation');

  beforeAll(() => {
    client = new KafkaClient({ clientId: 'foundation-test', brokers: kafkaBrokers().split(',') });
  });
  afterAll(async () => {
    await client.close();
  });

  it('shows committed records with their headers and none of an aborted transaction', async () => {
    // Prepare
    const committed = client.transactionalProducer(`${run}-a`).producer;
    const messages = [0, 1, 2].map((i) => ({
      topic,
      key: `${run}-${i}`,
      value: JSON.stringify({ run, i, state: 'committed' }),
      headers: {
        'x-run': run,
        'x-index': String(i),
        traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
      },
    }));

    // Act
    await committed.write(messages);
    // a second transaction writes and aborts: its record reaches the log but must stay invisible
    const raw = client.raw.producer({
      transactionalId: `${run}-b`,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await raw.connect();
    const tx = await raw.transaction();
    await tx.send({
      topic,
      messages: [
        {
          key: `${run}-x`,
          value: JSON.stringify({ run, state: 'aborted' }),
          headers: { 'x-run': run },
        },
      ],
    });
    await tx.abort();
    await raw.disconnect();

    // Assess
    const seen = (await kcatRead(topic)).filter((r) => r.header['x-run'] === run);
    expect(seen.map((r) => JSON.parse(r.value!).state)).toEqual([
      'committed',
      'committed',
      'committed',
    ]);
    expect(seen.map((r) => r.header['x-index']).sort()).toEqual(['0', '1', '2']);
    expect(seen.every((r) => r.header.traceparent === messages[0]!.headers.traceparent)).toBe(true);
    const uncommitted = (await kcatRead(topic, { isolation: 'read_uncommitted' })).filter(
      (r) => r.header['x-run'] === run,
    );
    // the aborted record is in the log (read_uncommitted sees it), so its absence above is the isolation at work
    expect(uncommitted.map((r) => JSON.parse(r.value!).state).sort()).toEqual([
      'aborted',
      'committed',
      'committed',
      'committed',
    ]);
  });
});
