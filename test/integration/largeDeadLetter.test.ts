/**
 * A dead letter carries the whole record plus its `x-dlq-*` headers, so it is larger
 * than the record: a record the orders topic just accepted would not fit a DLQ topic
 * with the same `max.message.bytes`, and its partition would be retried until the
 * mapping gave up on it. The DLQ and parking lot are created with
 * DEAD_LETTER_TOPIC_CONFIG (README, "What must exist in AWS first").
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_TOPIC_CONFIG, DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatRead } from '../support/kcat.ts';
import { mskEvent } from '../support/mskEvent.ts';
import { kafkaBrokers } from '../support/stackEnv.ts';

/** Kafka's default `max.message.bytes` (the orders topic's, as MSK creates topics). */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

const client = new KafkaClient({
  clientId: 'large-dead-letter',
  brokers: kafkaBrokers().split(','),
});
afterAll(() => client.close());

describe('dead letters of the largest records the orders topic accepts', () => {
  it('writes a 1,048,200-byte poison record to the DLQ in full', async () => {
    // Prepare: a value just under what the orders topic accepts, over MAX_RECORD_BYTES
    const config = isolatedPipelineConfig('large', { MAX_RECORD_BYTES: '1000000' });
    await createPipelineTopics(client, config, { all: 1 });
    const value = Buffer.alloc(1_048_200, 'x');
    const handler = createProcessOrdersHandler({ config, kafka: async () => client });

    // Act
    const response = await handler(
      mskEvent([{ topic: config.topics.orders, partition: 0, offset: 7, key: 'big-1', value }]),
    );

    // Assess: dead-lettered whole, bigger than the orders topic would take
    expect(response.batchItemFailures).toEqual([]);
    const [letter, ...more] = await kcatRead(config.topics.dlq);
    expect(more).toEqual([]);
    expect(letter?.header[DLQ_HEADERS.errorCode]).toBe('RECORD_TOO_LARGE');
    expect(letter?.value?.length).toBe(value.length);
    const headerBytes = (letter?.headers ?? []).reduce(
      (n, [name, v]) => n + name.length + v.length,
      0,
    );
    expect(value.length + headerBytes).toBeGreaterThan(DEFAULT_MAX_MESSAGE_BYTES);
    expect(Number(DEAD_LETTER_TOPIC_CONFIG['max.message.bytes'])).toBeGreaterThan(
      DEFAULT_MAX_MESSAGE_BYTES,
    );
  }, 60_000);
});
