/**
 * republishDlq: triggered by the MSK event-source mapping on `orders.dlq`.
 * Republishes dead letters to their original topic with back-off, parks them
 * when attempts run out; transactional per partition like processOrders.
 *
 * Telemetry (src/lib/telemetry): a CONSUMER span per DLQ partition linked to each dead
 * letter's context, its PRODUCER child's context on every republished or parked
 * record; outcome logs; counts of republished / parked records once committed (plus
 * retried / skipped). Tracing is awaited by the first invocation (no top-level `await`).
 */
import { functionPrefix, readPipelineConfig } from '../lib/config.ts';
import { batchTotals } from '../lib/delivery/processBatch.ts';
import { createRepublishDlqHandler } from '../lib/delivery/republishDlq.ts';
import { closeAfterEachInvocationWhenLocal, kafkaFromEnvironment } from '../lib/kafka/index.ts';
import { instrumentHandler } from '../lib/telemetry/instrument.ts';
import { outcomeLogger, recordFields } from '../lib/telemetry/logger.ts';
import { deliveryTelemetry } from '../lib/telemetry/tracing.ts';

const FUNCTION_NAME = 'republishDlq';
const config = readPipelineConfig();
const kafka = kafkaFromEnvironment();
// the mapping's group, as serverless.yml names it unless the environment says otherwise
const consumerGroup =
  process.env.CONSUMER_GROUP_ID?.trim() || functionPrefix(config, FUNCTION_NAME);

export const handler = closeAfterEachInvocationWhenLocal(
  instrumentHandler(
    ({ tracing, logger, metrics }) => {
      const logOutcome = outcomeLogger(logger);
      return createRepublishDlqHandler({
        config,
        kafka,
        functionName: FUNCTION_NAME,
        telemetry: deliveryTelemetry({
          tracing,
          consumerGroup,
          functionName: FUNCTION_NAME,
          destinations: [config.topics.orders, config.topics.parkingLot],
        }),
        // outcomes, not decisions: `ok` and `poison` arrive once their transaction committed
        onOutcome: (outcome) => {
          switch (outcome.kind) {
            case 'ok':
              if (outcome.detail?.action === 'republish') {
                metrics.count('republished');
                logger.info('record republished', {
                  ...recordFields(outcome.record),
                  attempts: outcome.detail.attempts,
                  republishedTo: outcome.detail.topic,
                });
              } else if (outcome.detail?.action === 'park') {
                metrics.count('parked');
                logger.warn('record parked', {
                  ...recordFields(outcome.record),
                  reason: outcome.detail.reason,
                  attempts: outcome.detail.attempts,
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
        onBatch: ({ partitions }) => logger.info('batch done', batchTotals(partitions)),
      });
    },
    process.env,
    { functionName: FUNCTION_NAME },
  ),
  kafka,
);
