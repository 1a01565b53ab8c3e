import { describe, expect, it } from 'vitest';
import {
  ERROR_TABLE,
  type ErrorCode,
  PipelineError,
  PoisonRecordError,
  RequestInProgressError,
  RetriableError,
  safeMessage,
  toPipelineError,
} from '../../src/lib/errors.ts';

describe('errors', () => {
  it('marks exactly the transient codes retriable', () => {
    const codes = Object.keys(ERROR_TABLE) as ErrorCode[];
    const retriable = codes.filter((code) => new PipelineError(code, 'x').retriable);
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
    expect(new RequestInProgressError('x')).toMatchObject({ code: 'TRANSIENT', retriable: true });
  });

  it('keeps a PipelineError as it is and maps anything else to a retriable TRANSIENT', () => {
    const poison = new PoisonRecordError('NOT_JSON', 'x');
    expect(toPipelineError(poison)).toBe(poison);
    const cause = new Error('socket hang up');
    expect(toPipelineError(cause, 'reading')).toMatchObject({
      code: 'TRANSIENT',
      retriable: true,
      message: 'reading: socket hang up',
      cause,
    });
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
