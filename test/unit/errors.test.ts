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
      'AUTHENTICATION_FAILED',
      'TLS_UNTRUSTED',
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

  it('names a refused login and an untrusted certificate, however deep kafkajs wrapped them', () => {
    const refused = Object.assign(
      new Error('SASL SCRAM SHA512 authentication failed: invalid credentials'),
      { name: 'KafkaJSSASLAuthenticationError', retriable: false },
    );
    const untrusted = Object.assign(
      new Error('Connection error: self-signed certificate in certificate chain'),
      { name: 'KafkaJSConnectionError', code: 'SELF_SIGNED_CERT_IN_CHAIN' },
    );
    const exceeded = (cause: Error) =>
      Object.assign(new Error(cause.message, { cause }), {
        name: 'KafkaJSNumberOfRetriesExceeded',
      });
    for (const error of [refused, exceeded(refused)])
      expect(toPipelineError(error)).toMatchObject({
        code: 'AUTHENTICATION_FAILED',
        retriable: true,
        message: expect.stringMatching(/^the broker refused SASL authentication/),
      });
    for (const error of [untrusted, exceeded(untrusted)])
      expect(toPipelineError(error)).toMatchObject({
        code: 'TLS_UNTRUSTED',
        retriable: true,
        message: expect.stringMatching(/^the broker's TLS certificate is not trusted/),
      });
    // a refused connection is not a trust problem
    expect(
      toPipelineError(
        Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
          name: 'KafkaJSConnectionError',
          code: 'ECONNREFUSED',
        }),
      ).code,
    ).toBe('BROKER_UNAVAILABLE');
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
