import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

/** Where a run happened: figures mean little without it. */
export interface Machine {
  cpus: number;
  cpuModel: string;
  node: string;
  os: string;
  memoryGiB: number;
  /** 1-minute load average when the run started: how busy the machine already was. */
  loadAverage1m: number;
}

export const describeMachine = (): Machine => ({
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
  node: process.version,
  os: `${process.platform} ${release()} ${process.arch}`,
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  loadAverage1m: Number(loadavg()[0]!.toFixed(2)),
});
