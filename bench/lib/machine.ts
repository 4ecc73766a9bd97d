import { cpus, loadavg, totalmem } from 'node:os';

export interface MachineInfo {
  readonly cpus: number;
  readonly model: string;
  readonly node: string;
  readonly platform: string;
  readonly memGb: number;
  /** 1-minute load average when the benchmark ended: above the core count, other work competed. */
  readonly load1: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    memGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    load1: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
