import { describe, expect, it } from 'vitest';
import { PoisonRecordError } from '../../../src/lib/errors.ts';
import { fromKafkaError } from '../../../src/lib/kafka/errors.ts';

const kafkaJsError = (name: string, message: string, type?: string) =>
  Object.assign(new Error(message), { name, ...(type ? { type } : {}) });

describe('fromKafkaError', () => {
  it('maps kafkajs errors by their type and name', () => {
    expect(
      fromKafkaError(kafkaJsError('KafkaJSProtocolError', 'fenced', 'INVALID_PRODUCER_EPOCH')).code,
    ).toBe('PRODUCER_FENCED');
    expect(fromKafkaError(kafkaJsError('KafkaJSProducerFencedError', 'f')).code).toBe(
      'PRODUCER_FENCED',
    );
    expect(fromKafkaError(kafkaJsError('KafkaJSRequestTimeoutError', 't')).code).toBe('TIMEOUT');
    expect(
      fromKafkaError(kafkaJsError('KafkaJSProtocolError', 'c', 'CONCURRENT_TRANSACTIONS')).code,
    ).toBe('TRANSACTION_ABORTED');
    expect(fromKafkaError(kafkaJsError('KafkaJSConnectionError', 'c')).code).toBe(
      'BROKER_UNAVAILABLE',
    );
    expect(
      fromKafkaError(
        kafkaJsError(
          'KafkaJSProtocolError',
          'This server does not host this topic-partition',
          'UNKNOWN_TOPIC_OR_PARTITION',
        ),
        'committed offsets of g on AWSKafkaTopic',
      ),
    ).toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
      retriable: true,
      message:
        'committed offsets of g on AWSKafkaTopic: This server does not host this topic-partition',
    });
  });

  it('maps anything else to TRANSIENT and keeps a PipelineError as it is', () => {
    expect(fromKafkaError(new Error('anything'))).toMatchObject({
      code: 'TRANSIENT',
      retriable: true,
    });
    expect(fromKafkaError(undefined).code).toBe('TRANSIENT');
    const poison = new PoisonRecordError('NOT_JSON', 'x');
    expect(fromKafkaError(poison)).toBe(poison);
  });

  it('masks secrets in the message it keeps', () => {
    const error = fromKafkaError(
      kafkaJsError('KafkaJSSASLAuthenticationError', 'password=hunter2'),
    );
    expect(error.message).not.toContain('hunter2');
    expect(error.cause).toBeInstanceOf(Error);
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
      expect(fromKafkaError(error)).toMatchObject({
        code: 'AUTHENTICATION_FAILED',
        retriable: true,
        message: expect.stringMatching(/^the broker refused SASL authentication/),
      });
    for (const error of [untrusted, exceeded(untrusted)])
      expect(fromKafkaError(error)).toMatchObject({
        code: 'TLS_UNTRUSTED',
        retriable: true,
        message: expect.stringMatching(/^the broker's TLS certificate is not trusted/),
      });
    // a refused connection is not a trust problem
    expect(
      fromKafkaError(
        Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
          name: 'KafkaJSConnectionError',
          code: 'ECONNREFUSED',
        }),
      ).code,
    ).toBe('BROKER_UNAVAILABLE');
  });
});
