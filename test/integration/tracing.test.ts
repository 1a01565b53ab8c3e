import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PipelineConfig } from '../../src/lib/config.ts';
import { DLQ_HEADERS } from '../../src/lib/delivery/deadLetter.ts';
import { createProcessOrdersHandler } from '../../src/lib/delivery/processOrders.ts';
import { createRepublishDlqHandler } from '../../src/lib/delivery/republishDlq.ts';
import { PoisonRecordError } from '../../src/lib/errors.ts';
import { createProduceOrdersHandler } from '../../src/lib/intake/produceOrders.ts';
import { KafkaClient } from '../../src/lib/kafka/client.ts';
import { instrumentHandler } from '../../src/lib/telemetry/instrument.ts';
import { deliveryTelemetry, producerSpan } from '../../src/lib/telemetry/spans.ts';
import { getTracing, type Tracing } from '../../src/lib/telemetry/tracing.ts';
import { withTelemetry } from '../../src/lib/telemetry/withTelemetry.ts';
import { orderFixture } from '../support/fixtures.ts';
import { createPipelineTopics, isolatedPipelineConfig } from '../support/isolated.ts';
import { kcatRead } from '../support/kcat.ts';
import { mskEvent, mskEventFromKcat } from '../support/mskEvent.ts';
import { kafkaBrokers } from '../support/stackEnv.ts';

/** A span as OTLP/JSON carries it (ids hex, kind the OTLP enum). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Array<{ key: string; value: Record<string, unknown> }>;
  links?: Array<{ traceId: string; spanId: string }>;
  status?: { code?: number };
}
interface OtlpRequest {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: Record<string, unknown> }> };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}

const SPAN_KIND_PRODUCER = 4;
const SPAN_KIND_CONSUMER = 5;

/** A real OTLP/HTTP trace receiver: what a collector would get, as it gets it. */
class OtlpReceiver {
  readonly requests: Array<{ path: string; contentType: string; body: OtlpRequest }> = [];
  readonly #server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      this.requests.push({
        path: req.url ?? '',
        contentType: String(req.headers['content-type']),
        body: JSON.parse(raw.toString('utf8')) as OtlpRequest,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  stop = () => new Promise<void>((resolve) => this.#server.close(() => resolve()));

  get spans(): OtlpSpan[] {
    return this.requests.flatMap((r) =>
      r.body.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)),
    );
  }

  get serviceNames(): unknown[] {
    return this.requests.flatMap((r) =>
      r.body.resourceSpans.map(
        (rs) => rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue,
      ),
    );
  }
}

const attr = (span: OtlpSpan, key: string) => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  return v?.stringValue ?? (v?.intValue === undefined ? undefined : Number(v.intValue));
};
const traceparentOf = (span: OtlpSpan) => `00-${span.traceId}-${span.spanId}-01`;

describe('traces of processOrders, exported over OTLP/HTTP', () => {
  const receiver = new OtlpReceiver();
  const clients: KafkaClient[] = [];
  let config: PipelineConfig;
  let tracing: Tracing;

  beforeAll(async () => {
    const endpoint = await receiver.start();
    // the standard variables, as a Lambda function would have them
    tracing = await getTracing({
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'tracing-it',
    });
    config = isolatedPipelineConfig('tr');
    const admin = new KafkaClient({ clientId: 'tracing-test', brokers: kafkaBrokers().split(',') });
    clients.push(admin);
    await createPipelineTopics(admin, config, { all: 1 });
  });

  afterAll(async () => {
    await tracing?.shutdown();
    await Promise.all(clients.map((c) => c.close()));
    await receiver.stop();
  });

  it('links the process span to the producer and puts the send span on every output', async () => {
    // Prepare: what produceOrders does, a PRODUCER span whose context each order carries
    expect(tracing.enabled).toBe(true);
    const send = producerSpan(tracing, { topic: config.topics.orders, messageCount: 2 });
    const produced = [send.headers(), send.headers()];
    send.end();
    const t = config.topics.orders;
    const event = mskEvent([
      {
        topic: t,
        partition: 0,
        offset: 0,
        key: orderFixture(0).orderId,
        value: JSON.stringify(orderFixture(0)),
        headers: produced[0],
      },
      { topic: t, partition: 0, offset: 1, key: 'o-1', value: 'not json', headers: produced[1] },
    ]);
    const client = new KafkaClient({
      clientId: 'tracing-test',
      brokers: kafkaBrokers().split(','),
    });
    clients.push(client);
    const handler = withTelemetry(
      createProcessOrdersHandler({
        config,
        kafka: async () => client,
        telemetry: deliveryTelemetry({
          tracing,
          consumerGroup: `${config.service}-esm`,
          functionName: 'processOrders',
          destinations: [config.topics.processed, config.topics.dlq],
        }),
      }),
      { tracing },
    );

    // Act
    const response = await handler(event, { getRemainingTimeInMillis: () => 30_000 });

    // Assess: the collector already has the spans when the handler returns
    expect(response.batchItemFailures).toEqual([]);
    const spans = receiver.spans;
    expect(receiver.requests.every((r) => r.path === '/v1/traces')).toBe(true);
    expect(receiver.requests[0]?.contentType).toContain('application/json');
    expect(new Set(receiver.serviceNames)).toEqual(new Set(['tracing-it']));

    const producer = spans.find((s) => s.name === `send ${t}`)!;
    expect(producer.kind).toBe(SPAN_KIND_PRODUCER);
    expect(produced[0]).toEqual({ traceparent: traceparentOf(producer) });

    const process = spans.find((s) => s.name === `process ${t}`)!;
    expect(process.kind).toBe(SPAN_KIND_CONSUMER);
    expect(process.parentSpanId ?? '').toBe('');
    expect(attr(process, 'messaging.system')).toBe('kafka');
    expect(attr(process, 'messaging.destination.name')).toBe(t);
    expect(attr(process, 'messaging.destination.partition.id')).toBe('0');
    expect(attr(process, 'messaging.consumer.group.name')).toBe(`${config.service}-esm`);
    expect(attr(process, 'messaging.batch.message_count')).toBe(2);
    expect(process.links?.map((l) => `00-${l.traceId}-${l.spanId}-01`)).toEqual([
      traceparentOf(producer),
      traceparentOf(producer),
    ]);

    const output = spans.find(
      (s) => s.kind === SPAN_KIND_PRODUCER && s.parentSpanId === process.spanId,
    )!;
    expect(output.name).toBe(`send ${config.topics.processed},${config.topics.dlq}`);
    expect(output.traceId).toBe(process.traceId);

    // read back by an independent client: the result and the dead letter carry the send span
    const [result] = await kcatRead(config.topics.processed);
    const [dead] = await kcatRead(config.topics.dlq);
    expect(result?.key).toBe(orderFixture(0).orderId);
    expect(result?.header.traceparent).toBe(traceparentOf(output));
    expect(dead?.header[DLQ_HEADERS.errorCode]).toBe('NOT_JSON');
    expect(dead?.header.traceparent).toBe(traceparentOf(output));
  });
});

describe('one order followed by trace links: produce → process → dlq → republish → process', () => {
  const receiver = new OtlpReceiver();
  const clients: KafkaClient[] = [];
  let config: PipelineConfig;
  /** The functions' environment: the OTLP settings a Lambda function would have. */
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const endpoint = await receiver.start();
    env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_SERVICE_NAME: 'tracing-path-it',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    };
    config = isolatedPipelineConfig('tp', { DLQ_BACKOFF_BASE_MS: '0' });
    const admin = new KafkaClient({ clientId: 'tracing-test', brokers: kafkaBrokers().split(',') });
    clients.push(admin);
    await createPipelineTopics(admin, config, { all: 1 });
  });

  afterAll(async () => {
    await (await getTracing(env))?.shutdown();
    await Promise.all(clients.map((c) => c.close()));
    await receiver.stop();
  });

  it('links each hop’s CONSUMER span to the PRODUCER span whose context the record carries', async () => {
    // Prepare: the three functions wired as src/handlers wires them, on one broker client
    const client = new KafkaClient({
      clientId: 'tracing-path',
      brokers: kafkaBrokers().split(','),
    });
    clients.push(client);
    const kafka = async () => client;
    const { topics } = config;
    let failFirst = true;
    const produce = instrumentHandler(
      ({ tracing }) => createProduceOrdersHandler({ config, kafka, tracing }),
      env,
      { functionName: 'produceOrders' },
    );
    const processOrders = instrumentHandler(
      ({ tracing }) =>
        createProcessOrdersHandler({
          config,
          kafka,
          telemetry: deliveryTelemetry({
            tracing,
            functionName: 'processOrders',
            destinations: [topics.processed, topics.dlq],
          }),
          // the first delivery of the order fails as poison: it goes to the DLQ
          beforeRecord: () => {
            if (!failFirst) return;
            failFirst = false;
            throw new PoisonRecordError('SCHEMA_VIOLATION', 'injected');
          },
        }),
      env,
      { functionName: 'processOrders' },
    );
    const republish = instrumentHandler(
      ({ tracing }) =>
        createRepublishDlqHandler({
          config,
          kafka,
          telemetry: deliveryTelemetry({
            tracing,
            functionName: 'republishDlq',
            destinations: [topics.orders, topics.parkingLot],
          }),
        }),
      env,
      { functionName: 'republishDlq' },
    );
    const context = { getRemainingTimeInMillis: () => 30_000 };
    const order = orderFixture(7);

    // Act: each hop reads what the previous one committed, as an event-source mapping would
    await produce({ idempotencyKey: 'k-1', orders: [order] }, context);
    const [produced] = await kcatRead(topics.orders);
    const first = await processOrders(mskEventFromKcat([produced!]), context);
    const dead = await kcatRead(topics.dlq);
    const second = await republish(mskEventFromKcat(dead), context);
    const republished = (await kcatRead(topics.orders)).filter((r) => r.offset > produced!.offset);
    const third = await processOrders(mskEventFromKcat(republished), context);
    const [result] = await kcatRead(topics.processed);

    // Assess: the order went the whole way
    expect([first, second, third]).toEqual(Array(3).fill({ batchItemFailures: [] }));
    expect(dead).toHaveLength(1);
    expect(republished).toHaveLength(1);
    expect(republished[0]?.header[DLQ_HEADERS.attempts]).toBe('2');
    expect(result?.key).toBe(order.orderId);
    expect(JSON.parse(result!.value!).status).toBe('accepted');

    // Assess: from the result back to produceOrders, by parent and link only
    const spans = new Map(receiver.spans.map((s) => [s.spanId, s]));
    const path: OtlpSpan[] = [];
    const carried: string[] = [];
    const spanIdOf = (traceparent: string | undefined) => traceparent?.split('-')[2];
    let at = spans.get(spanIdOf(result?.header.traceparent) ?? '');
    while (at) {
      path.push(at);
      if (at.parentSpanId) at = spans.get(at.parentSpanId);
      else if (at.links?.length) {
        expect(at.links).toHaveLength(1);
        at = spans.get(at.links[0]!.spanId);
        carried.push(traceparentOf(at!));
      } else at = undefined;
    }
    expect(path.map((s) => [s.kind, s.name])).toEqual([
      [SPAN_KIND_PRODUCER, `send ${topics.processed},${topics.dlq}`],
      [SPAN_KIND_CONSUMER, `process ${topics.orders}`],
      [SPAN_KIND_PRODUCER, `send ${topics.orders},${topics.parkingLot}`],
      [SPAN_KIND_CONSUMER, `process ${topics.dlq}`],
      [SPAN_KIND_PRODUCER, `send ${topics.processed},${topics.dlq}`],
      [SPAN_KIND_CONSUMER, `process ${topics.orders}`],
      [SPAN_KIND_PRODUCER, `send ${topics.orders}`],
    ]);
    // each link is the context the record of that hop carried
    expect(carried).toEqual([
      republished[0]?.header.traceparent,
      dead[0]?.header.traceparent,
      produced?.header.traceparent,
    ]);
    // a trace per hop (produce, process, republish, process), joined by links
    expect(new Set(path.map((s) => s.traceId)).size).toBe(4);
    expect(attr(path[3]!, 'order_pipeline.function')).toBe('republishDlq');
  });
});
