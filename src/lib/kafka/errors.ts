/**
 * kafkajs's errors as the pipeline's: the client marks each error `retriable` and names
 * its protocol error in `type`; this maps them to stable codes, here beside the only
 * kafkajs importer, so the rest of the product never learns the client's error names.
 * Every Kafka failure is retriable for the batch: fencing and aborted transactions too
 * (the next invocation re-initialises the producer).
 */
import { PipelineError, type RetriableCode, RetriableError, safeMessage } from '../errors.ts';

type KafkaJsErrorShape = { name?: string; type?: string };

const codeOf = (error: KafkaJsErrorShape | null | undefined): RetriableCode => {
  const name = error?.name ?? '';
  const type = error?.type ?? '';
  if (
    type === 'INVALID_PRODUCER_EPOCH' ||
    type === 'PRODUCER_FENCED' ||
    name === 'KafkaJSProducerFencedError'
  )
    return 'PRODUCER_FENCED';
  if (
    name === 'KafkaJSRequestTimeoutError' ||
    name === 'KafkaJSTimeout' ||
    type === 'REQUEST_TIMED_OUT'
  )
    return 'TIMEOUT';
  if (
    type === 'CONCURRENT_TRANSACTIONS' ||
    type === 'INVALID_TXN_STATE' ||
    type === 'TRANSACTION_ABORTED'
  )
    return 'TRANSACTION_ABORTED';
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION') return 'UNKNOWN_TOPIC_OR_PARTITION';
  if (name.startsWith('KafkaJS')) return 'BROKER_UNAVAILABLE';
  return 'TRANSIENT';
};

/**
 * Anything a kafkajs call threw, as a {@link PipelineError} with a stable code. A
 * PipelineError passes as it is. `context` (what was being done) prefixes the message.
 *
 * @example
 * fromKafkaError(Object.assign(new Error('fenced'), { type: 'INVALID_PRODUCER_EPOCH' })).code // 'PRODUCER_FENCED'
 */
export const fromKafkaError = (error: unknown, context?: string): PipelineError => {
  if (error instanceof PipelineError) return error;
  const message = context ? `${context}: ${safeMessage(error)}` : safeMessage(error);
  return new RetriableError(codeOf(error as KafkaJsErrorShape | null), message, { cause: error });
};
