import { readStackEnv } from '../../scripts/stack.ts';

/** The broker the integration tests use (set by the global setup). */
export const kafkaBrokers = (): string => {
  const brokers = process.env.KAFKA_BROKERS ?? readStackEnv()?.KAFKA_BROKERS;
  if (!brokers)
    throw new Error('no KAFKA_BROKERS: integration tests need the stack (npm run stack:up)');
  return brokers;
};

export const awsEndpoint = (): string => {
  const url = process.env.AWS_ENDPOINT_URL ?? readStackEnv()?.AWS_ENDPOINT_URL;
  if (!url)
    throw new Error('no AWS_ENDPOINT_URL: integration tests need the stack (npm run stack:up)');
  return url;
};

/** A name no other test run uses. */
export const uniqueName = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
