/**
 * produceOrders: direct invoke `{idempotencyKey, orders}` or HTTP API `POST /orders`.
 * Every order is validated first; all are written in one Kafka transaction; a
 * repeated idempotency key returns the first result (DynamoDB, via Powertools).
 *
 * Telemetry (src/lib/telemetry): a PRODUCER span per emit whose context is every
 * order's `traceparent` (tracing off: a fresh random one per order); request logs;
 * counts of orders `emitted` and `replayed` and of `invalid` requests. Tracing starts
 * at init and is awaited by the first invocation (no top-level `await`).
 */
import { readPipelineConfig } from '../lib/config.ts';
import { readOrderFormat } from '../lib/formats/index.ts';
import { readIdempotencySettings } from '../lib/intake/idempotency.ts';
import { createProduceOrdersHandler } from '../lib/intake/produceOrders.ts';
import { produceOutcomeReporter } from '../lib/intake/produceOutcome.ts';
import { closeAfterEachInvocationWhenLocal, kafkaFromEnvironment } from '../lib/kafka/index.ts';
import { instrumentHandler } from '../lib/telemetry/instrument.ts';

const FUNCTION_NAME = 'produceOrders';
const config = readPipelineConfig();
const kafka = kafkaFromEnvironment();
const idempotency = readIdempotencySettings();
// orders in a registry format (Avro, Protobuf, JSON Schema), Glue-framed, when configured
const orderFormat = readOrderFormat(process.env);

export const handler = closeAfterEachInvocationWhenLocal(
  instrumentHandler(
    ({ tracing, logger, metrics }) =>
      createProduceOrdersHandler({
        config,
        kafka,
        idempotency,
        tracing,
        ...(orderFormat ? { orderFormat } : {}),
        onOutcome: produceOutcomeReporter(logger, metrics),
      }),
    process.env,
    { functionName: FUNCTION_NAME },
  ),
  kafka,
);
