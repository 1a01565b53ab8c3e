import { afterAll, describe, expect, it } from 'vitest';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { kcatRead } from '../support/kcat.ts';
import { kafkaBrokers, uniqueName } from '../support/stackEnv.ts';

describe('KafkaClient against a real broker', () => {
  const client = new KafkaClient({ clientId: 'client-test', brokers: kafkaBrokers().split(',') });
  afterAll(() => client.close());

  it('writes a transaction larger than the broker accepts in one request, at the offsets it reports', async () => {
    // Prepare: 3 MB for ONE partition: a single record batch of that size would be refused
    const topic = uniqueName('big-tx');
    await client.ensureTopics([{ topic, partitions: 1 }]);
    const messages = Array.from({ length: 3000 }, (_, i) => ({
      topic,
      key: `k-${i}`,
      value: `${String(i).padStart(6, '0')}:${'x'.repeat(1017)}`,
      headers: { 'x-i': String(i) },
    }));

    // Act
    const placed = await client
      .transactionalProducer(uniqueName('big-tx'))
      .producer.write(messages);

    // Assess
    const seen = await kcatRead(topic);
    expect(seen).toHaveLength(3000);
    expect(seen.map((r) => r.key)).toEqual(messages.map((m) => m.key));
    const offsetOfKey = new Map(seen.map((r) => [r.key, String(r.offset)]));
    expect(placed.map((p) => p.offset)).toEqual(messages.map((m) => offsetOfKey.get(m.key)));
  });
});
