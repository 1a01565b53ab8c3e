/**
 * republishDlq: triggered by the MSK event-source mapping on `orders.dlq`.
 * Republishes dead letters to their original topic with back-off, parks them
 * when attempts run out; transactional per partition like processOrders.
 */
import { readPipelineConfig } from '../lib/config.ts';
import { createRepublishDlqHandler } from '../lib/delivery/republishDlq.ts';
import { kafkaFromEnvironment } from '../lib/kafka/index.ts';

const config = readPipelineConfig();
const kafka = kafkaFromEnvironment();

export const handler = createRepublishDlqHandler({ config, kafka });
