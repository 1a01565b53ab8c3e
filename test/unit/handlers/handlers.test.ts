import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/**
 * Loads a handler module with `require()`, as `serverless invoke local` loads a bundle
 * (require(esm) refuses a module with top-level `await`), in a fresh process with only
 * the given environment, and calls it once. Reports its result, every JSON line it
 * wrote (logs and EMF metrics), and the packages it loaded.
 */
const SCRIPT = `
  const { registerHooks } = require('node:module');
  const seen = new Set();
  registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.add(r.url); return r; } });
  const { handler } = require(process.argv[1]);
  const packages = () => [...new Set([...seen]
    .map((u) => u.match(/node_modules\\/(@[^/]+\\/[^/]+|[^/]+)/)?.[1]).filter(Boolean))].sort();
  handler(JSON.parse(process.argv[2])).then(
    (result) => console.log('RESULT ' + JSON.stringify({ result, packages: packages() })),
    (error) => { console.log('RESULT ' + JSON.stringify({ error: String(error) })); process.exitCode = 1; },
  );`;

const handlerPath = (name: string) =>
  fileURLToPath(new URL(`../../../src/handlers/${name}.ts`, import.meta.url));

const invoke = async (name: string, event: unknown, env: Record<string, string> = {}) => {
  const { stdout, stderr } = await run(
    process.execPath,
    ['--input-type=commonjs', '-e', SCRIPT, handlerPath(name), JSON.stringify(event)],
    {
      env: { PATH: process.env.PATH, KAFKA_BROKERS: '127.0.0.1:9092', ...env },
      timeout: 30_000,
    },
  );
  const lines = stdout.split('\n');
  const outcome = lines.find((l) => l.startsWith('RESULT '));
  if (!outcome) throw new Error(`no result from ${name}: ${stdout}${stderr}`);
  return {
    ...(JSON.parse(outcome.slice('RESULT '.length)) as {
      result?: unknown;
      error?: string;
      packages?: string[];
    }),
    // Powertools writes WARN and above to stderr
    json: [...lines, ...stderr.split('\n')]
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
};

const emptyMskEvent = {
  eventSource: 'aws:kafka',
  eventSourceArn:
    'arn:aws:kafka:us-east-1:123456789012:cluster/local/00000000-0000-0000-0000-000000000000-1',
  bootstrapServers: 'x',
  records: {},
};

const TRACE_SDK = [
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/resources',
];

describe('handler modules', () => {
  it.each(['processOrders', 'republishDlq'])(
    '%s loads with require() (no top-level await) and answers an empty MSK event, tracing off',
    async (name) => {
      // Act
      const { result, error, packages, json } = await invoke(name, emptyMskEvent);

      // Assess
      expect(error).toBeUndefined();
      expect(result).toEqual({ batchItemFailures: [] });
      for (const sdk of TRACE_SDK) expect(packages).not.toContain(sdk);
      expect(packages).toContain('@opentelemetry/api');
      // metrics published before the handler returned, under the function's name
      expect(json.find((l) => '_aws' in l)).toMatchObject({ function: name, batchSize: 0 });
    },
  );

  it('processOrders starts the trace SDK lazily when an OTLP endpoint is set', async () => {
    // Act: nothing listens on the endpoint, and an empty batch makes no span to send
    const { result, error, packages } = await invoke('processOrders', emptyMskEvent, {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
    });

    // Assess
    expect(error).toBeUndefined();
    expect(result).toEqual({ batchItemFailures: [] });
    expect(packages).toEqual(expect.arrayContaining(TRACE_SDK));
  });

  it('produceOrders loads with require() and counts an invalid request', async () => {
    // Prepare: an HTTP API request without orders (refused before Kafka or DynamoDB)
    const event = {
      version: '2.0',
      routeKey: 'POST /orders',
      rawPath: '/orders',
      headers: { 'idempotency-key': 'k-1' },
      requestContext: { http: { method: 'POST', path: '/orders' } },
      body: '{"orders":[]}',
      isBase64Encoded: false,
    };

    // Act
    const { result, error, packages, json } = await invoke('produceOrders', event, {
      IDEMPOTENCY_TABLE: 'idempotency',
      AWS_REGION: 'us-east-1',
    });

    // Assess
    expect(error).toBeUndefined();
    expect(result).toMatchObject({ statusCode: 400 });
    for (const sdk of TRACE_SDK) expect(packages).not.toContain(sdk);
    expect(json).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ message: 'request invalid', function: 'produceOrders' }),
        expect.objectContaining({ _aws: expect.anything(), invalid: 1, function: 'produceOrders' }),
      ]),
    );
  });
});
