/**
 * `init`: wall time of a Node process that imports the bundled processOrders handler
 * and awaits its init, telemetry on; against a bare `node -e 0` in the same
 * environment. Also the bundle's size and what it is made of.
 *
 * The handler is bundled here, into a temporary directory, with the options of
 * `scripts/build.ts` (which writes `dist/`, shared with others); keep both in step.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { bundleBytes, bundleMakeup, lambdaBuildOptions } from '../scripts/build.ts';
import { interleave, median, round } from './stats.ts';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const HANDLER_ENTRY = join(ROOT, 'src', 'handlers', 'processOrders.ts');
export const INIT_TARGET_OVER_BARE_MS = 80;
/** 1.5 MB, counted in decimal megabytes (the stricter reading). */
export const INIT_TARGET_BUNDLE_BYTES = 1_500_000;

export interface Bundle {
  file: string;
  bytes: number;
  /** Biggest inputs of the bundle by package (`src` for the project's own code). */
  topPackages: Array<{ name: string; bytes: number }>;
  /** Removes the temporary directory. */
  dispose(): void;
}

/**
 * Bundles `entry` exactly as scripts/build.ts bundles a Lambda handler (same
 * options: ESM, minified, lazy imports split into chunks) into a temporary
 * directory, with an external source map when asked (for profiles).
 */
export const bundleHandler = async (
  options: { entry?: string; sourcemap?: boolean } = {},
): Promise<Bundle> => {
  const entry = options.entry ?? HANDLER_ENTRY;
  const dir = mkdtempSync(join(tmpdir(), 'msk-bench-init-'));
  const file = join(dir, 'index.js');
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  const result = await esbuild.build({
    ...lambdaBuildOptions(entry, dir),
    sourcemap: options.sourcemap ? 'external' : false,
    legalComments: 'none',
    logLevel: 'error',
  });
  return {
    file,
    bytes: bundleBytes(result.metafile, ROOT),
    topPackages: bundleMakeup(result.metafile),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
};

/**
 * What the child runs: import the bundle, await its init, report, exit. A handler
 * module may expose its init as an exported `init()` function or `ready` promise
 * (top-level `await` is kept out of the handlers for `serverless invoke local`);
 * whatever it does at import time is init too.
 */
export const PROBE_SOURCE = `
const started = performance.now();
const mod = await import(process.argv[1]);
if (typeof mod.init === 'function') await mod.init();
else if (mod.ready && typeof mod.ready.then === 'function') await mod.ready;
const done = performance.now();
if (typeof mod.handler !== 'function') throw new Error('the bundle exports no handler function');
process.stdout.write(JSON.stringify({ exports: Object.keys(mod).sort(), importMs: done - started, sinceStartMs: done }));
process.exit(0);
`;

export interface ProbeReport {
  exports: string[];
  /** Import + init inside the child (excludes Node's own start). */
  importMs: number;
  /** `performance.now()` at the end of init: milliseconds since the child's time origin. */
  sinceStartMs: number;
}

/** Spawns `node args`, times it from spawn to exit, fails on a non-zero exit. */
export const spawnTimed = (
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 30_000,
): Promise<{ elapsedMs: number; stdout: string }> =>
  new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const elapsedMs = performance.now() - started;
      clearTimeout(timer);
      if (code === 0) resolvePromise({ elapsedMs, stdout });
      else
        reject(
          new Error(
            `node ${args.slice(0, 2).join(' ').slice(0, 60)}… exited ${code ?? signal}: ${stderr.trim().slice(0, 800)}`,
          ),
        );
    });
  });

/** A local OTLP/HTTP receiver that accepts and drops everything. */
const startDummyCollector = async (): Promise<{ url: string; server: Server }> => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
};

/**
 * The environment of a Lambda container of processOrders, without inherited flags
 * (`NODE_OPTIONS`) or telemetry settings; `otlpEndpoint` turns tracing on.
 */
export const handlerEnv = (otlpEndpoint?: string): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (k !== 'NODE_OPTIONS' && !k.startsWith('OTEL_')) env[k] = v;
  Object.assign(env, {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: 'msk-order-pipeline-bench-processOrders',
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
    POWERTOOLS_SERVICE_NAME: 'msk-order-pipeline',
    POWERTOOLS_METRICS_NAMESPACE: 'OrderPipelineBench',
    STAGE: 'bench',
  });
  if (otlpEndpoint) {
    env.OTEL_EXPORTER_OTLP_ENDPOINT = otlpEndpoint;
    env.OTEL_SERVICE_NAME = 'msk-order-pipeline';
  }
  return env;
};

export interface InitResult {
  /** Median wall time of a process that imports the bundle and awaits its init (telemetry on). */
  handlerMs: number;
  /** Median wall time of `node -e 0`. */
  bareMs: number;
  /** Median of the per-round differences handler − bare; the target is at most 80. */
  overBareMs: number;
  /** Same as handlerMs with telemetry off: what tracing adds to init. */
  telemetryOffMs: number;
  /** Median import + init inside the child, telemetry on (no process start). */
  inProcessMs: number;
  bundleBytes: number;
  target: { overBareMs: number; bundleBytes: number };
  met: boolean;
  entry: string;
  /** What the handler module exports: tells a placeholder from the real thing. */
  exports: string[];
  topPackages: Array<{ name: string; bytes: number }>;
  runs: number;
}

/**
 * Measures `init`: bare start, handler with telemetry on, handler with telemetry
 * off, interleaved, each a fresh process; medians.
 */
export const measureInit = async (options: {
  quick: boolean;
  log: (line: string) => void;
  entry?: string;
}): Promise<InitResult> => {
  const runs = options.quick ? 6 : 20;
  const entry = options.entry ?? HANDLER_ENTRY;
  const bundle = await bundleHandler({ entry });
  const collector = await startDummyCollector();
  try {
    const url = pathToFileURL(bundle.file).href;
    const probe = ['--input-type=module', '-e', PROBE_SOURCE, url];
    const onEnv = handlerEnv(collector.url);
    const offEnv = handlerEnv();
    options.log(
      `init: ${relative(ROOT, entry)} → ${(bundle.bytes / 1e6).toFixed(3)} MB bundle, ${runs} runs each`,
    );
    const reports: ProbeReport[] = [];
    const samples = await interleave(
      {
        bare: () => spawnTimed(['-e', '0'], onEnv),
        handler: async () => {
          const r = await spawnTimed(probe, onEnv);
          reports.push(JSON.parse(r.stdout) as ProbeReport);
          return r;
        },
        telemetryOff: () => spawnTimed(probe, offEnv),
      },
      { runs, warmup: 2, gcBetween: false },
    );
    const handlerMs = median(samples.handler);
    const bareMs = median(samples.bare);
    // per-round differences: neighbouring processes share the machine's load
    const overBareMs = median(samples.handler.map((ms, i) => ms - samples.bare[i]!));
    return {
      handlerMs: round(handlerMs),
      bareMs: round(bareMs),
      overBareMs: round(overBareMs),
      telemetryOffMs: round(median(samples.telemetryOff)),
      inProcessMs: round(median(reports.slice(-runs).map((r) => r.importMs))),
      bundleBytes: bundle.bytes,
      target: { overBareMs: INIT_TARGET_OVER_BARE_MS, bundleBytes: INIT_TARGET_BUNDLE_BYTES },
      met: overBareMs <= INIT_TARGET_OVER_BARE_MS && bundle.bytes <= INIT_TARGET_BUNDLE_BYTES,
      entry: relative(ROOT, entry),
      exports: reports[0]?.exports ?? [],
      topPackages: bundle.topPackages,
      runs,
    };
  } finally {
    collector.server.close();
    bundle.dispose();
  }
};
