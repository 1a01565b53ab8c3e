/**
 * The pipeline's spans. No Lambda trigger instrumentation reads Kafka context, so they
 * are made here: a CONSUMER span per partition batch linked to each record's producer
 * context, a PRODUCER span whose context goes onto every record written.
 */
import {
  type Attributes,
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { safeMessage } from '../errors.ts';
import { EventPartition } from '../events/decode.ts';
import type { PartitionBatch } from '../events/types.ts';
import { extractSpanContext, injectContext } from './propagation.ts';
import {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_CONSUMER_GROUP_NAME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_PARTITION_ID,
  ATTR_MESSAGING_KAFKA_MESSAGE_KEY,
  ATTR_MESSAGING_KAFKA_OFFSET,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_PIPELINE_CHECKPOINT,
  ATTR_PIPELINE_FAILED_OFFSET,
  ATTR_PIPELINE_FIRST_OFFSET,
  ATTR_PIPELINE_FUNCTION,
  ATTR_PIPELINE_LAST_OFFSET,
  ATTR_PIPELINE_RECORDS_DEAD_LETTERED,
  ATTR_PIPELINE_RECORDS_OK,
  ATTR_PIPELINE_RECORDS_SKIPPED,
  MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
  MESSAGING_OPERATION_TYPE_VALUE_SEND,
  MESSAGING_SYSTEM_VALUE_KAFKA,
} from './semconv.ts';
import { randomTraceparent, TRACEPARENT } from './traceparent.ts';
import type { Tracing } from './tracing.ts';
import type {
  DeliveryTelemetry,
  PartitionSummary as PartitionResult,
  PartitionSpan,
} from './types.ts';

const headersOf = (span: Span) => injectContext(trace.setSpan(ROOT_CONTEXT, span));

const batchCount = (count: number): Attributes =>
  // semconv: set on batch operations only, never on a single message
  count === 1 ? {} : { [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: count };

const failSpan = (span: Span, error: unknown) => {
  const code = (error as { code?: unknown } | undefined)?.code;
  span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : 'INTERNAL');
  span.setStatus({ code: SpanStatusCode.ERROR, message: safeMessage(error) });
};

export interface DeliveryTelemetryOptions {
  tracing: Tracing;
  /** Messaging operation of the consumer span (its name is `<operation> <topic>`). */
  operation?: 'process';
  /** The event-source mapping's consumer group. */
  consumerGroup?: string;
  /** The function's name in serverless.yml. */
  functionName?: string;
  /**
   * Topics the partition's transaction writes (results, dead letters): they name the
   * PRODUCER span `send <topics>`; with one topic it is also its destination.
   */
  destinations?: readonly string[];
}

const NO_PARTITION_SPAN: PartitionSpan = Object.freeze({
  propagation: Object.freeze({}),
  end: () => {},
});

/**
 * The delivery loop's telemetry: per partition batch, a CONSUMER span `process <topic>`
 * (new trace, one link per record to the producer context in its `traceparent`) and a
 * child PRODUCER span `send <topics>` whose context is the `propagation` written onto
 * every message of the partition's transaction (results and dead letters). Both end in
 * `end(result)`, with status ERROR when the partition stopped on a failure.
 *
 * @example
 * createProcessOrdersHandler({ config, kafka, telemetry: deliveryTelemetry({ tracing, consumerGroup: 'orders-esm', destinations: [topics.processed, topics.dlq] }) });
 */
export const deliveryTelemetry = (options: DeliveryTelemetryOptions): DeliveryTelemetry => {
  const { tracer } = options.tracing;
  if (!options.tracing.enabled || !tracer) return { startPartition: () => NO_PARTITION_SPAN };
  const operation = options.operation ?? MESSAGING_OPERATION_TYPE_VALUE_PROCESS;
  const destinations = options.destinations ?? [];
  const sendName = destinations.length > 0 ? `send ${destinations.join(',')}` : 'send';

  return {
    startPartition: (batch: PartitionBatch): PartitionSpan => {
      // an event's partition is read for its offsets and headers only: its records are
      // decoded by the loop as it reaches them, not all here and kept (events/decode.ts)
      const lazy = batch instanceof EventPartition ? batch : undefined;
      const count = lazy ? lazy.length : batch.records.length;
      const offsetAt = (i: number) => (lazy ? lazy.offsetAt(i) : batch.records[i]!.offset);
      const links: Link[] = [];
      for (let i = 0; i < count; i++) {
        const context = extractSpanContext(lazy ? lazy.headersAt(i) : batch.records[i]!.headers);
        if (context)
          links.push({ context, attributes: { [ATTR_MESSAGING_KAFKA_OFFSET]: offsetAt(i) } });
      }
      const attributes: Attributes = {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_KAFKA,
        [ATTR_MESSAGING_OPERATION_TYPE]: operation,
        [ATTR_MESSAGING_OPERATION_NAME]: operation,
        [ATTR_MESSAGING_DESTINATION_NAME]: batch.topic,
        [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(batch.partition),
        ...batchCount(count),
      };
      if (options.consumerGroup)
        attributes[ATTR_MESSAGING_CONSUMER_GROUP_NAME] = options.consumerGroup;
      if (options.functionName) attributes[ATTR_PIPELINE_FUNCTION] = options.functionName;
      if (count > 0) {
        attributes[ATTR_PIPELINE_FIRST_OFFSET] = offsetAt(0);
        attributes[ATTR_PIPELINE_LAST_OFFSET] = offsetAt(count - 1);
      }
      if (count === 1) {
        attributes[ATTR_MESSAGING_KAFKA_OFFSET] = offsetAt(0);
        const key = (lazy ? lazy.recordAt(0) : batch.records[0]!).key;
        if (key) attributes[ATTR_MESSAGING_KAFKA_MESSAGE_KEY] = key.toString('utf8');
      }
      // a new trace: a batch has many parents, so each is a link (messaging semconv)
      const span = tracer.startSpan(
        `${operation} ${batch.topic}`,
        { kind: SpanKind.CONSUMER, links, attributes, root: true },
        ROOT_CONTEXT,
      );
      const send = tracer.startSpan(
        sendName,
        {
          kind: SpanKind.PRODUCER,
          attributes: {
            [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_KAFKA,
            [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
            [ATTR_MESSAGING_OPERATION_NAME]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
            ...(destinations.length === 1
              ? { [ATTR_MESSAGING_DESTINATION_NAME]: destinations[0] }
              : {}),
          },
        },
        trace.setSpan(ROOT_CONTEXT, span),
      );
      const propagation = Object.freeze(headersOf(send));
      return {
        propagation,
        end: (result: PartitionResult) => {
          span.setAttributes({
            [ATTR_PIPELINE_RECORDS_OK]: result.ok,
            [ATTR_PIPELINE_RECORDS_DEAD_LETTERED]: result.deadLettered,
            [ATTR_PIPELINE_RECORDS_SKIPPED]: result.skipped,
          });
          if (result.checkpoint !== undefined)
            span.setAttribute(ATTR_PIPELINE_CHECKPOINT, result.checkpoint);
          if (result.failedAt !== undefined || result.error) {
            const error =
              result.error ?? new Error(`partition stopped at offset ${result.failedAt}`);
            if (result.failedAt !== undefined)
              span.setAttribute(ATTR_PIPELINE_FAILED_OFFSET, result.failedAt);
            failSpan(span, error);
            // nothing of the partition committed: the send did not happen or failed
            if (result.ok + result.deadLettered === 0) failSpan(send, error);
          }
          send.end();
          span.end();
        },
      };
    },
  };
};

/** A PRODUCER span around one send, and the trace headers for each record it writes. */
export interface ProducerSpan {
  /**
   * Headers to write on one record: the span's `traceparent` (and `tracestate`); with
   * tracing off a fresh random `traceparent` per call, so the header is always there.
   */
  headers(): Record<string, string>;
  /** Ends the span; with an error, status ERROR and a safe message. */
  end(error?: unknown): void;
}

export interface ProducerSpanOptions {
  topic: string;
  messageCount: number;
  /** The caller's context (e.g. an incoming request's), parent of the span. */
  parent?: Context;
}

/**
 * A PRODUCER span `send <topic>` for produceOrders; its context is injected as
 * `traceparent` into every record.
 *
 * @example
 * const span = producerSpan(tracing, { topic: 'orders', messageCount: orders.length });
 * const messages = orders.map((o) => ({ topic: 'orders', key: o.orderId, value: JSON.stringify(o), headers: span.headers() }));
 * try { await client.write(messages); span.end(); } catch (e) { span.end(e); throw e; }
 */
export const producerSpan = (tracing: Tracing, options: ProducerSpanOptions): ProducerSpan => {
  const { tracer } = tracing;
  if (!tracing.enabled || !tracer)
    return { headers: () => ({ [TRACEPARENT]: randomTraceparent() }), end: () => {} };
  const span = tracer.startSpan(
    `send ${options.topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_KAFKA,
        [ATTR_MESSAGING_OPERATION_TYPE]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
        [ATTR_MESSAGING_OPERATION_NAME]: MESSAGING_OPERATION_TYPE_VALUE_SEND,
        [ATTR_MESSAGING_DESTINATION_NAME]: options.topic,
        ...batchCount(options.messageCount),
      },
    },
    options.parent ?? ROOT_CONTEXT,
  );
  let headers = headersOf(span);
  // a non-recording span of an unsampled trace still has a valid context; this is for
  // a provider whose sampler drops the span entirely
  if (!headers[TRACEPARENT]) headers = { [TRACEPARENT]: randomTraceparent() };
  let ended = false;
  return {
    headers: () => ({ ...headers }),
    end: (error?: unknown) => {
      if (ended) return;
      ended = true;
      if (error !== undefined) failSpan(span, error);
      span.end();
    },
  };
};
