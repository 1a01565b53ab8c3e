/**
 * The Lambda wiring the two Kafka-triggered handlers share, so each handler module
 * says only what is its own (name, the topics it writes, its factory, how it reports
 * an outcome): configuration and the Kafka client made at init, a CONSUMER span per
 * partition with its PRODUCER child (`deliveryTelemetry`), Powertools logs and
 * metrics (`instrumentHandler`), a `batch done` line per invocation, and the client
 * closed after each invocation under `sls invoke local`.
 */
import { functionPrefix, type PipelineConfig, readPipelineConfig } from '../config.ts';
import { safeMessage } from '../errors.ts';
import type { KafkaBatchResponse } from '../events/types.ts';
import { closeAfterEachInvocationWhenLocal, kafkaFromEnvironment } from '../kafka/index.ts';
import {
  type HandlerTelemetry,
  type InstrumentedHandler,
  instrumentHandler,
} from '../telemetry/instrument.ts';
import { outcomeLogger } from '../telemetry/logger.ts';
import { deliveryTelemetry } from '../telemetry/spans.ts';
import type { DeliveryTelemetry } from '../telemetry/types.ts';
import { batchTotals, type PartitionResult, type RecordOutcome } from './processBatch.ts';

/** What a delivery handler factory is given (a subset of its own deps). */
export interface DeliveryLambdaDeps<TDetail> {
  config: PipelineConfig;
  kafka: ReturnType<typeof kafkaFromEnvironment>;
  functionName: string;
  telemetry: DeliveryTelemetry;
  onOutcome: (outcome: RecordOutcome<TDetail>) => void;
  onBatch: (summary: { partitions: PartitionResult[]; response: KafkaBatchResponse }) => void;
}

/** What an outcome reporter may use: the container's logger and metrics, and the default log line. */
export interface OutcomeReporting extends Omit<HandlerTelemetry, 'tracing'> {
  /** The standard log line of an outcome (`logRecordOutcome`). */
  logOutcome: (outcome: RecordOutcome<unknown>) => void;
}

export interface DeliveryLambdaSpec<TDetail> {
  /** The function's name in serverless.yml. */
  functionName: string;
  /** The topics its transactions write (span attributes). */
  destinations: (topics: PipelineConfig['topics']) => string[];
  create: (deps: DeliveryLambdaDeps<TDetail>) => InstrumentedHandler<unknown, KafkaBatchResponse>;
  /** Logs and counts one outcome; `ok` and `poison` arrive once their transaction committed. */
  reportOutcome: (outcome: RecordOutcome<TDetail>, reporting: OutcomeReporting) => void;
}

/**
 * A Kafka-triggered handler, wired for Lambda. Reads `process.env` (or `env`) once.
 *
 * @example
 * export const handler = deliveryLambda({
 *   functionName: 'processOrders',
 *   destinations: (topics) => [topics.processed, topics.dlq],
 *   create: createProcessOrdersHandler,
 *   reportOutcome: (outcome, { metrics, logOutcome }) => { metrics.recordOutcome(outcome); logOutcome(outcome); },
 * });
 */
export const deliveryLambda = <TDetail>(
  spec: DeliveryLambdaSpec<TDetail>,
  env: NodeJS.ProcessEnv = process.env,
) => {
  const { functionName } = spec;
  const config = readPipelineConfig(env);
  const kafka = kafkaFromEnvironment(env);
  const renewKafka = () => {
    // bounded by close()'s own timeouts; the invocation does not wait for it
    void kafka.renew();
  };
  // the mapping's group, as serverless.yml names it unless the environment says otherwise
  const consumerGroup = env.CONSUMER_GROUP_ID?.trim() || functionPrefix(config, functionName);
  return closeAfterEachInvocationWhenLocal(
    instrumentHandler(
      ({ tracing, logger, metrics }) => {
        const reporting: OutcomeReporting = { logger, metrics, logOutcome: outcomeLogger(logger) };
        return spec.create({
          config,
          kafka,
          functionName,
          telemetry: deliveryTelemetry({
            tracing,
            consumerGroup,
            functionName,
            destinations: spec.destinations(config.topics),
          }),
          onOutcome: (outcome) => spec.reportOutcome(outcome, reporting),
          // batch size and lag are observed from the event by the telemetry wrapper
          onBatch: ({ partitions }) => {
            for (const p of partitions) {
              if (p.reinits > 0) metrics.count('fencedReinits', p.reinits);
              if (p.failedAt === undefined) continue;
              // every stopped partition says why, with a stable code
              const code = p.error?.code ?? 'INTERNAL';
              metrics.recordStop(code);
              logger.warn('partition stopped', {
                topic: p.topic,
                partition: p.partition,
                offset: p.failedAt,
                stage: p.stage,
                errorCode: code,
                errorMessage: p.error ? safeMessage(p.error) : 'unknown',
              });
            }
            logger.info('batch done', batchTotals(partitions));
            // a refused login may be a rotated secret: the next invocation logs in afresh
            if (partitions.some((p) => p.error?.code === 'AUTHENTICATION_FAILED')) renewKafka();
          },
        });
      },
      env,
      { functionName },
    ),
    kafka,
    env,
  );
};
