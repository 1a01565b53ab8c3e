import type { Logger } from '@aws-lambda-powertools/logger';
import { safeMessage } from '../errors.ts';
import type { PipelineMetrics } from '../telemetry/metrics.ts';
import type { ProduceOutcome } from './produceOrders.ts';

/**
 * Logs and counts each produceOrders request: `emitted` and `replayed` count orders,
 * `invalid` counts requests. No order payload is logged, only ids, counts and codes.
 */
export const produceOutcomeReporter =
  (logger: Pick<Logger, 'info' | 'warn' | 'error'>, metrics: Pick<PipelineMetrics, 'count'>) =>
  (outcome: ProduceOutcome): void => {
    const error = 'error' in outcome ? outcome.error : undefined;
    const fields = {
      outcome: outcome.kind,
      ...(outcome.idempotencyKey === undefined ? {} : { idempotencyKey: outcome.idempotencyKey }),
      ...('orders' in outcome ? { orders: outcome.orders } : {}),
      ...(error ? { errorCode: error.code, errorMessage: safeMessage(error) } : {}),
    };
    switch (outcome.kind) {
      case 'emitted':
      case 'replayed':
        metrics.count(outcome.kind, outcome.orders);
        logger.info(`orders ${outcome.kind}`, fields);
        return;
      case 'invalid':
        metrics.count('invalid');
        logger.warn('request invalid', fields);
        return;
      case 'in-progress':
        logger.warn('request in progress', fields);
        return;
      case 'failed':
        logger.error('request failed', fields);
        return;
    }
  };
