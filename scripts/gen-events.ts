/**
 * Writes the sample Lambda MSK events in `events/` (also test fixtures and the
 * events for `sls invoke local`). Deterministic: running it again gives the same files.
 *
 *   node scripts/gen-events.ts               the three small sample events
 *   node scripts/gen-events.ts --large 10000 also events/processOrders.large.json (~6 MB, compact)
 *
 * Options for --large: --partitions N (default 3), --target-bytes N (default 6,000,000).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeKafkaEvent } from '../src/lib/events/decode.ts';
import { buildOnFailureEnvelope } from '../src/lib/events/onFailureEnvelope.ts';
import {
  buildLargeMskEvent,
  eventRecordFixture,
  FIXTURE_EPOCH_MS,
  LARGE_EVENT_TARGET_BYTES,
  mskEventFixture,
  orderFixture,
  sampleMskEvent,
  samplePoisonEvent,
  sampleSelfManagedEvent,
  traceparentFixture,
} from '../test/support/fixtures.ts';

const EVENTS_DIR = fileURLToPath(new URL('../events/', import.meta.url));

const positiveInteger = (name: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`--${name} must be a positive integer, got "${text}"`);
    process.exit(2);
  }
  return n;
};

// Pretty, except header byte arrays, which stay on one line each to remain readable.
const pretty = (event: unknown): string =>
  `${JSON.stringify(event, null, 2).replace(/\[\s+([\d,\s]+?)\s+\]/g, (_, bytes: string) => `[${bytes.split(/,\s*/).join(', ')}]`)}\n`;

const write = (name: string, event: unknown, readable: boolean) => {
  const path = `${EVENTS_DIR}${name}`;
  const text = readable ? pretty(event) : JSON.stringify(event);
  writeFileSync(path, text);
  console.log(`wrote ${path} (${Buffer.byteLength(text)} bytes)`);
};

const { values } = parseArgs({
  options: {
    large: { type: 'string' },
    partitions: { type: 'string' },
    'target-bytes': { type: 'string' },
  },
});

mkdirSync(EVENTS_DIR, { recursive: true });
write('processOrders.msk.json', sampleMskEvent(), true);
write('processOrders.poison.json', samplePoisonEvent(), true);
write('processOrders.self-managed.json', sampleSelfManagedEvent(), true);

// produceOrders: a direct invoke and the same request as an HTTP API (v2) event
const request = {
  idempotencyKey: 'sample-request-0001',
  orders: [0, 1, 2].map((i) => orderFixture(i)),
};
write('produceOrders.direct.json', request, true);
write(
  'produceOrders.http.json',
  {
    version: '2.0',
    routeKey: 'POST /orders',
    rawPath: '/orders',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'sample-request-0002' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'sample',
      domainName: 'sample.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'sample',
      http: {
        method: 'POST',
        path: '/orders',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.1',
        userAgent: 'curl/8',
      },
      requestId: 'sample-request-id',
      routeKey: 'POST /orders',
      stage: '$default',
      time: '24/Nov/2025:16:00:00 +0000',
      timeEpoch: FIXTURE_EPOCH_MS,
    },
    body: JSON.stringify({ orders: [3, 4].map((i) => orderFixture(i)) }),
    isBase64Encoded: false,
  },
  true,
);

// republishDlq: a dead letter written by processOrders, an AWS on-failure envelope, garbage
const failedAt = new Date(FIXTURE_EPOCH_MS).toISOString();
const deadLetter = eventRecordFixture({
  topic: 'orders.dlq',
  partition: 0,
  offset: 10,
  key: 'ord-000005',
  value: JSON.stringify({ orderId: 'ord-000005' }),
  headers: {
    traceparent: traceparentFixture(5),
    'x-dlq-original-topic': 'orders',
    'x-dlq-original-partition': '1',
    'x-dlq-original-offset': '42',
    'x-dlq-original-timestamp': failedAt,
    'x-dlq-error-code': 'SCHEMA_VIOLATION',
    'x-dlq-error-message': 'customerId: Invalid input',
    'x-dlq-attempts': '1',
    'x-dlq-first-failed-at': failedAt,
    'x-dlq-failed-at': failedAt,
    'x-dlq-source': 'handler',
    'x-dlq-not-before': failedAt,
  },
});
const original = decodeKafkaEvent(
  mskEventFixture([
    eventRecordFixture({ partition: 2, offset: 77, key: 'ord-000006', value: orderFixture(6) }),
  ]),
)[0]!.records[0]!;
const envelope = buildOnFailureEnvelope({
  record: original,
  bootstrapServers: 'b-1.demo-cluster.kafka.us-east-1.amazonaws.com:9098',
  eventSourceArn: mskEventFixture([]).eventSourceArn,
  requestId: 'sample-request-id',
  functionArn:
    'arn:aws:lambda:us-east-1:123456789012:function:msk-order-pipeline-dev-processOrders',
  approximateInvokeCount: 6,
  now: new Date(FIXTURE_EPOCH_MS),
});
write(
  'republishDlq.msk.json',
  mskEventFixture([
    deadLetter,
    eventRecordFixture({
      topic: 'orders.dlq',
      partition: 0,
      offset: 11,
      key: 'ord-000006',
      value: JSON.stringify(envelope),
    }),
    eventRecordFixture({
      topic: 'orders.dlq',
      partition: 0,
      offset: 12,
      value: 'garbage without headers',
    }),
  ]),
  true,
);

if (values.large !== undefined) {
  // Compact: the point of this event is its size against the 6 MB invocation limit.
  const event = buildLargeMskEvent({
    records: positiveInteger('large', values.large, 10_000),
    partitions: positiveInteger('partitions', values.partitions, 3),
    targetBytes: positiveInteger('target-bytes', values['target-bytes'], LARGE_EVENT_TARGET_BYTES),
  });
  write('processOrders.large.json', event, false);
}
