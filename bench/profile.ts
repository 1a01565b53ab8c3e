/**
 * CPU profiles of the figures that miss a target, summarised: where the time goes,
 * by function (self time) and by area (package or source folder).
 *
 *   node bench/profile.ts hotPath [--quick] [--top 15] [--out <dir>]
 *   node bench/profile.ts init [--quick] [--top 15] [--out <dir>] [--entry <file.ts>]
 *   node bench/profile.ts stages [--quick]   (the hot path's stages, one added at a time)
 *   node bench/profile.ts --summarize <file.cpuprofile> [--top 15]   (any `node --cpu-prof` output)
 *
 * `hotPath` profiles the measured loop only (V8's sampling profiler through
 * `node:inspector`, the one `--cpu-prof` uses, started after warm-up). `init` runs the
 * init probe under `node --cpu-prof` a few times, on a bundle built like the shipped
 * one but with line breaks kept, and maps each sampled line back to its package through
 * the source map. The `.cpuprofile` files are kept (open them in Chrome DevTools).
 * `stages` times the hot path built up one stage at a time (interleaved, medians), so
 * each stage's marginal cost is a difference of two medians, without profiler overhead.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import { orderResultInto } from '../src/lib/delivery/processOrders.ts';
import { ResultBytes } from '../src/lib/delivery/resultBytes.ts';
import { decodeKafkaEvent } from '../src/lib/events/decode.ts';
import { evaluateOrder } from '../src/lib/orders/rules.ts';
import { parseOrder } from '../src/lib/orders/schema.ts';
import { hotPathWorkload } from './hotPath.ts';
import { HANDLER_ENTRY, handlerEnv, PROBE_SOURCE, ROOT, spawnTimed } from './init.ts';
import { collectGarbage, interleave, median, round } from './stats.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  positionTicks?: Array<{ line: number; ticks: number }>;
}
/** The `.cpuprofile` format (Chrome DevTools protocol `Profiler.Profile`). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** Where a piece of code lives, for reports: a function and the area it belongs to. */
export interface CodeLocation {
  fn: string;
  area: string;
}

/** Maps a sampled position (0-based line and column of a URL) to code, or `undefined`. */
export type LocationResolver = (
  url: string,
  line: number,
  column: number,
) => CodeLocation | undefined;

export interface ProfileSummary {
  /** Sampled milliseconds (idle excluded). */
  totalMs: number;
  /** Functions by self time. */
  functions: Array<{ fn: string; area: string; selfMs: number; share: number }>;
  /** Areas (package, source file, or V8's `(garbage collector)` / `(program)`) by self time. */
  areas: Array<{ area: string; selfMs: number; share: number }>;
  /** The project's own functions by inclusive time (self + callees). */
  inclusive: Array<{ fn: string; totalMs: number; share: number }>;
}

const SPECIAL = new Set(['(garbage collector)', '(program)', '(idle)', '(root)']);

/** `kafkajs`, `@aws-sdk/client-kafka`, `src/lib/events/decode.ts`, `node:buffer`, … */
export const areaOf = (path: string): string => {
  const at = path.lastIndexOf('node_modules/');
  if (at >= 0) {
    const parts = path.slice(at + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (path.startsWith('node:internal')) return 'node:internal';
  if (path.startsWith('node:')) return path;
  const file = path.startsWith('file://') ? fileURLToPath(path) : path;
  const rel = relative(ROOT, resolve(ROOT, file));
  return rel.startsWith('..') ? file : rel;
};

const defaultLocation = (frame: CallFrame): CodeLocation => {
  const name = frame.functionName || '(anonymous)';
  if (SPECIAL.has(name)) return { fn: name, area: name };
  if (frame.url === '') return { fn: `${name} (native)`, area: 'V8 natives' };
  const area = areaOf(frame.url);
  const file = frame.url.startsWith('node:') ? frame.url : area.split('/').pop();
  return { fn: `${name} ${file}:${frame.lineNumber + 1}`, area };
};

/**
 * Summarises a CPU profile. Time per sample is the gap to the next sample, as
 * DevTools counts it. With `resolve`, positions in resolvable URLs (a bundle with a
 * source map) are attributed line by line to the code they came from.
 */
export const summarizeProfile = (
  profiles: CpuProfile | CpuProfile[],
  options: { resolve?: LocationResolver; top?: number } = {},
): ProfileSummary => {
  const top = options.top ?? 15;
  const selfByFn = new Map<string, { area: string; ms: number }>();
  const selfByArea = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let totalMs = 0;
  const add = (map: Map<string, number>, key: string, ms: number) =>
    map.set(key, (map.get(key) ?? 0) + ms);

  for (const profile of Array.isArray(profiles) ? profiles : [profiles]) {
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const samples = profile.samples ?? [];
    const deltas = profile.timeDeltas ?? [];
    const selfUs = new Map<string, number>();
    for (let i = 0; i < samples.length; i++) {
      const us = deltas[i + 1] ?? 0;
      add(selfUs, String(samples[i]), us);
    }
    const location = new Map<number, CodeLocation>();
    const locate = (node: ProfileNode): CodeLocation => {
      let loc = location.get(node.id);
      if (!loc) {
        const f = node.callFrame;
        loc = options.resolve?.(f.url, f.lineNumber, f.columnNumber) ?? defaultLocation(f);
        location.set(node.id, loc);
      }
      return loc;
    };
    for (const [idText, us] of selfUs) {
      const node = byId.get(Number(idText));
      if (!node || node.callFrame.functionName === '(idle)') continue;
      const ms = us / 1000;
      totalMs += ms;
      const loc = locate(node);
      const fnEntry = selfByFn.get(loc.fn) ?? { area: loc.area, ms: 0 };
      fnEntry.ms += ms;
      selfByFn.set(loc.fn, fnEntry);
      // Line-level attribution: a bundle's top-level code runs many packages in one function.
      const ticks = node.positionTicks ?? [];
      const tickSum = ticks.reduce((s, t) => s + t.ticks, 0);
      if (options.resolve && tickSum > 0) {
        for (const t of ticks) {
          const at = options.resolve(node.callFrame.url, t.line - 1, -1);
          add(selfByArea, at?.area ?? loc.area, (ms * t.ticks) / tickSum);
        }
      } else add(selfByArea, loc.area, ms);
      // Inclusive: every distinct project function on the stack gets the sample.
      const onStack = new Set<string>();
      for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
        const n = byId.get(id)!;
        const l = locate(n);
        if (l.area.startsWith('src/')) onStack.add(l.fn);
      }
      for (const fn of onStack) add(inclusive, fn, ms);
    }
  }
  const share = (ms: number) => round((100 * ms) / totalMs);
  return {
    totalMs: round(totalMs),
    functions: [...selfByFn]
      .map(([fn, { area, ms }]) => ({ fn, area, selfMs: round(ms), share: share(ms) }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top),
    areas: [...selfByArea]
      .map(([area, ms]) => ({ area, selfMs: round(ms), share: share(ms) }))
      .sort((a, b) => b.selfMs - a.selfMs)
      .slice(0, top),
    inclusive: [...inclusive]
      .map(([fn, ms]) => ({ fn, totalMs: round(ms), share: share(ms) }))
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, top),
  };
};

/** Markdown tables of a summary; `per` divides milliseconds (per run, per event). */
export const formatSummary = (s: ProfileSummary, per = 1, perLabel = 'ms'): string => {
  const ms = (v: number) => round(v / per).toString();
  const table = (head: string[], rows: string[][]) =>
    [
      `| ${head.join(' | ')} |`,
      `| ${head.map(() => '---').join(' | ')} |`,
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
  return [
    `Sampled: ${ms(s.totalMs)} ${perLabel}`,
    '',
    'By area (self time):',
    '',
    table(
      ['area', perLabel, '%'],
      s.areas.map((a) => [a.area, ms(a.selfMs), `${a.share}`]),
    ),
    '',
    'Top functions (self time):',
    '',
    table(
      ['function', 'area', perLabel, '%'],
      s.functions.map((f) => [`\`${f.fn}\``, f.area, ms(f.selfMs), `${f.share}`]),
    ),
    ...(s.inclusive.length > 0
      ? [
          '',
          'Project functions (inclusive time):',
          '',
          table(
            ['function', perLabel, '%'],
            s.inclusive.map((f) => [`\`${f.fn}\``, ms(f.totalMs), `${f.share}`]),
          ),
        ]
      : []),
  ].join('\n');
};

/** Profiles `runs` invocations of the hot-path figure after warm-up, in this process. */
export const profileHotPath = async (options: { quick: boolean; out: string; top: number }) => {
  const runs = options.quick ? 10 : 20;
  const work = await hotPathWorkload({ quick: options.quick });
  for (let i = 0; i < 5; i++) await work.figure();
  collectGarbage();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  const started = performance.now();
  for (let i = 0; i < runs; i++) await work.figure();
  const wallMs = performance.now() - started;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  const file = join(options.out, `hotPath-${Date.now()}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  const summary = summarizeProfile(profile as CpuProfile, { top: options.top });
  return { file, runs, records: work.records, wallMs: round(wallMs / runs), summary };
};

/**
 * The hot path built up one stage at a time on the hot-path event; each row adds
 * one stage to the one above, so the difference of two medians is that stage's cost.
 */
export const measureStages = async (options: { quick: boolean }) => {
  const work = await hotPathWorkload({ quick: options.quick });
  const { event } = work;
  const maxRecordBytes = 1_000_000;
  const processedTopic = 'orders.processed';
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const now = new Date();
  let sink = 0;
  const eachRecord = (
    fn: (r: ReturnType<typeof decodeKafkaEvent>[number]['records'][number]) => void,
  ) => {
    for (const batch of decodeKafkaEvent(event, { maxRecordBytes }))
      for (const record of batch.records) fn(record);
  };
  const stages: Record<string, () => unknown> = {
    '1 floor: base64 + JSON.parse': work.floor,
    '2 decodeKafkaEvent': () => {
      sink += decodeKafkaEvent(event, { maxRecordBytes }).length;
    },
    '3 + JSON.parse (fatal UTF-8) of each value': () =>
      eachRecord((r) => {
        sink += JSON.parse(utf8.decode(r.value!)) ? 1 : 0;
      }),
    '4 + zod schema (parseOrder)': () =>
      eachRecord((r) => {
        sink += parseOrder(r.value!).items.length;
      }),
    '5 + evaluateOrder (one Date per batch)': () =>
      eachRecord((r) => {
        sink += evaluateOrder(parseOrder(r.value!), { now }).itemCount;
      }),
    '6 + result bytes and headers (orderResultInto, one Date per record)': () => {
      const results = new ResultBytes();
      eachRecord((r) => orderResultInto(r, { processedTopic, now: new Date() }, results));
      sink += results.length;
    },
    '7 full handler (processBatch, in-memory sink)': work.figure,
  };
  const samples = await interleave(stages, { runs: options.quick ? 5 : 11, warmup: 2 });
  let previous: number | undefined;
  const rows = Object.entries(samples).map(([stage, times]) => {
    const ms = median(times);
    const row = {
      stage,
      ms: round(ms),
      marginalMs: previous === undefined ? undefined : round(ms - previous),
    };
    if (!stage.startsWith('1 ')) previous = ms;
    else previous = undefined;
    return row;
  });
  if (sink < 0) console.log(sink);
  return { records: work.records, rows };
};

/**
 * Maps positions in the bundle back to the sources through its source map; `column`
 * -1 means "the first code on that line".
 */
const bundleResolver = (bundleFile: string): LocationResolver => {
  const url = pathToFileURL(bundleFile).href;
  const map = new SourceMap(
    JSON.parse(readFileSync(`${bundleFile}.map`, 'utf8')) as SourceMapPayload,
  );
  const lines = readFileSync(bundleFile, 'utf8').split('\n');
  return (at, line, column) => {
    if (at !== url) return undefined;
    const col = column >= 0 ? column : (lines[line]?.search(/\S/) ?? 0);
    const entry = map.findEntry(line, Math.max(0, col));
    if (!('originalSource' in entry))
      return { fn: `bundle:${line + 1}`, area: '(esbuild runtime helpers)' };
    const source = entry.originalSource;
    const area = areaOf(
      source.startsWith('file://') ? source : resolve(dirname(bundleFile), source),
    );
    const file = entry.originalSource.split('/').pop();
    return {
      fn: `${(entry as { name?: string }).name ?? '(top level)'} ${file}:${entry.originalLine + 1}`,
      area,
    };
  };
};

/**
 * Runs the init probe under `node --cpu-prof` `runs` times on a bundle built as the
 * shipped one (minified names and syntax) but with its line breaks, so each sampled
 * line maps to one package.
 */
export const profileInit = async (options: {
  quick: boolean;
  out: string;
  top: number;
  entry?: string;
}) => {
  const runs = options.quick ? 3 : 8;
  const dir = join(options.out, `init-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'index.mjs');
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [options.entry ?? HANDLER_ENTRY],
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    minifyIdentifiers: true,
    minifySyntax: true,
    sourcemap: 'external',
    legalComments: 'none',
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  const profDir = join(dir, 'profiles');
  const env = handlerEnv('http://127.0.0.1:9'); // telemetry on; nothing is exported at init
  for (let i = 0; i < runs; i++)
    await spawnTimed(
      [
        `--cpu-prof`,
        `--cpu-prof-dir=${profDir}`,
        '--cpu-prof-interval=100',
        '--input-type=module',
        '-e',
        PROBE_SOURCE,
        pathToFileURL(file).href,
      ],
      env,
    );
  const profiles = readdirSync(profDir).map(
    (f) => JSON.parse(readFileSync(join(profDir, f), 'utf8')) as CpuProfile,
  );
  const summary = summarizeProfile(profiles, { resolve: bundleResolver(file), top: options.top });
  return { dir, runs: profiles.length, summary };
};

const main = async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      top: { type: 'string', default: '15' },
      out: { type: 'string' },
      entry: { type: 'string' },
      summarize: { type: 'string' },
    },
  });
  const top = Number(values.top);
  const out = resolve(values.out ?? join(tmpdir(), 'msk-bench-profiles'));
  mkdirSync(out, { recursive: true });
  if (values.summarize) {
    const profile = JSON.parse(readFileSync(values.summarize, 'utf8')) as CpuProfile;
    console.log(formatSummary(summarizeProfile(profile, { top })));
    return;
  }
  const target = positionals[0] ?? 'hotPath';
  if (target === 'hotPath') {
    const r = await profileHotPath({ quick: values.quick, out, top });
    console.log(
      `hotPath profile: ${r.records} records × ${r.runs} invocations, ${r.wallMs} ms per invocation under the profiler; ${r.file}\n`,
    );
    console.log(formatSummary(r.summary, r.runs, 'ms/event'));
  } else if (target === 'stages') {
    const r = await measureStages({ quick: values.quick });
    console.log(`hot path by stage: ${r.records} records, medians (ms per event)\n`);
    console.log('| stage | ms | marginal ms | µs/record (marginal) |\n| --- | --- | --- | --- |');
    for (const row of r.rows)
      console.log(
        `| ${row.stage} | ${row.ms} | ${row.marginalMs ?? '—'} | ${row.marginalMs === undefined ? '—' : round((row.marginalMs * 1000) / r.records)} |`,
      );
  } else if (target === 'init') {
    const r = await profileInit({
      quick: values.quick,
      out,
      top,
      ...(values.entry && { entry: resolve(values.entry) }),
    });
    console.log(`init profile: ${r.runs} processes; ${r.dir}\n`);
    console.log(formatSummary(r.summary, r.runs, 'ms/process'));
  } else {
    throw new Error(`unknown target ${target}: hotPath, stages or init`);
  }
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  });
}
