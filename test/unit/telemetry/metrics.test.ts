import { describe, expect, it } from 'vitest';
import type { RecordOutcome } from '../../../src/lib/delivery/processBatch.ts';
import { PoisonRecordError, RetriableError } from '../../../src/lib/errors.ts';
import { decodeKafkaEvent } from '../../../src/lib/events/decode.ts';
import { createMetrics } from '../../../src/lib/telemetry/metrics.ts';
import { mskEvent, type RecordSpec } from '../../support/mskEvent.ts';
import { captureOutput } from './capture.ts';

const NOW = 1_764_000_100_000;
const specs: RecordSpec[] = [
  { topic: 'orders', partition: 0, offset: 0, value: 'a', timestamp: NOW - 2_500 },
  { topic: 'orders', partition: 0, offset: 1, value: 'b', timestamp: NOW - 900 },
  { topic: 'orders', partition: 1, offset: 0, value: 'c', timestamp: NOW + 5_000 },
];

interface Emf {
  _aws: {
    CloudWatchMetrics: Array<{ Namespace: string; Metrics: Array<{ Name: string; Unit: string }> }>;
  };
  [name: string]: unknown;
}

describe('pipeline metrics', () => {
  it('publish counts, batch size and lag as one EMF line', async () => {
    // Prepare
    const metrics = createMetrics({ POWERTOOLS_SERVICE_NAME: 'orders-svc' }, { now: () => NOW });
    const [p0, p1] = decodeKafkaEvent(mskEvent(specs));
    const r = p0!.records[0]!;
    const outcomes: RecordOutcome[] = [
      { kind: 'ok', record: r, messages: 1 },
      { kind: 'ok', record: r, messages: 1 },
      { kind: 'poison', record: r, error: new PoisonRecordError('NOT_JSON', 'x') },
      { kind: 'retriable', record: r, error: new RetriableError('TIMEOUT', 'x') },
      { kind: 'skipped', record: r, checkpoint: 3 },
    ];

    // Act
    const lines = await captureOutput(() => {
      metrics.observeEvent(mskEvent(specs));
      outcomes.forEach(metrics.recordOutcome);
      metrics.recordOrderResult({ status: 'accepted' });
      metrics.recordOrderResult({ status: 'rejected' });
      metrics.recordOrderResult({ status: 'accepted' });
      metrics.publish();
      metrics.publish(); // nothing new: nothing written
    });

    // Assess
    expect(p1).toBeDefined();
    expect(lines).toHaveLength(1);
    const emf = lines[0] as unknown as Emf;
    const [directive] = emf._aws.CloudWatchMetrics;
    expect(directive?.Namespace).toBe('OrderPipeline');
    expect(Object.fromEntries(directive!.Metrics.map((m) => [m.Name, m.Unit]))).toEqual({
      processed: 'Count',
      accepted: 'Count',
      rejected: 'Count',
      deadLettered: 'Count',
      retried: 'Count',
      skipped: 'Count',
      batchSize: 'Count',
      lagMs: 'Milliseconds',
    });
    expect(emf).toMatchObject({
      service: 'orders-svc',
      processed: 2,
      accepted: 2,
      rejected: 1,
      deadLettered: 1,
      retried: 1,
      skipped: 1,
      batchSize: 3,
      lagMs: 2_500, // the oldest record; a timestamp ahead of the clock is no lag
    });
  });

  it('take the namespace from POWERTOOLS_METRICS_NAMESPACE and count republish and parking', async () => {
    // Prepare
    const metrics = createMetrics({ POWERTOOLS_METRICS_NAMESPACE: 'Orders/Test' });
    const [batch] = decodeKafkaEvent(mskEvent(specs.slice(0, 2)));

    // Act
    const lines = await captureOutput(() => {
      metrics.observeEvent({ orders: [] }); // not a Kafka event: ignored
      metrics.observeBatch([batch!]);
      metrics.count('republished', 3);
      metrics.count('parked');
      metrics.publish();
    });

    // Assess
    const emf = lines[0] as unknown as Emf;
    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe('Orders/Test');
    expect(emf).toMatchObject({ republished: 3, parked: 1, batchSize: 2 });
    expect(emf.processed).toBeUndefined();
  });
});
