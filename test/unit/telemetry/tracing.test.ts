import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { beforeEach, describe, expect, it } from 'vitest';
import { readPipelineConfig } from '../../../src/lib/config.ts';
import { createProcessOrdersHandler } from '../../../src/lib/delivery/processOrders.ts';
import { RetriableError } from '../../../src/lib/errors.ts';
import {
  decodeKafkaEvent,
  EventPartition,
  readKafkaEvent,
} from '../../../src/lib/events/decode.ts';
import type { PartitionBatch } from '../../../src/lib/events/types.ts';
import type { OutboundMessage } from '../../../src/lib/kafka/types.ts';
import { extractContext, injectContext } from '../../../src/lib/telemetry/propagation.ts';
import { deliveryTelemetry, producerSpan } from '../../../src/lib/telemetry/spans.ts';
import { parseTraceparent } from '../../../src/lib/telemetry/traceparent.ts';
import {
  createTracing,
  getTracing,
  NOOP_TRACING,
  type Tracing,
  tracingEnabled,
} from '../../../src/lib/telemetry/tracing.ts';
import { withTelemetry } from '../../../src/lib/telemetry/withTelemetry.ts';
import { orderFixture, traceparentFixture } from '../../support/fixtures.ts';
import { mskEvent, type RecordSpec } from '../../support/mskEvent.ts';
import { MemoryKafka } from '../delivery/memoryKafka.ts';

const run = promisify(execFile);

const order = (i: number) => Buffer.from(JSON.stringify(orderFixture(i)));
const config = readPipelineConfig({});
const topic = config.topics.orders;
const headerText = (m: OutboundMessage, name: string) => {
  const v = m.headers?.[name];
  return v === undefined ? undefined : String(Array.isArray(v) ? v[v.length - 1] : v);
};
const contextOf = (s: ReadableSpan) => {
  const c = s.spanContext();
  return `00-${c.traceId}-${c.spanId}-0${c.traceFlags}`;
};

/** A partition with two traced records, one poison, one without a traceparent; another partition. */
const specs = (): RecordSpec[] => [
  {
    topic,
    partition: 0,
    offset: 40,
    key: 'o-1',
    value: order(1),
    headers: { traceparent: traceparentFixture(1) },
  },
  {
    topic,
    partition: 0,
    offset: 41,
    key: 'o-2',
    value: 'not json',
    headers: { traceparent: traceparentFixture(2), tracestate: 'vendor=abc' },
  },
  { topic, partition: 0, offset: 42, key: 'o-3', value: order(3) },
  {
    topic,
    partition: 3,
    offset: 7,
    key: 'o-4',
    value: order(4),
    headers: { traceparent: traceparentFixture(4) },
  },
];

describe('deliveryTelemetry', () => {
  let exporter: InMemorySpanExporter;
  let tracing: Tracing;

  beforeEach(async () => {
    exporter = new InMemorySpanExporter();
    tracing = await createTracing({ exporter, env: { OTEL_SERVICE_NAME: 'telemetry-unit' } });
  });

  it('traces each partition: CONSUMER span linked to every traced record, PRODUCER child on every output', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    const handler = createProcessOrdersHandler({
      config,
      kafka: async () => kafka,
      telemetry: deliveryTelemetry({
        tracing,
        operation: 'process',
        consumerGroup: 'orders-esm',
        functionName: 'processOrders',
        destinations: [config.topics.processed, config.topics.dlq],
      }),
    });

    // Act
    const response = await handler(mskEvent(specs()));
    const flushed = await tracing.flush();

    // Assess
    expect(response.batchItemFailures).toEqual([]);
    expect(flushed).toBe(true);
    const spans = exporter.getFinishedSpans();
    expect(spans).toHaveLength(4);
    const process0 = spans.find(
      (s) =>
        s.name === `process ${topic}` && s.attributes['messaging.destination.partition.id'] === '0',
    )!;
    expect(process0.kind).toBe(SpanKind.CONSUMER);
    expect(process0.parentSpanContext).toBeUndefined();
    expect(process0.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.destination.partition.id': '0',
      'messaging.consumer.group.name': 'orders-esm',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.batch.message_count': 3,
      'order_pipeline.kafka.offset.first': 40,
      'order_pipeline.kafka.offset.last': 42,
      'order_pipeline.function': 'processOrders',
      'order_pipeline.records.ok': 2,
      'order_pipeline.records.dead_lettered': 1,
      'order_pipeline.checkpoint': 43,
    });
    expect(process0.status.code).toBe(SpanStatusCode.UNSET);
    // one link per record that carries a producer context, none for the record without
    expect(
      process0.links.map((l) => ({
        traceparent: `00-${l.context.traceId}-${l.context.spanId}-0${l.context.traceFlags}`,
        offset: l.attributes?.['messaging.kafka.offset'],
        remote: l.context.isRemote,
      })),
    ).toEqual([
      { traceparent: traceparentFixture(1), offset: 40, remote: true },
      { traceparent: traceparentFixture(2), offset: 41, remote: true },
    ]);
    expect(process0.links[1]?.context.traceState?.get('vendor')).toBe('abc');

    const send0 = spans.find(
      (s) =>
        s.kind === SpanKind.PRODUCER &&
        s.parentSpanContext?.spanId === process0.spanContext().spanId,
    )!;
    expect(send0.name).toBe(`send ${config.topics.processed},${config.topics.dlq}`);
    expect(send0.spanContext().traceId).toBe(process0.spanContext().traceId);
    expect(send0.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
    });
    expect(send0.attributes['messaging.destination.name']).toBeUndefined();

    // every message of partition 0's transaction (results AND dead letters) carries the send span
    const [tx0, tx3] = [0, 3].map(
      (p) =>
        kafka.committed.find((tx) =>
          tx.some(
            (m) =>
              m.topic === config.topics.checkpoints && String(m.value).includes(`"partition":${p}`),
          ),
        )!,
    );
    const results0 = tx0!.filter((m) => m.topic === config.topics.processed);
    const dead0 = tx0!.filter((m) => m.topic === config.topics.dlq);
    expect(results0).toHaveLength(2);
    expect(dead0).toHaveLength(1);
    for (const m of [...results0, ...dead0])
      expect(headerText(m, 'traceparent'), m.topic).toBe(contextOf(send0));

    const process3 = spans.find((s) => s.attributes['messaging.destination.partition.id'] === '3')!;
    const send3 = spans.find((s) => s.parentSpanContext?.spanId === process3.spanContext().spanId)!;
    expect(process3.attributes['messaging.batch.message_count']).toBeUndefined(); // one record: not a batch
    expect(process3.attributes['messaging.kafka.offset']).toBe(7);
    expect(process3.attributes['messaging.kafka.message.key']).toBe('o-4');
    expect(process3.spanContext().traceId).not.toBe(process0.spanContext().traceId);
    expect(
      tx3!
        .filter((m) => m.topic === config.topics.processed)
        .map((m) => headerText(m, 'traceparent')),
    ).toEqual([contextOf(send3)]);
  });

  it('marks the spans ERROR with a safe message when the partition stops', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    kafka.failWrites = true;
    const handler = createProcessOrdersHandler({
      config,
      kafka: async () => kafka,
      telemetry: deliveryTelemetry({ tracing, destinations: [config.topics.processed] }),
    });

    // Act
    const response = await handler(mskEvent(specs().slice(0, 3)));
    await tracing.flush();

    // Assess
    expect(response.batchItemFailures).toEqual([
      { itemIdentifier: { partition: `${topic}-0`, offset: 40 } },
    ]);
    const [send, process] = exporter.getFinishedSpans();
    expect(process?.name).toBe(`process ${topic}`);
    expect(process?.status.code).toBe(SpanStatusCode.ERROR);
    expect(process?.attributes['error.type']).toBe('BROKER_UNAVAILABLE');
    expect(process?.attributes['order_pipeline.kafka.offset.failed']).toBe(40);
    // nothing of the partition committed: the send failed too
    expect(send?.name).toBe(`send ${config.topics.processed}`);
    expect(send?.attributes['messaging.destination.name']).toBe(config.topics.processed);
    expect(send?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('reads an event partition for offsets and headers only: same spans, records left undecoded', async () => {
    // Prepare: the same event read lazily (as processOrders does) and decoded in full
    const event = mskEvent(specs());
    const lazy = readKafkaEvent(event);
    const eager = decodeKafkaEvent(event);
    const telemetry = deliveryTelemetry({ tracing, consumerGroup: 'g' });
    let decodedAll = 0;
    let decodedOne = 0;
    for (const p of lazy) {
      const records = Object.getOwnPropertyDescriptor(EventPartition.prototype, 'records')!;
      const recordAt = p.recordAt.bind(p);
      Object.defineProperty(p, 'records', {
        get: () => {
          decodedAll++;
          return records.get!.call(p);
        },
      });
      p.recordAt = (i) => {
        decodedOne++;
        return recordAt(i);
      };
    }

    // Act
    const summary = async (batches: PartitionBatch[]) => {
      exporter.reset();
      for (const b of batches)
        telemetry.startPartition(b).end({ ok: 1, deadLettered: 0, skipped: 0 });
      await tracing.flush();
      return exporter
        .getFinishedSpans()
        .filter((s) => s.kind === SpanKind.CONSUMER)
        .map((s) => ({
          attributes: s.attributes,
          links: s.links.map((l) => [l.context.traceId, l.context.spanId, l.attributes]),
        }));
    };
    const fromLazy = await summary(lazy);
    const fromEager = await summary(eager);

    // Assess: two traced records linked in partition 0; the one-record partition named by its key
    expect(fromLazy).toEqual(fromEager);
    expect(fromLazy.map((s) => s.links.length)).toEqual([2, 1]);
    expect(fromLazy[1]!.attributes['messaging.kafka.message.key']).toBe('o-4');
    expect(decodedAll).toBe(0);
    // only the one-record partition's record, for its key
    expect(decodedOne).toBe(1);
  });

  it('keeps secrets out of the status message', async () => {
    // Prepare
    const [batch] = decodeKafkaEvent(mskEvent(specs().slice(0, 1)));
    const span = deliveryTelemetry({ tracing }).startPartition(batch!);

    // Act
    span.end({
      ok: 0,
      deadLettered: 0,
      skipped: 0,
      failedAt: 40,
      error: new RetriableError('TIMEOUT', 'login failed password=hunter2'),
    });
    await tracing.flush();

    // Assess
    const process = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER)!;
    expect(process.status).toEqual({
      code: SpanStatusCode.ERROR,
      message: 'login failed password=***',
    });
    expect(process.attributes['error.type']).toBe('TIMEOUT');
  });
});

describe('producerSpan', () => {
  it('injects the PRODUCER span context into each record', async () => {
    // Prepare
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, processor: 'simple' });

    // Act
    const span = producerSpan(tracing, { topic: 'orders', messageCount: 3 });
    const headers = [span.headers(), span.headers(), span.headers()];
    span.end();

    // Assess
    const [send] = exporter.getFinishedSpans();
    expect(send?.name).toBe('send orders');
    expect(send?.kind).toBe(SpanKind.PRODUCER);
    expect(send?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': 'orders',
      'messaging.operation.type': 'send',
      'messaging.batch.message_count': 3,
    });
    for (const h of headers) expect(h).toEqual({ traceparent: contextOf(send!) });
  });

  it('continues a caller context and records a failure', async () => {
    // Prepare
    const exporter = new InMemorySpanExporter();
    const tracing = await createTracing({ exporter, processor: 'simple' });
    const caller = parseTraceparent(traceparentFixture(9))!;

    // Act
    const span = producerSpan(tracing, {
      topic: 'orders',
      messageCount: 1,
      parent: trace.setSpanContext(ROOT_CONTEXT, { ...caller, isRemote: true }),
    });
    span.end(new RetriableError('BROKER_UNAVAILABLE', 'no broker'));

    // Assess
    const [send] = exporter.getFinishedSpans();
    expect(send?.spanContext().traceId).toBe(caller.traceId);
    expect(send?.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(send?.attributes['messaging.batch.message_count']).toBeUndefined();
    expect(send?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'no broker' });
  });

  it('writes a fresh valid traceparent per record when tracing is off', () => {
    // Act
    const span = producerSpan(NOOP_TRACING, { topic: 'orders', messageCount: 2 });
    const [a, b] = [span.headers(), span.headers()];
    span.end();

    // Assess
    expect(parseTraceparent(a.traceparent!)).toBeDefined();
    expect(parseTraceparent(b.traceparent!)).toBeDefined();
    expect(a.traceparent).not.toBe(b.traceparent);
    expect(Object.keys(a)).toEqual(['traceparent']);
  });
});

describe('W3C propagation', () => {
  it('extracts a record context from MSK byte-array headers and injects it back', () => {
    // Prepare
    const [batch] = decodeKafkaEvent(
      mskEvent([
        {
          topic,
          partition: 0,
          offset: 0,
          value: 'x',
          headers: { traceparent: traceparentFixture(5), tracestate: 'a=1,b=2' },
        },
      ]),
    );

    // Act
    const ctx = extractContext(batch!.records[0]!.headers);

    // Assess
    const sc = trace.getSpanContext(ctx);
    expect(sc?.isRemote).toBe(true);
    expect(injectContext(ctx)).toEqual({
      traceparent: traceparentFixture(5),
      tracestate: 'a=1,b=2',
    });
  });

  it('leaves the context alone without a valid traceparent', () => {
    expect(extractContext(new Map())).toBe(ROOT_CONTEXT);
    expect(extractContext(new Map([['traceparent', [Buffer.from('00-zz-01')]]]))).toBe(
      ROOT_CONTEXT,
    );
    expect(injectContext(ROOT_CONTEXT)).toEqual({});
  });
});

describe('tracing off', () => {
  it('is off without an OTLP endpoint or with OTEL_SDK_DISABLED', async () => {
    expect(tracingEnabled({})).toBe(false);
    expect(
      tracingEnabled({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }),
    ).toBe(false);
    expect(tracingEnabled({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toBe(
      true,
    );
    const env = {};
    expect(await getTracing(env)).toBe(NOOP_TRACING);
    expect(getTracing(env)).toBe(getTracing(env)); // once per container
  });

  it('gives processBatch an empty propagation, so carried context passes through', async () => {
    // Prepare
    const kafka = new MemoryKafka();
    const handler = createProcessOrdersHandler({
      config,
      kafka: async () => kafka,
      telemetry: deliveryTelemetry({ tracing: NOOP_TRACING }),
    });
    const [batch] = decodeKafkaEvent(mskEvent(specs().slice(0, 1)));

    // Act
    const propagation = deliveryTelemetry({ tracing: NOOP_TRACING }).startPartition(
      batch!,
    ).propagation;
    await handler(mskEvent(specs().slice(0, 1)));

    // Assess
    expect(propagation).toEqual({});
    const [result] = kafka.messages.filter((m) => m.topic === config.topics.processed);
    expect(headerText(result!, 'traceparent')).toBe(traceparentFixture(1));
  });

  it('loads no SDK module (checked in a fresh process), and loads it when enabled', async () => {
    // Prepare
    const script = `
      import { registerHooks } from 'node:module';
      const seen = new Set();
      registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.add(r.url); return r; } });
      const { getTracing } = await import(process.argv[1]);
      const tracing = await getTracing(JSON.parse(process.argv[2]));
      const packages = new Set([...seen].map((u) => u.match(/node_modules\\/(@[^/]+\\/[^/]+|[^/]+)/)?.[1]).filter(Boolean));
      console.log(JSON.stringify({ enabled: tracing.enabled, packages: [...packages].sort() }));`;
    const tracingModule = fileURLToPath(
      new URL('../../../src/lib/telemetry/tracing.ts', import.meta.url),
    );
    const load = async (env: Record<string, string>) =>
      JSON.parse(
        (
          await run(process.execPath, [
            '--input-type=module',
            '-e',
            script,
            tracingModule,
            JSON.stringify(env),
          ])
        ).stdout,
      ) as { enabled: boolean; packages: string[] };

    // Act
    const off = await load({});
    const on = await load({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' });

    // Assess
    // the set-up module uses only the API's types; the spans module loads the API itself
    expect(off).toEqual({ enabled: false, packages: [] });
    expect(on.enabled).toBe(true);
    expect(on.packages).toEqual(
      expect.arrayContaining([
        '@opentelemetry/sdk-trace-base',
        '@opentelemetry/exporter-trace-otlp-http',
        '@opentelemetry/resources',
      ]),
    );
  });
});

describe('withTelemetry', () => {
  const tracingSpy = () => {
    const calls: string[] = [];
    const tracing: Tracing = {
      enabled: true,
      tracer: undefined,
      flush: async (timeoutMs) => {
        calls.push(`flush ${timeoutMs}`);
        return true;
      },
      shutdown: async () => {},
    };
    return { calls, tracing };
  };

  it('flushes spans and publishes metrics before returning', async () => {
    // Prepare
    const { calls, tracing } = tracingSpy();
    const metrics = {
      observeEvent: (e: unknown) => calls.push(`observe ${JSON.stringify(e)}`),
      publish: () => calls.push('publish'),
    };
    const handler = withTelemetry(
      async (event: { n: number }) => {
        calls.push('handler');
        return event.n + 1;
      },
      { tracing: Promise.resolve(tracing), metrics, flushTimeoutMs: 1_500 },
    );

    // Act
    const result = await handler({ n: 1 }, { getRemainingTimeInMillis: () => 60_000 });
    calls.push('returned');

    // Assess
    expect(result).toBe(2);
    expect(calls).toEqual(['observe {"n":1}', 'handler', 'flush 1500', 'publish', 'returned']);
  });

  it('flushes and publishes on error too, keeping within the remaining time', async () => {
    // Prepare
    const { calls, tracing } = tracingSpy();
    const logged: Array<[unknown, unknown]> = [];
    const logger = {
      refreshSampleRateCalculation: () => {},
      addContext: () => {},
      warn: () => {},
      error: (message: unknown, ...extra: unknown[]) => {
        logged.push([message, extra[0]]);
      },
    };
    const handler = withTelemetry(
      async () => {
        throw new RetriableError('TIMEOUT', 'token=abc123 expired');
      },
      {
        tracing,
        logger,
        metrics: { observeEvent: () => {}, publish: () => calls.push('publish') },
      },
    );

    // Act
    const outcome = handler({}, { getRemainingTimeInMillis: () => 1_000 });

    // Assess
    await expect(outcome).rejects.toThrow('token=abc123 expired');
    expect(calls).toEqual(['flush 750', 'publish']);
    expect(logged).toEqual([
      ['invocation failed', { errorCode: 'TIMEOUT', errorMessage: 'token=*** expired' }],
    ]);
  });
});
