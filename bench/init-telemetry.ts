/**
 * What telemetry adds to a cold start. Bundles a tiny handler-like entry that imports
 * tracing, logger and metrics (esbuild `--bundle --minify --platform=node --format=esm`,
 * as a Lambda build would), then times `node <bundle>` against a bare `node -e 0`:
 * median process wall time over N runs, interleaved, tracing off and on.
 *
 * Three builds are measured:
 * - `default`: esbuild's resolution for `platform=node` (package `main` first, so
 *   OpenTelemetry resolves to its CommonJS build, which does not tree-shake);
 * - `module-first`: `mainFields: ['module', 'main']`, as `scripts/build.ts` does;
 * - `module-first+split`: the same with `splitting: true`. Without splitting, esbuild
 *   inlines what `import()` loads and hoists the Node built-ins it imports
 *   (`child_process`, `zlib`, `stream`, `fs`…) to the top of the bundle, so a function
 *   with tracing off still pays for loading them; with splitting they stay in the
 *   chunk that only tracing-on loads.
 *
 *   node bench/init-telemetry.ts [--runs 15]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 15;

// CommonJS dependencies call require() for Node built-ins; an ESM bundle needs one
const banner =
  "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);";

const ENTRIES = {
  telemetry: `
    import { getTracing } from './src/lib/telemetry/tracing.ts';
    import { createLogger } from './src/lib/telemetry/logger.ts';
    import { createMetrics } from './src/lib/telemetry/metrics.ts';
    const tracing = await getTracing();
    globalThis.telemetry = { tracing, logger: createLogger(), metrics: createMetrics() };
  `,
  // for comparison: the Powertools part alone, and what the W3C propagator of
  // @opentelemetry/core would cost (src/lib/telemetry/traceparent.ts replaces it)
  powertools: `
    import { createLogger } from './src/lib/telemetry/logger.ts';
    import { createMetrics } from './src/lib/telemetry/metrics.ts';
    globalThis.telemetry = { logger: createLogger(), metrics: createMetrics() };
  `,
  'core-propagator': `
    import { W3CTraceContextPropagator } from '@opentelemetry/core';
    globalThis.p = new W3CTraceContextPropagator();
  `,
} as const;

const BUILDS = {
  default: { mainFields: undefined, splitting: false },
  'module-first': { mainFields: ['module', 'main'], splitting: false },
  'module-first+split': { mainFields: ['module', 'main'], splitting: true },
} as const;

/** Builds one entry; returns the file to run and the bytes of everything it may load. */
const bundle = async (dir: string, name: keyof typeof ENTRIES, kind: keyof typeof BUILDS) => {
  const { mainFields, splitting } = BUILDS[kind];
  const outdir = join(dir, `${name}-${kind}`);
  const result = await build({
    stdin: { contents: ENTRIES[name], resolveDir: root, loader: 'ts', sourcefile: `${name}.ts` },
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    banner: { js: banner },
    outdir,
    entryNames: 'index',
    outExtension: { '.js': '.mjs' },
    splitting,
    metafile: true,
    logLevel: 'error',
    ...(mainFields ? { mainFields: [...mainFields] } : {}),
  });
  const bytes = Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
  const entry = join(outdir, 'index.mjs');
  return { entry, bytes, entryBytes: statSync(entry).size };
};

interface Case {
  label: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Bundle size: the entry, plus chunks loaded on demand when split. */
  size?: string;
  times: number[];
}

const baseEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
const tracingOn = { ...baseEnv, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };

const time = (c: Case) => {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, c.args, {
    env: c.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${c.label} failed: ${r.stderr.toString()}`);
  c.times.push(ms);
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'init-telemetry-'));
try {
  const cases: Case[] = [{ label: 'bare node -e 0', args: ['-e', '0'], env: baseEnv, times: [] }];
  for (const kind of Object.keys(BUILDS) as Array<keyof typeof BUILDS>) {
    const telemetry = await bundle(dir, 'telemetry', kind);
    const powertools = await bundle(dir, 'powertools', kind);
    const propagator = await bundle(dir, 'core-propagator', kind);
    const size = (b: { bytes: number; entryBytes: number }) =>
      b.bytes === b.entryBytes
        ? `${(b.bytes / 1024).toFixed(0)} KB`
        : `${(b.entryBytes / 1024).toFixed(0)}+${((b.bytes - b.entryBytes) / 1024).toFixed(0)} KB`;
    cases.push(
      {
        label: `[${kind}] tracing off`,
        args: [telemetry.entry],
        env: baseEnv,
        size: size(telemetry),
        times: [],
      },
      {
        label: `[${kind}] tracing on`,
        args: [telemetry.entry],
        env: tracingOn,
        size: size(telemetry),
        times: [],
      },
      {
        label: `[${kind}] logger+metrics only`,
        args: [powertools.entry],
        env: baseEnv,
        size: size(powertools),
        times: [],
      },
      {
        label: `[${kind}] core W3C propagator only`,
        args: [propagator.entry],
        env: baseEnv,
        size: size(propagator),
        times: [],
      },
    );
  }
  for (const c of cases) time(c); // warm the file cache
  for (const c of cases) c.times.length = 0;
  for (let i = 0; i < runs; i++) for (const c of cases) time(c);

  const bare = median(cases[0]!.times);
  console.log(`node ${process.version}, ${runs} runs each, median wall time`);
  console.log(
    `${'case'.padEnd(44)} ${'median'.padStart(9)} ${'added'.padStart(7)} ${'bundle'.padStart(12)}`,
  );
  for (const c of cases) {
    const m = median(c.times);
    const added = c === cases[0] ? '' : `+${(m - bare).toFixed(1)}`;
    console.log(
      `${c.label.padEnd(44)} ${m.toFixed(1).padStart(9)} ${added.padStart(7)} ${(c.size ?? '').padStart(12)}`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
