/**
 * processOrders: triggered by the MSK event-source mapping on `orders`.
 * Configuration is read once at init; the work is in src/lib/delivery.
 *
 * Telemetry (src/lib/telemetry): a CONSUMER span per partition linked to each order's
 * producer context, its PRODUCER child's context on every result and dead letter;
 * outcome logs; counts of processed / accepted / rejected / dead-lettered / retried /
 * skipped records, once committed. Tracing starts at init and is awaited by the first
 * invocation (no top-level `await`: see scripts/build.ts).
 */
import { functionPrefix, readPipelineConfig } from '../lib/config.ts';
import { batchTotals } from '../lib/delivery/processBatch.ts';
import { createProcessOrdersHandler } from '../lib/delivery/processOrders.ts';
import { closeAfterEachInvocationWhenLocal, kafkaFromEnvironment } from '../lib/kafka/index.ts';
import { instrumentHandler } from '../lib/telemetry/instrument.ts';
import { outcomeLogger } from '../lib/telemetry/logger.ts';
import { deliveryTelemetry } from '../lib/telemetry/tracing.ts';

const FUNCTION_NAME = 'processOrders';
const config = readPipelineConfig();
const kafka = kafkaFromEnvironment();
// the mapping's group, as serverless.yml names it unless the environment says otherwise
const consumerGroup =
  process.env.CONSUMER_GROUP_ID?.trim() || functionPrefix(config, FUNCTION_NAME);

export const handler = closeAfterEachInvocationWhenLocal(
  instrumentHandler(
    ({ tracing, logger, metrics }) => {
      const logOutcome = outcomeLogger(logger);
      return createProcessOrdersHandler({
        config,
        kafka,
        functionName: FUNCTION_NAME,
        telemetry: deliveryTelemetry({
          tracing,
          consumerGroup,
          functionName: FUNCTION_NAME,
          destinations: [config.topics.processed, config.topics.dlq],
        }),
        onOutcome: (outcome) => {
          metrics.recordOutcome(outcome);
          // committed results only: `ok` is reported after its transaction
          if (outcome.kind === 'ok' && outcome.detail) metrics.recordOrderResult(outcome.detail);
          logOutcome(outcome);
        },
        // batch size and lag are observed from the event by the telemetry wrapper
        onBatch: ({ partitions }) => logger.info('batch done', batchTotals(partitions)),
      });
    },
    process.env,
    { functionName: FUNCTION_NAME },
  ),
  kafka,
);
