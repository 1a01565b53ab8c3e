/**
 * produceOrders: direct invoke `{idempotencyKey, orders}` or HTTP API `POST /orders`.
 * Every order is validated first; all are written in one Kafka transaction; a
 * repeated idempotency key returns the first result (DynamoDB, via Powertools).
 */
import { readPipelineConfig } from '../lib/config.ts';
import { kafkaFromEnvironment } from '../lib/kafka/index.ts';
import {
  createProduceOrdersHandler,
  readIdempotencySettings,
} from '../lib/producer/produceOrders.ts';

const config = readPipelineConfig();
const kafka = kafkaFromEnvironment();
const idempotency = readIdempotencySettings();

export const handler = createProduceOrdersHandler({ config, kafka, idempotency });
