/**
 * The benchmarks of issue 8, each figure measured beside its baseline in the same run.
 *
 *   node bench/run.ts [--json] [--quick] [--only hotPath,hotPathAvro,init,produce,e2e] [--init-entry <file.ts>]
 *
 * `--json` prints one JSON object on stdout (everything else goes to stderr);
 * `--quick` uses smaller inputs and fewer runs (all four in under a minute).
 * `produce` and `e2e` need the broker (`KAFKA_BROKERS` or `npm run stack:up`).
 * Missing a target is reported, not an error: the exit code is 1 only when a figure
 * could not be measured. Methods and results: BENCHMARKS.md.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type E2eResult, measureE2e } from './e2e.ts';
import { type HotPathResult, measureHotPath } from './hotPath.ts';
import { type HotPathAvroResult, measureHotPathAvro } from './hotPathAvro.ts';
import { type InitResult, measureInit } from './init.ts';
import { describeMachine, type Machine } from './machine.ts';
import { measureProduce, type ProduceResult } from './produce.ts';

export const FIGURES = ['hotPath', 'hotPathAvro', 'init', 'produce', 'e2e'] as const;
export type Figure = (typeof FIGURES)[number];

export interface BenchReport {
  machine: Machine;
  quick: boolean;
  startedAt: string;
  durationMs: number;
  hotPath?: HotPathResult;
  hotPathAvro?: HotPathAvroResult;
  init?: InitResult;
  produce?: ProduceResult;
  e2e?: E2eResult;
  /** Figures that could not be measured, with why. */
  errors?: Partial<Record<Figure, string>>;
}

const USAGE =
  'usage: node bench/run.ts [--json] [--quick] [--only hotPath,hotPathAvro,init,produce,e2e] [--init-entry <file.ts>]';

const parseFigures = (only: string | undefined): Figure[] => {
  if (!only) return [...FIGURES];
  const names = only
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !(FIGURES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0)
    throw new Error(
      `unknown figure(s): ${unknown.join(', ') || '(none)'}; known: ${FIGURES.join(', ')}`,
    );
  return FIGURES.filter((f) => names.includes(f));
};

const fmt = (n: number | undefined, unit = '') =>
  n === undefined ? '—' : `${n.toLocaleString('en-US', { maximumFractionDigits: 3 })}${unit}`;
const verdict = (met: boolean | undefined) => (met === undefined ? '' : met ? 'met' : 'MISSED');

/** The human-readable table: each figure beside its baseline and target. */
export const formatReport = (r: BenchReport): string => {
  const rows: string[][] = [['figure', 'value', 'baseline', 'ratio / delta', 'target', '']];
  if (r.hotPath)
    rows.push([
      'hotPath',
      `${fmt(r.hotPath.recordsPerSec)} rec/s (${fmt(r.hotPath.ms)} ms/event)`,
      `floor ${fmt(r.hotPath.floorRecordsPerSec)} rec/s (${fmt(r.hotPath.floorMs)} ms)`,
      `${fmt(r.hotPath.ratio)} of floor (IQR ${fmt(r.hotPath.ratioRange.low)}–${fmt(r.hotPath.ratioRange.high)})`,
      `≥ ${r.hotPath.target}`,
      verdict(r.hotPath.met),
    ]);
  if (r.hotPathAvro)
    rows.push([
      'hotPathAvro',
      `${fmt(r.hotPathAvro.avroRecordsPerSec)} rec/s (${fmt(r.hotPathAvro.avroMs)} ms/event)`,
      `JSON ${fmt(r.hotPathAvro.jsonRecordsPerSec)} rec/s (${fmt(r.hotPathAvro.jsonMs)} ms)`,
      `${fmt(r.hotPathAvro.ratio)} of JSON (IQR ${fmt(r.hotPathAvro.ratioRange.low)}–${fmt(r.hotPathAvro.ratioRange.high)})`,
      'report',
      '',
    ]);
  if (r.init)
    rows.push([
      'init',
      `${fmt(r.init.handlerMs)} ms, bundle ${fmt(r.init.bundleBytes)} B`,
      `bare node ${fmt(r.init.bareMs)} ms`,
      `+${fmt(r.init.overBareMs)} ms`,
      `≤ +${r.init.target.overBareMs} ms, ≤ ${fmt(r.init.target.bundleBytes)} B`,
      verdict(r.init.met),
    ]);
  if (r.produce)
    rows.push([
      'produce',
      `tx ${fmt(r.produce.txRecordsPerSec)} rec/s`,
      `idempotent ${fmt(r.produce.baselineRecordsPerSec)} rec/s`,
      `${fmt(r.produce.ratio)} of baseline (IQR ${fmt(r.produce.ratioRange.low)}–${fmt(r.produce.ratioRange.high)})`,
      `≥ ${r.produce.target}`,
      verdict(r.produce.met),
    ]);
  if (r.e2e)
    rows.push([
      'e2e',
      `${fmt(r.e2e.recordsPerSec)} orders/s, p50 ${fmt(r.e2e.p50Ms)} ms, p99 ${fmt(r.e2e.p99Ms)} ms (burst)`,
      '—',
      '—',
      'report',
      '',
    ]);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const notes: string[] = [];
  if (r.init)
    notes.push(
      `init: ${r.init.entry} exports [${r.init.exports.join(', ')}]; telemetry off ${fmt(r.init.telemetryOffMs)} ms; in-process import+init ${fmt(r.init.inProcessMs)} ms; biggest: ${r.init.topPackages
        .slice(0, 4)
        .map((p) => `${p.name} ${fmt(p.bytes)} B`)
        .join(', ')}`,
    );
  if (r.produce)
    notes.push(
      `produce: ${r.produce.partitions} partitions × ${r.produce.batchRecords} × ${r.produce.recordBytes} B per transaction, transaction p50 ${fmt(r.produce.txMs)} ms, p90 ${fmt(r.produce.txP90Ms)} ms; without the checkpoint ${fmt(r.produce.txWithoutCheckpointRecordsPerSec)} rec/s; checkpoint record without the group offset ${fmt(r.produce.txRecordOnly.recordsPerSec)} rec/s (ratio ${fmt(r.produce.txRecordOnly.ratio)}); transactions of ${r.produce.smallTx.batchRecords}: ${fmt(r.produce.smallTx.recordsPerSec)} rec/s, p50 ${fmt(r.produce.smallTx.txMs)} ms`,
    );
  if (r.e2e)
    notes.push(
      `e2e: burst of ${r.e2e.orders} orders via ${r.e2e.handler}, ${r.e2e.invocations} invocations, duplicates ${r.e2e.duplicates}, max ${fmt(r.e2e.maxMs)} ms; paced ${r.e2e.paced.perSecond}/s: p50 ${fmt(r.e2e.paced.p50Ms)} ms, p99 ${fmt(r.e2e.paced.p99Ms)} ms`,
    );
  for (const [figure, error] of Object.entries(r.errors ?? {}))
    notes.push(`${figure}: ERROR ${error}`);
  const m = r.machine;
  return [
    ...lines,
    '',
    ...notes,
    `machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}, load ${m.loadAverage1m}; ${r.quick ? 'quick' : 'full'} run, ${(r.durationMs / 1000).toFixed(1)} s`,
  ].join('\n');
};

const main = async () => {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      'init-entry': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const figures = parseFigures(values.only);
  const quick = values.quick;
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

  // stdout carries the report only (the table, or the JSON object with --json): anything
  // the measured code prints (the handlers' logs and EMF metric lines) goes to stderr.
  const writeStdout = process.stdout.write.bind(process.stdout);
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const log = (line: string) => process.stderr.write(`${line}\n`);

  const started = performance.now();
  const report: BenchReport = {
    machine: describeMachine(),
    quick,
    startedAt: new Date().toISOString(),
    durationMs: 0,
  };
  const errors: Partial<Record<Figure, string>> = {};
  const initEntry = values['init-entry'] ? resolve(values['init-entry']) : undefined;
  for (const figure of figures) {
    const t = performance.now();
    try {
      if (figure === 'hotPath') report.hotPath = await measureHotPath({ quick, log });
      else if (figure === 'hotPathAvro')
        report.hotPathAvro = await measureHotPathAvro({ quick, log });
      else if (figure === 'init')
        report.init = await measureInit({ quick, log, ...(initEntry && { entry: initEntry }) });
      else if (figure === 'produce') report.produce = await measureProduce({ quick, log });
      else report.e2e = await measureE2e({ quick, log });
      log(`${figure}: done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } catch (error) {
      errors[figure] = error instanceof Error ? error.message : String(error);
      log(`${figure}: FAILED ${errors[figure]}`);
    }
  }
  report.durationMs = Math.round(performance.now() - started);
  if (Object.keys(errors).length > 0) report.errors = errors;

  const text = values.json ? `${JSON.stringify(report)}\n` : `\n${formatReport(report)}\n`;
  // Exit explicitly: a handler module's Kafka client (created at its init, as in Lambda)
  // has no close of its own and would keep the process alive.
  writeStdout(text, () => process.exit(report.errors ? 1 : 0));
};

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  console.error(USAGE);
  process.exitCode = 2;
});
