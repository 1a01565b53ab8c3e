import { down, status, up } from '../../scripts/stack.ts';

/**
 * Integration tests get the real stack: reuse a running one, else start it and
 * stop it again at the end. KAFKA_BROKERS / AWS_ENDPOINT_URL set means: use those.
 */
export default async function setup() {
  const before = status();
  const wasRunning =
    Boolean(process.env.KAFKA_BROKERS || before.kafka) &&
    Boolean(process.env.AWS_ENDPOINT_URL || before.moto);
  const env = await up();
  process.env.KAFKA_BROKERS = env.KAFKA_BROKERS;
  process.env.AWS_ENDPOINT_URL = env.AWS_ENDPOINT_URL;
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';
  return async () => {
    if (!wasRunning && (env.ownsBroker || env.ownsEmulator)) await down();
  };
}
