/**
 * CPU time of the main thread alone (Linux: /proc/self/task/<pid>/stat), in ms; `undefined`
 * elsewhere. The runtime does its work on the main thread, so steps per main-thread CPU-second
 * estimates the throughput of an uncontended core when other processes share the machine.
 */
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SEC = 100; // USER_HZ on Linux

export function mainThreadCpuMs(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SEC;
  } catch {
    return undefined;
  }
}
