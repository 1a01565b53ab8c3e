import { describe, expect, it } from 'vitest';
import type { RecordOutcome } from '../../../src/lib/delivery/processBatch.ts';
import { PoisonRecordError, RetriableError } from '../../../src/lib/errors.ts';
import { decodeKafkaEvent } from '../../../src/lib/events/decode.ts';
import {
  createLogger,
  isSensitiveHeader,
  logRecordOutcome,
  outcomeLogger,
} from '../../../src/lib/telemetry/logger.ts';
import { orderFixture, traceparentFixture } from '../../support/fixtures.ts';
import { mskEvent } from '../../support/mskEvent.ts';
import { captureOutput } from './capture.ts';

const SECRET_HEADER_VALUE = 'Bearer sekrit-token-value';
const PAYLOAD_MARKER = 'customer-private-note-4111';

const decodedRecord = (value: string) => {
  const [batch] = decodeKafkaEvent(
    mskEvent([
      {
        topic: 'orders',
        partition: 2,
        offset: 17,
        key: 'order-17',
        value,
        headers: {
          traceparent: traceparentFixture(17),
          authorization: SECRET_HEADER_VALUE,
          'x-api-key': 'k-123456',
          'x-tenant': 'acme',
        },
      },
    ]),
  );
  return batch!.records[0]!;
};

const order = JSON.stringify({ ...orderFixture(17), note: PAYLOAD_MARKER });
const traceId = traceparentFixture(17).split('-')[1];

describe('record outcome logs', () => {
  it('name the record at WARN for a dead letter, without payload or header values', async () => {
    // Prepare
    const logger = createLogger({ POWERTOOLS_SERVICE_NAME: 'orders-svc' });
    const record = decodedRecord(`{"bad json ${PAYLOAD_MARKER}`);
    const outcome: RecordOutcome = {
      kind: 'poison',
      record,
      error: new PoisonRecordError('NOT_JSON', 'order value is not UTF-8 JSON'),
    };

    // Act
    const lines = await captureOutput(() => logRecordOutcome(logger, outcome));

    // Assess
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'WARN',
      message: 'record dead-lettered',
      service: 'orders-svc',
      topic: 'orders',
      partition: 2,
      offset: 17,
      orderId: 'order-17',
      traceId,
      errorCode: 'NOT_JSON',
      errorMessage: 'order value is not UTF-8 JSON',
    });
    const text = JSON.stringify(lines);
    for (const leaked of [PAYLOAD_MARKER, SECRET_HEADER_VALUE, 'k-123456', 'acme'])
      expect(text).not.toContain(leaked);
  });

  it('masks secrets in error messages and logs retriable failures and skips at INFO, successes not at INFO', async () => {
    // Prepare
    const logger = createLogger({});
    const record = decodedRecord(order);
    const log = outcomeLogger(logger);

    // Act
    const lines = await captureOutput(() => {
      log({ kind: 'ok', record, messages: 1 });
      log({ kind: 'skipped', record, checkpoint: 20 });
      log({
        kind: 'retriable',
        record,
        error: new RetriableError('BROKER_UNAVAILABLE', 'connect to sasl password=hunter2 failed'),
      });
    });

    // Assess
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['INFO', 'record skipped: below the committed checkpoint'],
      ['INFO', 'record failed: retriable'],
    ]);
    expect(lines[0]).toMatchObject({ offset: 17, checkpoint: 20, orderId: 'order-17' });
    expect(lines[1]).toMatchObject({
      errorCode: 'BROKER_UNAVAILABLE',
      errorMessage: 'connect to sasl password=*** failed',
    });
    expect(JSON.stringify(lines)).not.toContain('hunter2');
  });

  it('adds headers and value at DEBUG only, never the values of credential headers', async () => {
    // Prepare
    const logger = createLogger({ POWERTOOLS_LOG_LEVEL: 'debug' });
    const record = decodedRecord(order);

    // Act
    const lines = await captureOutput(() =>
      logRecordOutcome(logger, { kind: 'ok', record, messages: 1 }),
    );

    // Assess
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ['DEBUG', 'record processed'],
      ['DEBUG', 'record detail'],
    ]);
    expect(lines[1]).toMatchObject({
      orderId: 'order-17',
      headers: {
        authorization: ['***'],
        'x-api-key': ['***'],
        'x-tenant': ['acme'],
        traceparent: [traceparentFixture(17)],
      },
      valueBytes: Buffer.byteLength(order),
    });
    expect(lines[1]?.value).toContain(PAYLOAD_MARKER);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(SECRET_HEADER_VALUE);
    expect(text).not.toContain('k-123456');
  });

  it('turns DEBUG on for sampled invocations (POWERTOOLS_LOGGER_SAMPLE_RATE)', async () => {
    // Prepare
    const record = decodedRecord(order);

    // Act
    const lines = await captureOutput(() => {
      const sampled = createLogger({ POWERTOOLS_LOGGER_SAMPLE_RATE: '1' });
      const unsampled = createLogger({ POWERTOOLS_LOGGER_SAMPLE_RATE: '0' });
      logRecordOutcome(sampled, { kind: 'ok', record, messages: 1 });
      logRecordOutcome(unsampled, { kind: 'ok', record, messages: 1 });
    });

    // Assess
    expect(lines.filter((l) => l.message === 'record processed')).toHaveLength(1);
    expect(lines.find((l) => l.message === 'record processed')?.sampling_rate).toBe(1);
  });

  it('recognises credential-like header names', () => {
    for (const name of [
      'Authorization',
      'x-auth-token',
      'client_secret',
      'db-password',
      'X-Api-Key',
      'sasl.jaas',
    ])
      expect(isSensitiveHeader(name), name).toBe(true);
    for (const name of ['traceparent', 'x-dlq-error-code', 'content-type', 'x-tenant'])
      expect(isSensitiveHeader(name), name).toBe(false);
  });
});
