/**
 * Deterministic orders and Kafka events for tests, benchmarks and the sample
 * events in `events/` (written by `node scripts/gen-events.ts`). Events are built
 * by hand in the shape Lambda documents, not with the product's own encoder, so
 * they can test it. https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html
 */
import { createHash } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type {
  KafkaEventRecord,
  MSKEvent,
  SelfManagedKafkaEvent,
} from '../../src/lib/events/types.ts';
import { type CurrencyCode, formatMinorUnits } from '../../src/lib/orders/money.ts';
import { MAX_LINE_ITEMS, type OrderInput } from '../../src/lib/orders/schema.ts';

/** 2025-11-24T16:00:00Z: every fixture time is derived from it. */
export const FIXTURE_EPOCH_MS = 1_764_000_000_000;
export const SAMPLE_TOPIC = 'orders';
export const SAMPLE_CLUSTER_ARN =
  'arn:aws:kafka:us-east-1:123456789012:cluster/demo-cluster/5a1c7b9e-3d2f-4e8a-9b6c-0f1e2d3c4b5a-2';
export const SAMPLE_MSK_BOOTSTRAP_SERVERS = [1, 2, 3]
  .map((b) => `b-${b}.democluster.a1bcde.c2.kafka.us-east-1.amazonaws.com:9098`)
  .join(',');
export const SAMPLE_SELF_MANAGED_BOOTSTRAP_SERVERS =
  'kafka-1.orders.internal.example.com:9092,kafka-2.orders.internal.example.com:9092';

const CURRENCIES: readonly CurrencyCode[] = ['EUR', 'USD', 'GBP', 'JPY', 'CHF', 'KWD'];

const CATALOG = [
  'TEA-EARLGREY-250G',
  'TEA-SENCHA-100G',
  'COFFEE-ESPRESSO-1KG',
  'MUG-STONEWARE-BLUE',
  'KETTLE-GOOSENECK-1L',
  'GRINDER-BURR-MANUAL',
  'FILTER-PAPER-V60-100',
  'SCALE-DIGITAL-0.1G',
  'TIN-AIRTIGHT-500ML',
  'CUP-PORCELAIN-WHITE',
  'SPOON-MEASURING-SET',
  'POT-CAST-IRON-0.8L',
  'INFUSER-STEEL-MESH',
  'CHOCOLATE-DARK-70',
  'HONEY-ACACIA-500G',
  'BISCUIT-SHORTBREAD',
  'TRAY-BAMBOO-SERVING',
  'TOWEL-LINEN-GREY',
  'MATCHA-CEREMONIAL-30G',
  'DRIPPER-CERAMIC-02',
] as const;

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Line item `k` of order `i`; SKUs of one order never repeat (k < 500). */
export const lineItemFixture = (i: number, k: number, currency: CurrencyCode) => {
  const base = CATALOG[(i + k) % CATALOG.length]!;
  const variant = Math.floor(k / CATALOG.length);
  const sku = `SKU-${base}${variant > 0 ? `-V${variant}` : ''}`;
  const quantity = 1 + ((i * 7 + k * 3) % 5);
  const priceMinor = 199 + ((i * 31 + k * 17) % 4_800);
  // Half the prices arrive as exact minor units, half as decimal strings.
  return (i + k) % 2 === 0
    ? { sku, quantity, unitPriceMinor: priceMinor }
    : { sku, quantity, unitPrice: formatMinorUnits(priceMinor, currency) };
};

const createdAtFixture = (i: number): string => {
  // Within the hour before the fixture epoch, so never "in the future" for the rules.
  const at = FIXTURE_EPOCH_MS - 3_600_000 + (i % 3_600) * 1_000;
  // Every fourth order carries an offset instead of Z, as producers in Paris would send it.
  if (i % 4 !== 3) return new Date(at).toISOString();
  return `${new Date(at + 3_600_000).toISOString().slice(0, -1)}+01:00`;
};

/**
 * Order number `i`, valid and accepted under the default limits; the same `i`
 * always gives the same order. `items` sets the number of line items (default 1 to 3).
 *
 * @example
 * const value = Buffer.from(JSON.stringify(orderFixture(0)));
 */
export const orderFixture = (i: number, options: { items?: number } = {}): OrderInput => {
  const currency = CURRENCIES[i % CURRENCIES.length]!;
  const count = Math.min(MAX_LINE_ITEMS, Math.max(1, options.items ?? 1 + (i % 3)));
  return {
    orderId: `ord-${pad(i, 6)}`,
    customerId: `cust-${pad(i % 97, 4)}`,
    currency,
    createdAt: createdAtFixture(i),
    items: Array.from({ length: count }, (_, k) => lineItemFixture(i, k, currency)),
  };
};

/** A valid order the rules reject: 1,500,000.00 EUR is over the default limit. */
export const overLimitOrderFixture = (i: number): OrderInput => ({
  ...orderFixture(i),
  currency: 'EUR',
  items: [{ sku: 'SKU-PIANO-CONCERT-GRAND', quantity: 2, unitPrice: '750000.00' }],
});

/** A W3C traceparent, fixed per `i`. */
export const traceparentFixture = (i: number): string => {
  const hash = createHash('sha256').update(`trace-${i}`).digest('hex');
  return `00-${hash.slice(0, 32)}-${hash.slice(32, 48)}-01`;
};

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

export interface EventRecordSpec {
  topic?: string;
  partition: number;
  offset: number;
  /** Text of the key; absent means no key, as Lambda leaves it out. */
  key?: string;
  /** An order or any JSON value, text, `null` for a null value, or `{ rawBase64 }` sent as is. */
  value: OrderInput | string | null | { rawBase64: string } | Record<string, unknown>;
  headers?: Record<string, string>;
}

/** One record in the event's shape: key/value base64, headers as byte arrays. */
export const eventRecordFixture = (spec: EventRecordSpec): KafkaEventRecord => {
  const topic = spec.topic ?? SAMPLE_TOPIC;
  let value: string | null;
  if (spec.value === null) value = null;
  else if (typeof spec.value === 'string') value = b64(spec.value);
  else if ('rawBase64' in spec.value && typeof spec.value.rawBase64 === 'string')
    value = spec.value.rawBase64;
  else value = b64(JSON.stringify(spec.value));
  return {
    topic,
    partition: spec.partition,
    offset: spec.offset,
    timestamp: FIXTURE_EPOCH_MS + spec.partition * 100_000 + spec.offset,
    timestampType: 'CREATE_TIME',
    ...(spec.key !== undefined && { key: b64(spec.key) }),
    value,
    headers: Object.entries(spec.headers ?? {}).map(([name, text]) => ({
      [name]: [...Buffer.from(text, 'utf8')],
    })),
  };
};

const groupByPartition = (records: KafkaEventRecord[]): Record<string, KafkaEventRecord[]> => {
  const grouped: Record<string, KafkaEventRecord[]> = {};
  for (const record of records) {
    const key = `${record.topic}-${record.partition}`;
    const list = grouped[key] ?? [];
    list.push(record);
    grouped[key] = list;
  }
  return grouped;
};

export const mskEventFixture = (records: KafkaEventRecord[]): MSKEvent => ({
  eventSource: 'aws:kafka',
  eventSourceArn: SAMPLE_CLUSTER_ARN,
  bootstrapServers: SAMPLE_MSK_BOOTSTRAP_SERVERS,
  records: groupByPartition(records),
});

export const selfManagedEventFixture = (records: KafkaEventRecord[]): SelfManagedKafkaEvent => ({
  eventSource: 'SelfManagedKafka',
  bootstrapServers: SAMPLE_SELF_MANAGED_BOOTSTRAP_SERVERS,
  records: groupByPartition(records),
});

/** The order index of the business-rejected order in {@link sampleMskEvent}. */
export const SAMPLE_REJECTED_INDEX = 4;

/**
 * `events/processOrders.msk.json`: topic `orders`, 3 partitions, 9 valid orders
 * (order 4 over the limit, so rejected), `traceparent` on every other record.
 */
export const sampleMskEvent = (): MSKEvent =>
  mskEventFixture(
    Array.from({ length: 9 }, (_, i) => {
      const order = i === SAMPLE_REJECTED_INDEX ? overLimitOrderFixture(i) : orderFixture(i);
      return eventRecordFixture({
        partition: i % 3,
        offset: 100 + Math.floor(i / 3),
        key: order.orderId,
        value: order,
        ...(i % 2 === 0 && { headers: { traceparent: traceparentFixture(i) } }),
      });
    }),
  );

/** What each record of {@link samplePoisonEvent} is, by offset. */
export const SAMPLE_POISON_OFFSETS = {
  valid: 200,
  invalidBase64: 201,
  notJson: 202,
  schemaViolation: 203,
  nullValue: 204,
  validWithoutKey: 205,
} as const;

/**
 * `events/processOrders.poison.json`: one partition holding a valid order, then each
 * kind of poison record, then a valid order without a key.
 */
export const samplePoisonEvent = (): MSKEvent => {
  const o = SAMPLE_POISON_OFFSETS;
  const valid = orderFixture(20);
  const withoutKey = orderFixture(21);
  return mskEventFixture([
    eventRecordFixture({
      partition: 0,
      offset: o.valid,
      key: valid.orderId,
      value: valid,
      headers: { traceparent: traceparentFixture(20) },
    }),
    eventRecordFixture({
      partition: 0,
      offset: o.invalidBase64,
      key: 'ord-000022',
      value: { rawBase64: 'eyJvcmRlcklkIjoi%%%not-base64%%%' },
    }),
    eventRecordFixture({
      partition: 0,
      offset: o.notJson,
      key: 'ord-000023',
      value: 'orderId=ord-000023;currency=EUR',
    }),
    eventRecordFixture({
      partition: 0,
      offset: o.schemaViolation,
      key: 'ord-000024',
      // A float price and an unknown currency: both schema violations.
      value: {
        ...orderFixture(24),
        currency: 'EURO',
        items: [{ sku: 'SKU-TEA-EARLGREY-250G', quantity: 1, unitPrice: 12.34 }],
      },
      headers: { traceparent: traceparentFixture(24) },
    }),
    eventRecordFixture({ partition: 0, offset: o.nullValue, key: 'ord-000025', value: null }),
    eventRecordFixture({ partition: 0, offset: o.validWithoutKey, value: withoutKey }),
  ]);
};

/** `events/processOrders.self-managed.json`: the same shape from a self-managed cluster. */
export const sampleSelfManagedEvent = (): SelfManagedKafkaEvent =>
  selfManagedEventFixture(
    Array.from({ length: 4 }, (_, j) => {
      const i = 30 + j;
      const order = orderFixture(i);
      return eventRecordFixture({
        partition: j % 2,
        offset: 500 + Math.floor(j / 2),
        key: order.orderId,
        value: order,
        headers: { traceparent: traceparentFixture(i) },
      });
    }),
  );

/** Lambda's invocation payload limit is 6 MB; this default stays under it. */
export const LARGE_EVENT_TARGET_BYTES = 6_000_000;

export interface LargeMskEventOptions {
  records: number;
  /** Default 3. */
  partitions?: number;
  /** Upper bound of the event's compact JSON size; default {@link LARGE_EVENT_TARGET_BYTES}. */
  targetBytes?: number;
  topic?: string;
}

const base64Length = (bytes: number) => 4 * Math.ceil(bytes / 3);

/**
 * A large MSK event built in memory: `records` valid orders spread round-robin
 * over `partitions`, each padded with line items so the event's compact JSON
 * comes close to `targetBytes` without exceeding it (about 6 MB for 10,000
 * records). Every order has at least one line item and at most 500, so the result
 * is never below the smallest such event nor above the largest. Deterministic.
 *
 * @example
 * const event = buildLargeMskEvent({ records: 10_000, partitions: 3 });
 * Buffer.byteLength(JSON.stringify(event)); // just under 6,000,000
 */
export const buildLargeMskEvent = (options: LargeMskEventOptions): MSKEvent => {
  const { records: count, partitions = 3, targetBytes = LARGE_EVENT_TARGET_BYTES } = options;
  const topic = options.topic ?? SAMPLE_TOPIC;
  if (!Number.isSafeInteger(count) || count < 1) throw new RangeError('records must be >= 1');
  if (!Number.isSafeInteger(partitions) || partitions < 1)
    throw new RangeError('partitions must be >= 1');

  const envelope = mskEventFixture([]);
  envelope.records = Object.fromEntries(
    Array.from({ length: Math.min(partitions, count) }, (_, p) => [`${topic}-${p}`, []]),
  );
  // Every record but the first of a partition is preceded by a comma.
  let minimalBytes = JSON.stringify(envelope).length + count - Object.keys(envelope.records).length;

  // First pass: each record with a single line item, the smallest it can be.
  const plans = Array.from({ length: count }, (_, r) => {
    // Half the producers are traced; a header as byte numbers costs ~200 bytes of JSON.
    const spec = {
      topic,
      partition: r % partitions,
      offset: Math.floor(r / partitions),
      ...(r % 2 === 0 && { headers: { traceparent: traceparentFixture(r) } }),
    };
    const single = orderFixture(r, { items: 1 });
    const withoutValue = JSON.stringify(
      eventRecordFixture({ ...spec, key: single.orderId, value: '' }),
    ).length;
    const orderBytes = JSON.stringify(single).length;
    const minimal = withoutValue + base64Length(orderBytes);
    minimalBytes += minimal;
    return { r, spec, currency: single.currency, withoutValue, orderBytes, minimal };
  });

  // Second pass: share what the target leaves beyond the minimum evenly, in whole
  // line items, handing what a record cannot use on to the next ones.
  let spare = Math.max(0, targetBytes - minimalBytes);
  const records = plans.map((plan, index) => {
    const share = Math.floor(spare / (count - index));
    let { orderBytes } = plan;
    let items = 1;
    while (items < MAX_LINE_ITEMS) {
      const next =
        orderBytes + 1 + JSON.stringify(lineItemFixture(plan.r, items, plan.currency)).length;
      if (plan.withoutValue + base64Length(next) - plan.minimal > share) break;
      orderBytes = next;
      items++;
    }
    spare -= plan.withoutValue + base64Length(orderBytes) - plan.minimal;
    const order = orderFixture(plan.r, { items });
    return eventRecordFixture({ ...plan.spec, key: order.orderId, value: order });
  });
  return { ...envelope, records: groupByPartition(records) };
};

/**
 * An API Gateway HTTP API (payload 2.0) request to `POST /orders`, as produceOrders
 * receives it behind the HTTP route; `body` is sent as JSON unless it is a string.
 *
 * @example
 * await handler(httpEvent({ orders }, { headers: { 'idempotency-key': 'k-1' } }));
 */
export const httpEvent = (
  body: unknown,
  options: { headers?: Record<string, string>; method?: string; base64?: boolean } = {},
): APIGatewayProxyEventV2 => {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    version: '2.0',
    routeKey: 'POST /orders',
    rawPath: '/orders',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...options.headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: options.method ?? 'POST',
        path: '/orders',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'test',
      },
      requestId: 'req-1',
      routeKey: 'POST /orders',
      stage: '$default',
      time: '24/Nov/2025:16:00:00 +0000',
      timeEpoch: 1_764_000_000_000,
    },
    body: options.base64 ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: options.base64 ?? false,
  };
};
