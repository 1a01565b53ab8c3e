/**
 * Bundles each Lambda handler with esbuild into `dist/<fn>/index.js`: one ESM
 * file (a `package.json` beside it says `"type": "module"`), minified, with an
 * external source map. `serverless.yml` zips `dist/<fn>/` per function.
 *
 * Why `index.js` and not `index.mjs`: both load in Lambda, but `serverless invoke
 * local` resolves handlers with `require`, which finds `.js` and not `.mjs`.
 * Keep top-level `await` out of the handlers for the same reason (require(esm)
 * refuses modules that use it).
 *
 *   node scripts/build.ts [--external-aws-sdk] [fn ...]
 *
 * Everything is bundled, the AWS SDK v3 included, although the nodejs22.x runtime
 * ships one: the runtime's copy changes version without notice, while a bundled
 * copy is the version the tests ran (package-lock.json), and one minified file
 * loads faster than the runtime's unbundled node_modules tree.
 * `--external-aws-sdk` leaves `@aws-sdk/*` and `@smithy/*` to the runtime, for
 * size comparisons.
 */
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The functions of serverless.yml; each has `src/handlers/<name>.ts` exporting `handler`. */
export const FUNCTIONS = ['processOrders', 'produceOrders', 'republishDlq'] as const;
export type FunctionName = (typeof FUNCTIONS)[number];

export interface BuildOptions {
  /** Which functions to build; all by default. */
  functions?: readonly FunctionName[];
  /** Project root (where `src/` and `dist/` are). */
  root?: string;
  /** Leave `@aws-sdk/*` and `@smithy/*` out of the bundle (the runtime's copy is used). */
  externalAwsSdk?: boolean;
}

export interface BundleReport {
  fn: FunctionName;
  /** Absolute path of `index.js`. */
  file: string;
  /** Bytes of JavaScript shipped: `index.js` and its chunks. */
  bytes: number;
  /** Size of the source map in bytes (shipped beside the bundle, not loaded unless enabled). */
  mapBytes: number;
  /** The biggest packages in the bundle, by bytes of output. */
  topPackages: Array<{ name: string; bytes: number }>;
}

// Bundled CommonJS packages (kafkajs, parts of the SDK) call `require` for Node
// built-ins; an ESM bundle has no `require` unless it makes one.
const ESM_REQUIRE_SHIM =
  "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);";

const packageOf = (input: string): string => {
  const at = input.lastIndexOf('node_modules/');
  if (at < 0) return input.startsWith('src/') ? 'src' : input;
  const parts = input.slice(at + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? input);
};

/**
 * What a bundle is made of, by package, over every output file (the entry and the
 * chunks behind `import()`: esbuild marks those as entry points too, so one output
 * alone is not "the bundle"), biggest first. Paths are as the metafile has them,
 * relative to the build's working directory.
 */
export const bundleMakeup = (meta: esbuild.Metafile, limit = 8) => {
  const sizes = new Map<string, number>();
  for (const output of Object.values(meta.outputs))
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(input);
      sizes.set(name, (sizes.get(name) ?? 0) + bytesInOutput);
    }
  return [...sizes]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, limit);
};

/** Bytes of the JavaScript a bundle ships: the entry and its chunks. */
export const bundleBytes = (meta: esbuild.Metafile, root: string) =>
  Object.keys(meta.outputs)
    .filter((path) => path.endsWith('.js'))
    .reduce((sum, path) => sum + statSync(join(root, path)).size, 0);

/**
 * The esbuild options of a Lambda bundle: one ESM entry `index.js` in `outdir`, with
 * what it loads lazily split into `chunks/`. Shared with the init benchmark so it
 * measures exactly what ships.
 */
export const lambdaBuildOptions = (
  entry: string,
  outdir: string,
  root = ROOT,
): esbuild.BuildOptions & { metafile: true } => ({
  absWorkingDir: root,
  entryPoints: { index: entry },
  outdir,
  // code behind a dynamic import() (AWS SDK for discovery and secrets, the OTel
  // SDK when tracing is on) goes to chunks loaded only when used: measured init
  // +62 ms instead of +136 ms for processOrders (BENCHMARKS.md)
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'esm',
  // ESM entry points of dual packages tree-shake better (the SDK ships both).
  mainFields: ['module', 'main'],
  minify: true,
  // class and function names survive: error types and stack frames stay readable
  keepNames: true,
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'linked',
  banner: { js: ESM_REQUIRE_SHIM },
  define: { 'process.env.NODE_ENV': '"production"' },
  metafile: true,
  logLevel: 'warning',
});

/**
 * Bundles the handlers into `dist/<fn>/` (what is shipped): `index.js`,
 * `index.js.map`, `package.json` and the licence comments (`index.js.LEGAL.txt`,
 * when any), plus `dist/<fn>.meta.json` (esbuild's metafile, to see what the
 * bundle is made of; not shipped).
 *
 * @example
 * const reports = await build({ functions: ['processOrders'] });
 * console.log(reports[0].bytes);
 */
export const build = async (options: BuildOptions = {}): Promise<BundleReport[]> => {
  const root = options.root ?? ROOT;
  const functions = options.functions ?? FUNCTIONS;
  const external = options.externalAwsSdk ? ['@aws-sdk/*', '@smithy/*'] : [];
  return Promise.all(
    functions.map(async (fn) => {
      const outdir = join(root, 'dist', fn);
      rmSync(outdir, { recursive: true, force: true });
      mkdirSync(outdir, { recursive: true });
      const outfile = join(outdir, 'index.js');
      writeFileSync(join(outdir, 'package.json'), '{"type":"module"}\n');
      const result = await esbuild.build({
        ...lambdaBuildOptions(join(root, 'src', 'handlers', `${fn}.ts`), outdir, root),
        external,
      });
      writeFileSync(join(root, 'dist', `${fn}.meta.json`), JSON.stringify(result.metafile));
      return {
        fn,
        file: outfile,
        bytes: bundleBytes(result.metafile, root),
        mapBytes: statSync(`${outfile}.map`).size,
        topPackages: bundleMakeup(result.metafile),
      };
    }),
  );
};

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

/** One line per function plus its biggest packages: what the bundle costs. */
export const formatReports = (reports: readonly BundleReport[]): string =>
  reports
    .map(
      (r) =>
        `${r.fn.padEnd(14)} ${kb(r.bytes).padStart(11)}  (map ${kb(r.mapBytes)})\n` +
        r.topPackages.map((p) => `    ${kb(p.bytes).padStart(11)}  ${p.name}`).join('\n'),
    )
    .join('\n');

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const names = args.filter((a) => !a.startsWith('--'));
  const unknown = names.filter((n) => !(FUNCTIONS as readonly string[]).includes(n));
  if (unknown.length > 0) {
    console.error(`unknown function(s): ${unknown.join(', ')}; known: ${FUNCTIONS.join(', ')}`);
    process.exit(2);
  }
  const started = performance.now();
  try {
    const reports = await build({
      functions: names.length > 0 ? (names as FunctionName[]) : FUNCTIONS,
      externalAwsSdk: args.includes('--external-aws-sdk'),
    });
    console.log(formatReports(reports));
    console.log(
      `built ${reports.length} bundle(s) in ${Math.round(performance.now() - started)} ms`,
    );
  } catch (error) {
    // esbuild has already printed the located errors
    console.error(error instanceof Error ? error.message.split('\n')[0] : error);
    process.exit(1);
  }
}
