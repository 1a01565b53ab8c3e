import { describe, expect, it } from 'vitest';
import {
  ERROR_CODES,
  isRetriableCode,
  PoisonRecordError,
  RetriableError,
  safeMessage,
  toPipelineError,
} from '../../src/lib/errors.ts';

describe('errors', () => {
  it('marks exactly the transient codes retriable', () => {
    const retriable = ERROR_CODES.filter(isRetriableCode);
    expect(retriable).toEqual([
      'BROKER_UNAVAILABLE',
      'TRANSACTION_ABORTED',
      'TIMEOUT',
      'PRODUCER_FENCED',
      'TRANSIENT',
      'UNKNOWN_TOPIC_OR_PARTITION',
      'BACKOFF_PENDING',
    ]);
    expect(new PoisonRecordError('NOT_JSON', 'x').retriable).toBe(false);
    expect(new RetriableError('TIMEOUT', 'x').retriable).toBe(true);
  });

  it('maps kafkajs errors by their type and name', () => {
    expect(
      toPipelineError(
        Object.assign(new Error('fenced'), {
          name: 'KafkaJSProtocolError',
          type: 'INVALID_PRODUCER_EPOCH',
        }),
      ).code,
    ).toBe('PRODUCER_FENCED');
    expect(
      toPipelineError(Object.assign(new Error('t'), { name: 'KafkaJSRequestTimeoutError' })).code,
    ).toBe('TIMEOUT');
    expect(
      toPipelineError(Object.assign(new Error('c'), { name: 'KafkaJSConnectionError' })).code,
    ).toBe('BROKER_UNAVAILABLE');
    expect(
      toPipelineError(
        Object.assign(new Error('This server does not host this topic-partition'), {
          name: 'KafkaJSProtocolError',
          type: 'UNKNOWN_TOPIC_OR_PARTITION',
        }),
        'committed offsets of g on AWSKafkaTopic',
      ),
    ).toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
      retriable: true,
      message:
        'committed offsets of g on AWSKafkaTopic: This server does not host this topic-partition',
    });
    expect(toPipelineError(new Error('anything')).retriable).toBe(true);
  });

  it('masks secrets, strips control characters and bounds the length', () => {
    const text = safeMessage(
      new Error(
        'login failed password=hunter2 for sasl://user:pa55@broker:9096 key AKIAABCDEFGHIJKLMNOP\nnext',
      ),
    );
    expect(text).not.toMatch(/hunter2|pa55|AKIAABCDEFGHIJKLMNOP/);
    expect(text).not.toContain('\n');
    expect(safeMessage('x'.repeat(1000), 50)).toHaveLength(50);
  });
});
