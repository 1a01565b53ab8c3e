import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { describe, expect, it, vi } from 'vitest';
import { instrumentHandler } from '../../../src/lib/telemetry/instrument.ts';
import { NOOP_TRACING, type Tracing } from '../../../src/lib/telemetry/tracing.ts';
import { captureOutput } from './capture.ts';

// getTracing as it is, except for an environment that asks it to fail (a broken SDK)
vi.mock(import('../../../src/lib/telemetry/tracing.ts'), async (importOriginal) => {
  const actual = await importOriginal();
  return {
    ...actual,
    getTracing: (env?: NodeJS.ProcessEnv) =>
      env?.TEST_TRACING_FAILS
        ? Promise.reject(new Error('cannot load the trace SDK'))
        : actual.getTracing(env),
  };
});

/** A fresh environment object: getTracing caches per object. */
const environment = (vars: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  POWERTOOLS_SERVICE_NAME: 'instrument-test',
  POWERTOOLS_METRICS_NAMESPACE: 'InstrumentTest',
  ...vars,
});

const emfLines = (lines: Array<Record<string, unknown>>) => lines.filter((l) => '_aws' in l);

describe('instrumentHandler', () => {
  it('builds the handler once, on the first invocation, once tracing has resolved', async () => {
    // Prepare
    const builds: Array<{ tracing: Tracing; logger: unknown; metrics: unknown }> = [];
    const handler = instrumentHandler((telemetry) => {
      builds.push(telemetry);
      return async (event: { n: number }) => event.n * 2;
    }, environment());
    const beforeFirstCall = builds.length;

    // Act
    let results: number[] = [];
    await captureOutput(async () => {
      results = [await handler({ n: 1 }), await handler({ n: 2 })];
    });

    // Assess
    expect(beforeFirstCall).toBe(0);
    expect(results).toEqual([2, 4]);
    expect(builds).toHaveLength(1);
    expect(builds[0]!.tracing).toBe(NOOP_TRACING);
  });

  it('gives the builder enabled tracing when the environment names an OTLP endpoint', async () => {
    // Prepare
    let tracing: Tracing | undefined;
    const handler = instrumentHandler(
      (telemetry) => {
        tracing = telemetry.tracing;
        return async () => 'ok';
      },
      // nothing listens there; no span is made, so nothing is sent
      environment({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }),
    );

    // Act
    await captureOutput(() => handler({}));

    // Assess
    expect(tracing?.enabled).toBe(true);
    await tracing?.shutdown();
  });

  it('publishes pipeline counters and metrics added to Powertools in one EMF line per invocation', async () => {
    // Prepare
    let step = 0;
    const handler = instrumentHandler(
      ({ metrics }) =>
        async () => {
          step++;
          if (step === 1) {
            metrics.count('processed', 3);
            metrics.powertools.addMetric('emitted', MetricUnit.Count, 2);
          }
          if (step === 2) metrics.powertools.addMetric('invalid', MetricUnit.Count, 1);
        },
      environment(),
      { functionName: 'produceOrders' },
    );

    // Act
    const both = await captureOutput(() => handler({}));
    const direct = await captureOutput(() => handler({}));
    const none = await captureOutput(() => handler({}));

    // Assess
    expect(emfLines(both)).toHaveLength(1);
    expect(emfLines(both)[0]).toMatchObject({
      processed: 3,
      emitted: 2,
      service: 'instrument-test',
      function: 'produceOrders',
    });
    expect(emfLines(direct)).toHaveLength(1);
    expect(emfLines(direct)[0]).toMatchObject({ invalid: 1, function: 'produceOrders' });
    expect(emfLines(direct)[0]).not.toHaveProperty('emitted');
    // nothing recorded: no line, and no Powertools warning about it either
    expect(none).toEqual([]);
  });

  it('names the function on every log line', async () => {
    // Prepare
    const handler = instrumentHandler(
      ({ logger }) =>
        async () => {
          logger.info('hello');
        },
      environment(),
      { functionName: 'processOrders' },
    );

    // Act
    const lines = await captureOutput(() => handler({}));

    // Assess
    expect(lines).toEqual([
      expect.objectContaining({
        message: 'hello',
        service: 'instrument-test',
        function: 'processOrders',
      }),
    ]);
  });

  it('fails an invocation whose build throws, and builds again on the next one', async () => {
    // Prepare
    let attempts = 0;
    const handler = instrumentHandler(() => {
      attempts++;
      if (attempts === 1) throw new Error('config not ready');
      return async () => 'built';
    }, environment());

    // Act
    let first: unknown;
    const lines = await captureOutput(async () => {
      first = await handler({}).catch((e: unknown) => e);
    });
    const second = await handler({});

    // Assess
    expect((first as Error).message).toBe('config not ready');
    expect(lines).toEqual([expect.objectContaining({ message: 'invocation failed' })]);
    expect(second).toBe('built');
    expect(attempts).toBe(2);
  });

  it('runs without tracing, and says so, when the trace SDK does not start', async () => {
    // Prepare
    let tracing: Tracing | undefined;
    let lines: Array<Record<string, unknown>> = [];
    let result: unknown;

    // Act
    lines = await captureOutput(async () => {
      const handler = instrumentHandler(
        (telemetry) => {
          tracing = telemetry.tracing;
          return async () => 'still works';
        },
        environment({ TEST_TRACING_FAILS: '1' }),
      );
      result = await handler({});
    });

    // Assess
    expect(result).toBe('still works');
    expect(tracing).toBe(NOOP_TRACING);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'WARN',
        message: 'tracing off: the trace SDK did not start',
        errorMessage: 'cannot load the trace SDK',
      }),
    ]);
  });
});
