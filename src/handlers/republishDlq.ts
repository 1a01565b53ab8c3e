/**
 * republishDlq: triggered by the MSK event-source mapping on `orders.dlq`.
 * Republishes dead letters to their original topic with back-off, parks them
 * when attempts run out; transactional per partition like processOrders.
 *
 * Telemetry (src/lib/delivery/lambda.ts): a CONSUMER span per DLQ partition linked to
 * each dead letter's context, its PRODUCER child's context on every republished or
 * parked record; outcome logs; counts of republished / parked records once committed
 * (plus retried / skipped). Tracing is awaited by the first invocation (no top-level
 * `await`).
 */
import { deliveryLambda } from '../lib/delivery/lambda.ts';
import { createRepublishDlqHandler } from '../lib/delivery/republishDlq.ts';
import { recordFields } from '../lib/telemetry/logger.ts';

export const handler = deliveryLambda({
  functionName: 'republishDlq',
  destinations: (topics) => [topics.orders, topics.parkingLot],
  create: createRepublishDlqHandler,
  // outcomes, not decisions: `ok` and `poison` arrive once their transaction committed
  reportOutcome: (outcome, { logger, metrics, logOutcome }) => {
    switch (outcome.kind) {
      case 'ok':
        if (outcome.detail?.action === 'republish') {
          metrics.count('republished');
          logger.info('record republished', {
            ...recordFields(outcome.record),
            attempts: outcome.detail.attempts,
            republishedTo: outcome.detail.topic,
            // for an on-failure envelope: skipped by the mapping, or unknown below the horizon
            ...(outcome.detail.checkpoint ? { checkpoint: outcome.detail.checkpoint } : {}),
          });
        } else if (outcome.detail?.action === 'park') {
          metrics.count('parked');
          logger.warn('record parked', {
            ...recordFields(outcome.record),
            reason: outcome.detail.reason,
            attempts: outcome.detail.attempts,
          });
        } else if (outcome.detail?.action === 'drop') {
          metrics.count('alreadyProcessed');
          logger.info('on-failure envelope not republished: its result had committed', {
            ...recordFields(outcome.record),
            reason: outcome.detail.reason,
            gaveUpOn: outcome.detail.gaveUpOn,
          });
        }
        break;
      case 'poison':
        // unreadable by the decoder: processBatch wrote it to the parking lot
        metrics.count('parked');
        logOutcome(outcome);
        break;
      default:
        metrics.recordOutcome(outcome);
        logOutcome(outcome);
    }
  },
});
