/** CPU time and peak RSS of a live process, straight from /proc (Linux only). */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

export interface ProcSample {
  /** User plus system CPU seconds since the process started. */
  cpuSeconds: number;
  /** Peak resident set size (VmHWM) in bytes. */
  peakRssBytes: number;
}

/** A sample of `pid`, or undefined when it has exited. */
export function sampleProcess(pid: number | undefined): ProcSample | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(status);
    return { cpuSeconds: ticks / CLK_TCK, peakRssBytes: Number(hwm?.[1] ?? 0) * 1024 };
  } catch {
    return undefined;
  }
}

export interface SystemSample {
  /** Clock ticks the CPUs spent busy (anything but idle and iowait), summed over every CPU. */
  busyTicks: number;
  totalTicks: number;
}

export function sampleSystem(): SystemSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const t = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const total = t.reduce((a, b) => a + b, 0);
  return { busyTicks: total - (t[3] ?? 0) - (t[4] ?? 0), totalTicks: total };
}

/** CPUs busy on average between two samples, counting every process on the machine. */
export function busyCores(from: SystemSample, to: SystemSample, cores: number): number {
  const total = to.totalTicks - from.totalTicks;
  return total > 0 ? ((to.busyTicks - from.busyTicks) / total) * cores : 0;
}

export const ticksToSeconds = (ticks: number) => ticks / CLK_TCK;
