/**
 * A refused login may be a rotated SCRAM secret: the container's Kafka client must be
 * let go of, so the next invocation logs in afresh instead of failing until it dies.
 */
import { describe, expect, it } from 'vitest';
import { kafkaFromEnvironment } from '../../../src/lib/kafka/index.ts';

describe('kafkaFromEnvironment', () => {
  it('keeps one client for warm invocations, and builds a new one after renew()', async () => {
    // Prepare: no connection is made until the client is used
    const kafka = kafkaFromEnvironment({ KAFKA_BROKERS: '127.0.0.1:1' });

    // Act
    const first = await kafka();
    const again = await kafka();
    await kafka.renew();
    const renewed = await kafka();

    // Assess
    expect(again).toBe(first);
    expect(renewed).not.toBe(first);
    await kafka.renew();
  });
});
