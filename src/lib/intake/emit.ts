/**
 * Emitting a validated request: every order to the orders topic in ONE Kafka
 * transaction (all or none), each with a `traceparent`, one transaction at a time.
 */
import { randomBytes } from 'node:crypto';
import {
  loadOrderCodecs,
  type OrderFormat,
  orderSchemaVersionId,
  orderValue,
} from '../formats/index.ts';
import {
  beforeDeadline,
  type CallBounds,
  type OutboundMessage,
  type PlacedMessage,
  type TransactionalProducerOptions,
} from '../kafka/index.ts';
import type { Order } from '../orders/index.ts';
import { producerSpan } from '../telemetry/spans.ts';
import type { Tracing } from '../telemetry/tracing.ts';
import type { ProduceOrdersResult } from './request.ts';

/** Only what produceOrders needs of the Kafka client (a `KafkaClient` fits). */
export interface OrderWriter {
  write(
    messages: OutboundMessage[],
    checkpoint?: undefined,
    bounds?: CallBounds,
  ): Promise<PlacedMessage[]>;
}
export interface ProduceOrdersKafka {
  transactionalProducer(
    transactionalId: string,
    options?: TransactionalProducerOptions,
  ): { producer: OrderWriter };
}

/** Random lowercase hex of `bytes` bytes, never all zeros. */
export const randomHex = (bytes: number): string => {
  for (;;) {
    const hex = randomBytes(bytes).toString('hex');
    // W3C trace context: an all-zero trace id or span id is invalid.
    if (!/^0+$/.test(hex)) return hex;
  }
};

/**
 * A new W3C `traceparent` (version 00, random trace id and span id, sampled): what an
 * order carries when the handler is built without `tracing`.
 *
 * @example
 * newTraceparent(); // '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
 */
export const newTraceparent = (): string => `00-${randomHex(16)}-${randomHex(8)}-01`;

export interface OrderEmitterOptions {
  /** The orders topic. */
  topic: string;
  /** The Kafka client, created on first use and kept for warm invocations. */
  kafka: () => Promise<ProduceOrdersKafka>;
  transactionalId: string;
  producerOptions: TransactionalProducerOptions;
  /** See `ProduceOrdersDeps.tracing`. */
  tracing?: Tracing;
  now: () => Date;
  /** A registry format to write orders in (`ORDER_FORMAT`); none: plain JSON. */
  format?: OrderFormat | undefined;
}

/**
 * A function that writes a request's orders in one transaction and says where each
 * landed. Calls run one at a time: one transaction at a time per producer; Lambda sends
 * one request at a time per container, local tools may not.
 *
 * @example
 * const emit = orderEmitter({ topic: 'orders', kafka, transactionalId, producerOptions: {}, now: () => new Date() });
 * const { orders } = await emit(validOrders); // [{ orderId, partition, offset }]
 *
 * `deadline` (epoch ms) bounds the registry look-up of a format's schema version id (the
 * first emit of a container whose format has no configured id); default 10 s from now.
 */
export const orderEmitter = (
  options: OrderEmitterOptions,
): ((orders: Order[], bounds?: CallBounds) => Promise<ProduceOrdersResult>) => {
  const { topic, transactionalId, producerOptions } = options;
  let tail: Promise<unknown> = Promise.resolve();
  const exclusively = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };

  const { format } = options;
  // time kept after a registry look-up for the transaction itself
  const LOOK_UP_RESERVE_MS = 1_000;
  return async (orders, bounds) => {
    // the format libraries load on the first emit, and only with a format configured
    const codecs = format ? await loadOrderCodecs() : undefined;
    // configured, or from the registry once per container; nothing is written without it
    const framing = format && {
      format: format.format,
      schemaVersionId: await orderSchemaVersionId(
        format,
        (bounds?.deadline ?? Date.now() + 10_000) - LOOK_UP_RESERVE_MS,
      ),
    };
    const timestamp = String(options.now().getTime());
    const span = options.tracing
      ? producerSpan(options.tracing, { topic, messageCount: orders.length })
      : undefined;
    const messages: OutboundMessage[] = orders.map((order) => ({
      topic,
      key: order.orderId,
      value: framing && codecs ? orderValue(order, framing, codecs) : JSON.stringify(order),
      headers: span ? span.headers() : { traceparent: newTraceparent() },
      timestamp,
    }));
    let placed: PlacedMessage[];
    try {
      placed = await exclusively(async () => {
        // a cold start reads brokers and the SCRAM secret: bounded like the write
        const kafka = await beforeDeadline(options.kafka(), bounds, 'Kafka client set-up');
        const { producer } = kafka.transactionalProducer(transactionalId, producerOptions);
        return producer.write(messages, undefined, bounds);
      });
    } catch (error) {
      span?.end(error);
      throw error;
    }
    span?.end();
    return {
      topic,
      orders: orders.map((order, i) => ({
        orderId: order.orderId,
        partition: placed[i]!.partition,
        offset: placed[i]!.offset,
      })),
    };
  };
};
