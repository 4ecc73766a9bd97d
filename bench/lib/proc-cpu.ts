/**
 * CPU time of other processes, read from Linux's /proc (`undefined` or empty elsewhere): the
 * worker processes of a scale-out phase by pid, the servers (Postgres backends, RabbitMQ's
 * `beam.smp`) by command name, and the whole machine's busy time. Sampled before and after a
 * phase, the differences say who used the cores.
 */
import { readdirSync, readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SEC = 100; // USER_HZ on Linux

/** [command, user+system CPU ms] of one process, or undefined when it is gone (or not Linux). */
function readStat(pid: string): [string, number] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? [command, (ticks * 1000) / CLOCK_TICKS_PER_SEC] : undefined;
  } catch {
    return undefined;
  }
}

/** User+system CPU ms of process `pid` (its threads included). */
export function cpuOfPid(pid: number): number | undefined {
  return readStat(String(pid))?.[1];
}

/**
 * CPU ms per process of each command in `commands`, keyed `command:pid`. A process that exits
 * between two samples takes its time with it: compare processes that live through the phase.
 */
export function cpuOfCommands(commands: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    const stat = readStat(pid);
    if (stat && commands.includes(stat[0])) out.set(`${stat[0]}:${pid}`, stat[1]);
  }
  return out;
}

/** CPU ms each command used between two `cpuOfCommands` samples (processes born in between count from 0). */
export function cpuDelta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const [key, ms] of after) {
    const command = key.slice(0, key.lastIndexOf(':'));
    totals[command] = (totals[command] ?? 0) + ms - (before.get(key) ?? 0);
  }
  return totals;
}

/** [busy, total] jiffies of the whole machine (all cores), from /proc/stat. */
export function machineTicks(): [number, number] | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
    return [total - idle, total];
  } catch {
    return undefined;
  }
}
