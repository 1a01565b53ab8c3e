/**
 * kafkajs's errors as the pipeline's: the client marks each error `retriable` and names
 * its protocol error in `type`; this maps them to stable codes, here beside the only
 * kafkajs importer, so the rest of the product never learns the client's error names.
 * Every Kafka failure is retriable for the batch: fencing and aborted transactions too
 * (the next invocation re-initialises the producer).
 */
import { PipelineError, type RetriableCode, RetriableError, safeMessage } from '../errors.ts';

type KafkaJsErrorShape = { name?: string; type?: string };

// Node's (OpenSSL's) codes for a certificate the client cannot verify.
const TLS_UNTRUSTED_CODES: ReadonlySet<string> = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** A failure kafkajs wraps (retries exceeded) may hide its cause: look down the chain. */
const inChain = (error: unknown, test: (link: { name?: unknown; code?: unknown }) => boolean) => {
  type Link = { name?: unknown; code?: unknown; cause?: unknown };
  let depth = 0;
  for (let link = error as Link | undefined; link && depth < 5; link = link.cause as Link, depth++)
    if (test(link)) return true;
  return false;
};

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
  if (inChain(error, (e) => e.name === 'KafkaJSSASLAuthenticationError'))
    return new RetriableError(
      'AUTHENTICATION_FAILED',
      `the broker refused SASL authentication (a wrong SCRAM username or password, or an IAM role without kafka-cluster:Connect): ${message}`,
      { cause: error },
    );
  if (inChain(error, (e) => TLS_UNTRUSTED_CODES.has(e.code as string)))
    return new RetriableError(
      'TLS_UNTRUSTED',
      `the broker's TLS certificate is not trusted (if a private CA signed it, KAFKA_TLS_CA_FILE must name that CA): ${message}`,
      { cause: error },
    );
  return new RetriableError(codeOf(error as KafkaJsErrorShape | null), message, { cause: error });
};
