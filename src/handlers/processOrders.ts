/**
 * processOrders: triggered by the MSK event-source mapping on `orders`.
 * Configuration is read once at init; the work is in src/lib/delivery.
 */
import { readPipelineConfig } from '../lib/config.ts';
import { createProcessOrdersHandler } from '../lib/delivery/processOrders.ts';
import { kafkaFromEnvironment } from '../lib/kafka/index.ts';

const config = readPipelineConfig();
const kafka = kafkaFromEnvironment();

export const handler = createProcessOrdersHandler({ config, kafka });
