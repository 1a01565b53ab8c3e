import {
  IdempotencyItemAlreadyExistsError,
  IdempotencyItemNotFoundError,
} from '@aws-lambda-powertools/idempotency';
import {
  BasePersistenceLayer,
  type IdempotencyRecord,
} from '@aws-lambda-powertools/idempotency/persistence';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../../src/lib/config.ts';
import {
  IdempotencyKeyReusedError,
  InvalidRequestError,
  PipelineError,
  RequestInProgressError,
  RetriableError,
} from '../../../src/lib/errors.ts';
import { newTraceparent } from '../../../src/lib/intake/emit.ts';
import { readIdempotencySettings } from '../../../src/lib/intake/idempotency.ts';
import {
  createProduceOrdersHandler,
  type ProduceOrdersDeps,
} from '../../../src/lib/intake/produceOrders.ts';
import {
  type ProduceOrdersResult,
  validateProduceRequest,
} from '../../../src/lib/intake/request.ts';
import type { OutboundMessage, PlacedMessage } from '../../../src/lib/kafka/types.ts';
import { createTracing, NOOP_TRACING } from '../../../src/lib/telemetry/tracing.ts';
import { httpEvent, orderFixture } from '../../support/fixtures.ts';

const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-01$/;
const config = readPipelineConfig({
  SERVICE_NAME: 'shop',
  STAGE: 'test',
  TOPIC_ORDERS: 'orders.in',
});

/**
 * An in-memory Kafka writer: every `write` is one "transaction" that either
 * places all messages (3 partitions, offsets counting per partition) or throws.
 */
const fakeKafka = () => {
  const transactions: Array<{ transactionalId: string; messages: OutboundMessage[] }> = [];
  const next = new Map<number, number>();
  const state = {
    transactions,
    failures: 0,
    gate: undefined as Promise<void> | undefined,
    entered: () => {},
  };
  const kafka = {
    transactionalProducer: (transactionalId: string) => ({
      producer: {
        write: async (messages: OutboundMessage[]): Promise<PlacedMessage[]> => {
          state.entered();
          if (state.gate) await state.gate;
          if (state.failures > 0) {
            state.failures--;
            throw new RetriableError('BROKER_UNAVAILABLE', 'broker went away');
          }
          transactions.push({ transactionalId, messages });
          return messages.map((m) => {
            const partition = [...String(m.key)].reduce((a, c) => a + c.charCodeAt(0), 0) % 3;
            const offset = next.get(partition) ?? 0;
            next.set(partition, offset + 1);
            return {
              topic: m.topic,
              partition,
              baseOffset: String(offset),
              offset: String(offset),
            };
          });
        },
      },
    }),
  };
  return { state, kafka };
};

/** Powertools' contract on a Map, with the DynamoDB layer's put condition. */
class InMemoryPersistenceLayer extends BasePersistenceLayer {
  readonly items = new Map<string, IdempotencyRecord>();
  /** Makes storing results fail, as a throttled table would. */
  failUpdates = false;
  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const existing = this.items.get(record.idempotencyKey);
    const inProgressExpired =
      existing?.getStatus() === 'INPROGRESS' &&
      existing.inProgressExpiryTimestamp !== undefined &&
      existing.inProgressExpiryTimestamp < Date.now();
    if (existing && !existing.isExpired() && !inProgressExpired)
      throw new IdempotencyItemAlreadyExistsError('exists', existing);
    this.items.set(record.idempotencyKey, record);
  }
  protected async _getRecord(key: string): Promise<IdempotencyRecord> {
    const record = this.items.get(key);
    if (!record) throw new IdempotencyItemNotFoundError();
    return record;
  }
  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    if (this.failUpdates) throw new Error('DynamoDB throttled');
    // stored as DynamoDB would: a copy, not the caller's object
    record.responseData = structuredClone(record.responseData);
    this.items.set(record.idempotencyKey, record);
  }
  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    this.items.delete(record.idempotencyKey);
  }
}

const setup = (overrides: Partial<ProduceOrdersDeps> = {}, withIdempotency = false) => {
  const fake = fakeKafka();
  const store = new InMemoryPersistenceLayer();
  const handler = createProduceOrdersHandler({
    config,
    kafka: async () => fake.kafka,
    now: () => new Date('2025-11-24T16:00:00Z'),
    ...(withIdempotency && { idempotency: { persistenceStore: store } }),
    ...overrides,
  });
  return { handler, store, ...fake };
};

const orders = (n: number, from = 0) => Array.from({ length: n }, (_, i) => orderFixture(from + i));

const invalidIssues = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InvalidRequestError);
  return (error as InvalidRequestError).issues;
};

describe('newTraceparent', () => {
  it('is a valid W3C traceparent, new every time', () => {
    // Act
    const values = Array.from({ length: 100 }, () => newTraceparent());

    // Assess
    for (const v of values) expect(v).toMatch(TRACEPARENT);
    expect(new Set(values.map((v) => v.slice(3, 35))).size).toBe(100);
  });
});

describe('produceOrders: direct invoke', () => {
  it('emits every order in one transaction, keyed by orderId, with a traceparent, and says where each landed', async () => {
    // Prepare
    const { handler, state } = setup();
    const input = orders(5);

    // Act
    const result = await handler({ idempotencyKey: 'k-1', orders: input });

    // Assess
    expect(state.transactions).toHaveLength(1);
    const [tx] = state.transactions;
    expect(tx!.messages.map((m) => m.key)).toEqual(input.map((o) => o.orderId));
    expect(tx!.messages.every((m) => m.topic === 'orders.in')).toBe(true);
    const traceparents = tx!.messages.map((m) => String(m.headers?.traceparent));
    for (const t of traceparents) expect(t).toMatch(TRACEPARENT);
    expect(new Set(traceparents).size).toBe(5);
    // the value is the parsed order: prices normalised to minor units
    const first = JSON.parse(String(tx!.messages[1]!.value));
    expect(first.orderId).toBe(input[1]!.orderId);
    expect(
      first.items.every((i: { unitPriceMinor?: number }) => Number.isInteger(i.unitPriceMinor)),
    ).toBe(true);
    expect(tx!.messages[0]!.timestamp).toBe(String(Date.parse('2025-11-24T16:00:00Z')));
    expect(result.topic).toBe('orders.in');
    expect(result.orders.map((o) => o.orderId)).toEqual(input.map((o) => o.orderId));
    for (const o of result.orders) {
      expect(o.partition).toBeGreaterThanOrEqual(0);
      expect(o.offset).toMatch(/^\d+$/);
    }
  });

  it('uses one transactional id per container: <service>-<stage>-produceOrders-<random>', async () => {
    // Prepare
    const a = setup();
    const b = setup();

    // Act
    await a.handler({ idempotencyKey: 'k-1', orders: orders(1) });
    await a.handler({ idempotencyKey: 'k-2', orders: orders(1, 1) });
    await b.handler({ idempotencyKey: 'k-3', orders: orders(1, 2) });

    // Assess
    const [first, second] = a.state.transactions.map((t) => t.transactionalId);
    expect(first).toMatch(/^shop-test-produceOrders-[0-9a-f]{12}$/);
    expect(second).toBe(first);
    expect(b.state.transactions[0]!.transactionalId).not.toBe(first);
    expect(a.handler.transactionalId).toBe(first);
  });

  it('rejects the whole request when one order is invalid, naming it, and emits nothing', async () => {
    // Prepare
    const { handler, state } = setup();
    const input: unknown[] = orders(4);
    input[2] = { ...orderFixture(2), currency: 'EURO' };

    // Act
    const issues = await invalidIssues(handler({ idempotencyKey: 'k-1', orders: input }));

    // Assess
    expect(issues).toEqual([
      { index: 2, orderId: 'ord-000002', message: expect.stringContaining('currency') },
    ]);
    expect(state.transactions).toHaveLength(0);
  });

  it('lists every invalid order, with its orderId when it has one', async () => {
    // Prepare
    const { handler, state } = setup();
    const input: unknown[] = orders(5);
    input[0] = 'not an order';
    input[3] = { ...orderFixture(3), items: [] };
    input[4] = { ...orderFixture(4), orderId: 'has spaces', createdAt: 'yesterday' };

    // Act
    const issues = await invalidIssues(handler({ idempotencyKey: 'k-1', orders: input }));

    // Assess
    expect(issues.map((i) => i.index)).toEqual([0, 3, 4, 4]);
    expect(issues[0]!.orderId).toBeUndefined();
    expect(issues[1]).toMatchObject({
      orderId: 'ord-000003',
      message: expect.stringContaining('items'),
    });
    expect(issues[2]!.orderId).toBeUndefined();
    expect(
      issues
        .slice(2)
        .map((i) => i.message.split(':')[0])
        .sort(),
    ).toEqual(['createdAt', 'orderId']);
    expect(state.transactions).toHaveLength(0);
  });

  it('rejects an orderId repeated within a request', async () => {
    // Prepare
    const { handler, state } = setup();
    const input = [orderFixture(0), orderFixture(1), { ...orderFixture(2), orderId: 'ord-000000' }];

    // Act
    const issues = await invalidIssues(handler({ idempotencyKey: 'k-1', orders: input }));

    // Assess
    expect(issues).toEqual([
      { index: 2, orderId: 'ord-000000', message: 'orderId repeats the order at index 0' },
    ]);
    expect(state.transactions).toHaveLength(0);
  });

  it.each([
    ['an empty list', { idempotencyKey: 'k', orders: [] }, /at least one order/],
    ['too many orders', { idempotencyKey: 'k', orders: orders(4) }, /holds 4 orders, at most 3/],
    ['no idempotency key', { orders: orders(1) }, /idempotencyKey is required/],
    [
      'an empty idempotency key',
      { idempotencyKey: '', orders: orders(1) },
      /idempotencyKey is required/,
    ],
    ['a key with spaces', { idempotencyKey: 'a b', orders: orders(1) }, /visible ASCII/],
    ['a key of 256 characters', { idempotencyKey: 'k'.repeat(256), orders: orders(1) }, /1-255/],
    ['orders not an array', { idempotencyKey: 'k', orders: { a: 1 } }, /must be an array/],
    ['not an object', [orders(1)], /must be an object/],
  ])('rejects %s and emits nothing', async (_name, request, message) => {
    // Prepare
    const { handler, state } = setup({ maxOrders: 3 });

    // Act
    const error = await handler(request as never).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toMatch(message);
    expect((error as PipelineError).retriable).toBe(false);
    expect(state.transactions).toHaveLength(0);
  });

  it('rejects an order above the record size limit', () => {
    // Act
    const act = () =>
      validateProduceRequest(
        { idempotencyKey: 'k', orders: [orderFixture(0), orderFixture(1, { items: 50 })] },
        { maxOrders: 10, maxRecordBytes: 1_000 },
      );

    // Assess
    expect(act).toThrowError(
      expect.objectContaining({
        issues: [
          {
            index: 1,
            orderId: 'ord-000001',
            message: expect.stringMatching(/above the 1000-byte/),
          },
        ],
      }),
    );
  });

  it('throws a retriable error when the transaction fails', async () => {
    // Prepare
    const { handler, state } = setup();
    state.failures = 1;

    // Act
    const error = await handler({ idempotencyKey: 'k-1', orders: orders(2) }).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(PipelineError);
    expect((error as PipelineError).retriable).toBe(true);
    expect(state.transactions).toHaveLength(0);
  });
});

describe('produceOrders: idempotency (in-memory persistence)', () => {
  it('returns the first result for a repeated key and emits nothing again', async () => {
    // Prepare
    const { handler, state, store } = setup({}, true);
    const request = { idempotencyKey: 'k-1', orders: orders(3) };
    const first = await handler(request);

    // Act
    const again = await handler(structuredClone(request));

    // Assess
    expect(again).toEqual(first);
    expect(state.transactions).toHaveLength(1);
    const [record] = [...store.items.values()];
    expect(record!.idempotencyKey).toMatch(/^shop-test-produceOrders#/);
  });

  it('keys by the idempotency key: another key emits again', async () => {
    // Prepare
    const { handler, state } = setup({}, true);
    await handler({ idempotencyKey: 'k-1', orders: orders(2) });

    // Act
    await handler({ idempotencyKey: 'k-2', orders: orders(2) });

    // Assess
    expect(state.transactions).toHaveLength(2);
  });

  it('treats the same orders with prices spelled differently as the same payload', async () => {
    // Prepare
    const { handler, state } = setup({}, true);
    const order = {
      ...orderFixture(0),
      currency: 'EUR' as const,
      items: [{ sku: 'S-1', quantity: 1, unitPrice: '12.30' }],
    };
    await handler({ idempotencyKey: 'k-1', orders: [order] });

    // Act
    const again = handler({
      idempotencyKey: 'k-1',
      orders: [{ ...order, items: [{ sku: 'S-1', quantity: 1, unitPriceMinor: 1230 }] }],
    });

    // Assess
    await expect(again).resolves.toMatchObject({ orders: [{ orderId: 'ord-000000' }] });
    expect(state.transactions).toHaveLength(1);
  });

  it('refuses a repeated key with different orders', async () => {
    // Prepare
    const { handler, state } = setup({}, true);
    await handler({ idempotencyKey: 'k-1', orders: orders(2) });

    // Act
    const error = await handler({ idempotencyKey: 'k-1', orders: orders(2, 5) }).catch(
      (e: unknown) => e,
    );

    // Assess
    expect(error).toBeInstanceOf(IdempotencyKeyReusedError);
    expect((error as PipelineError).retriable).toBe(false);
    expect(state.transactions).toHaveLength(1);
  });

  it('answers a duplicate that arrives while the first is in flight with a retriable in-progress error', async () => {
    // Prepare
    const { handler, state } = setup({}, true);
    let release = () => {};
    state.gate = new Promise<void>((r) => {
      release = r;
    });
    const entered = new Promise<void>((r) => {
      state.entered = r;
    });
    const request = { idempotencyKey: 'k-1', orders: orders(2) };
    const first = handler(request);
    await entered;

    // Act
    const duplicate = await handler(structuredClone(request)).catch((e: unknown) => e);
    release();

    // Assess
    expect(duplicate).toBeInstanceOf(RequestInProgressError);
    expect((duplicate as PipelineError).retriable).toBe(true);
    await expect(first).resolves.toMatchObject({ topic: 'orders.in' });
    expect(state.transactions).toHaveLength(1);
  });

  it('does not store a failed request: a retry with the same key emits', async () => {
    // Prepare
    const { handler, state, store } = setup({}, true);
    state.failures = 1;
    const request = { idempotencyKey: 'k-1', orders: orders(2) };
    await expect(handler(request)).rejects.toMatchObject({ retriable: true });
    expect(store.items.size).toBe(0);

    // Act
    const result = await handler(request);

    // Assess
    expect(state.transactions).toHaveLength(1);
    expect(result.orders).toHaveLength(2);
  });

  it('does not store an invalid request', async () => {
    // Prepare
    const { handler, state, store } = setup({}, true);
    const input: unknown[] = orders(2);
    input[1] = {};

    // Act
    await expect(handler({ idempotencyKey: 'k-1', orders: input })).rejects.toBeInstanceOf(
      InvalidRequestError,
    );
    const fixed = await handler({ idempotencyKey: 'k-1', orders: orders(2) });

    // Assess
    expect(store.items.size).toBe(1);
    expect(fixed.orders).toHaveLength(2);
    expect(state.transactions).toHaveLength(1);
  });

  it('answers success when the orders are committed but the result cannot be stored', async () => {
    // Prepare
    const { handler, state, store } = setup({}, true);
    store.failUpdates = true;

    // Act
    const result = await handler({ idempotencyKey: 'k-1', orders: orders(2) });

    // Assess: the caller must not retry orders that are already in Kafka
    expect(result.orders).toHaveLength(2);
    expect(state.transactions).toHaveLength(1);
  });

  it('reports each outcome', async () => {
    // Prepare
    const kinds: string[] = [];
    const { handler } = setup({ onOutcome: (o) => kinds.push(o.kind) }, true);
    const request = { idempotencyKey: 'k-1', orders: orders(1) };

    // Act
    await handler(request);
    await handler(request);
    await handler({ idempotencyKey: 'k-2', orders: [] }).catch(() => {});

    // Assess
    expect(kinds).toEqual(['emitted', 'replayed', 'invalid']);
  });
});

describe('produceOrders: tracing', () => {
  const traced = async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, processor: 'simple' });
    return { exporter, tracing };
  };

  it('puts the context of one PRODUCER span per emit on every order', async () => {
    // Prepare
    const { exporter, tracing } = await traced();
    const { handler, state } = setup({ tracing }, true);
    const request = { idempotencyKey: 'k-1', orders: orders(3) };

    // Act
    await handler(request);
    await handler(request); // a replay emits nothing, so no span

    // Assess
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(1);
    const [span] = spans;
    expect(span!.name).toBe('send orders.in');
    expect(span!.kind).toBe(SpanKind.PRODUCER);
    expect(span!.attributes['messaging.batch.message_count']).toBe(3);
    const { traceId, spanId } = span!.spanContext();
    expect(state.transactions[0]!.messages.map((m) => m.headers?.traceparent)).toEqual(
      Array(3).fill(`00-${traceId}-${spanId}-01`),
    );
  });

  it('ends the span with an error when the transaction fails', async () => {
    // Prepare
    const { exporter, tracing } = await traced();
    const { handler, state } = setup({ tracing });
    state.failures = 1;

    // Act
    await handler({ idempotencyKey: 'k-1', orders: orders(1) }).catch(() => {});

    // Assess
    const [span] = exporter.getFinishedSpans();
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['error.type']).toBe('BROKER_UNAVAILABLE');
  });

  it('gives every order a fresh random traceparent with tracing off', async () => {
    // Prepare
    const { handler, state } = setup({ tracing: NOOP_TRACING });

    // Act
    await handler({ idempotencyKey: 'k-1', orders: orders(4) });

    // Assess
    const traceparents = state.transactions[0]!.messages.map((m) => String(m.headers?.traceparent));
    for (const t of traceparents) expect(t).toMatch(TRACEPARENT);
    expect(new Set(traceparents).size).toBe(4);
  });
});

describe('produceOrders: HTTP API', () => {
  const bodyOf = (response: { body?: string }) => JSON.parse(response.body ?? 'null');

  it('answers 200 with where each order landed; the key comes from the Idempotency-Key header', async () => {
    // Prepare
    const { handler, state } = setup({}, true);
    const event = httpEvent({ orders: orders(2) }, { headers: { 'idempotency-key': 'h-1' } });

    // Act
    const response = await handler(event);

    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.headers?.['content-type']).toBe('application/json');
    const body = bodyOf(response) as ProduceOrdersResult;
    expect(body.orders.map((o) => o.orderId)).toEqual(['ord-000000', 'ord-000001']);
    expect(state.transactions).toHaveLength(1);
  });

  it('replays the same body for a repeated key and says so', async () => {
    // Prepare
    const { handler, state } = setup({}, true);
    const event = httpEvent({ orders: orders(2), idempotencyKey: 'b-1' });
    const first = await handler(event);

    // Act: the header as the IETF draft writes it, a quoted string
    const again = await handler(
      httpEvent({ orders: orders(2) }, { headers: { 'Idempotency-Key': '"b-1"' } }),
    );

    // Assess
    expect(again.statusCode).toBe(200);
    expect(again.body).toBe(first.body);
    expect(again.headers?.['idempotent-replayed']).toBe('true');
    expect(first.headers?.['idempotent-replayed']).toBeUndefined();
    expect(state.transactions).toHaveLength(1);
  });

  it('accepts a base64-encoded body', async () => {
    // Prepare
    const { handler } = setup();

    // Act
    const response = await handler(
      httpEvent({ orders: orders(1), idempotencyKey: 'b-1' }, { base64: true }),
    );

    // Assess
    expect(response.statusCode).toBe(200);
  });

  it('answers 400 with the per-order issues and emits nothing', async () => {
    // Prepare
    const { handler, state } = setup();
    const input: unknown[] = orders(3);
    input[1] = { ...orderFixture(1), items: [{ sku: 'S', quantity: 0, unitPriceMinor: 1 }] };

    // Act
    const response = await handler(
      httpEvent({ orders: input }, { headers: { 'idempotency-key': 'k' } }),
    );

    // Assess
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({
      error: 'INVALID_REQUEST',
      message: '1 of 3 orders are invalid',
      issues: [
        {
          index: 1,
          orderId: 'ord-000001',
          message: 'items[0].quantity: quantity must be at least 1',
        },
      ],
    });
    expect(state.transactions).toHaveLength(0);
  });

  it.each([
    ['no idempotency key', httpEvent({ orders: orders(1) }), /idempotencyKey is required/],
    [
      'a body that is not JSON',
      httpEvent('{"orders": [', { headers: { 'idempotency-key': 'k' } }),
      /body must be JSON/,
    ],
    [
      'a JSON array body',
      httpEvent([orderFixture(0)], { headers: { 'idempotency-key': 'k' } }),
      /JSON object/,
    ],
    [
      'header and body keys that differ',
      httpEvent(
        { orders: orders(1), idempotencyKey: 'a' },
        { headers: { 'idempotency-key': 'b' } },
      ),
      /differ/,
    ],
  ])('answers 400 for %s', async (_name, event, message) => {
    // Prepare
    const { handler, state } = setup();

    // Act
    const response = await handler(event);

    // Assess
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toMatchObject({
      error: 'INVALID_REQUEST',
      issues: [],
      message: expect.stringMatching(message),
    });
    expect(state.transactions).toHaveLength(0);
  });

  it('answers 405 to anything but POST', async () => {
    // Prepare
    const { handler } = setup();

    // Act
    const response = await handler(httpEvent({}, { method: 'GET' }));

    // Assess
    expect(response.statusCode).toBe(405);
    expect(response.headers?.allow).toBe('POST');
  });

  it('answers 409 while the same key is in flight, then 200 with the first result', async () => {
    // Prepare
    const { handler, state } = setup({}, true);
    let release = () => {};
    state.gate = new Promise<void>((r) => {
      release = r;
    });
    const entered = new Promise<void>((r) => {
      state.entered = r;
    });
    const event = () => httpEvent({ orders: orders(2) }, { headers: { 'idempotency-key': 'k-1' } });
    const first = handler(event());
    await entered;

    // Act
    const duplicate = await handler(event());
    release();
    const firstResponse = await first;
    const later = await handler(event());

    // Assess
    expect(duplicate.statusCode).toBe(409);
    expect(bodyOf(duplicate).error).toBe('REQUEST_IN_PROGRESS');
    expect(duplicate.headers?.['retry-after']).toBe('1');
    expect(firstResponse.statusCode).toBe(200);
    expect(later.body).toBe(firstResponse.body);
    expect(state.transactions).toHaveLength(1);
  });

  it('answers 422 to a key reused with other orders', async () => {
    // Prepare
    const { handler } = setup({}, true);
    await handler(httpEvent({ orders: orders(1) }, { headers: { 'idempotency-key': 'k-1' } }));

    // Act
    const response = await handler(
      httpEvent({ orders: orders(1, 7) }, { headers: { 'idempotency-key': 'k-1' } }),
    );

    // Assess
    expect(response.statusCode).toBe(422);
    expect(bodyOf(response).error).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('answers 503 when the transaction fails, and the key can be used again', async () => {
    // Prepare
    const { handler, state } = setup({}, true);
    state.failures = 1;
    const event = () => httpEvent({ orders: orders(2) }, { headers: { 'idempotency-key': 'k-1' } });

    // Act
    const failed = await handler(event());
    const retried = await handler(event());

    // Assess
    expect(failed.statusCode).toBe(503);
    expect(bodyOf(failed).error).toBe('RETRIABLE');
    expect(retried.statusCode).toBe(200);
    expect(state.transactions).toHaveLength(1);
  });
});

describe('readIdempotencySettings', () => {
  it('reads the table and points the client at AWS_ENDPOINT_URL', () => {
    // Act
    const settings = readIdempotencySettings({
      IDEMPOTENCY_TABLE: 'orders-idempotency',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:5000',
    });

    // Assess
    expect(settings).toEqual({
      tableName: 'orders-idempotency',
      clientConfig: { endpoint: 'http://127.0.0.1:5000' },
    });
  });

  it('fails at init without a table', () => {
    expect(() => readIdempotencySettings({})).toThrowError(/IDEMPOTENCY_TABLE/);
  });
});
