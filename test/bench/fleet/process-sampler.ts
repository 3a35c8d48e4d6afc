/**
 * CPU and memory of another process (the control plane) from /proc, sampled on an interval:
 * CPU as the change in utime + stime, memory as VmRSS. `phase()` closes the current window and
 * returns its figures, so each benchmark phase gets its own CPU and peak-RSS numbers.
 */
import { readFileSync } from 'node:fs';

export interface PhaseUsage {
  seconds: number;
  cpuSeconds: number;
  /** Average share of one core over the phase (100 = one core busy throughout). */
  cpuPercent: number;
  peakRssBytes: number;
  endRssBytes: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function readCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

function readRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

export class ProcessSampler {
  private readonly timer: NodeJS.Timeout;
  private start = { at: 0, cpu: 0 };
  private peakRss = 0;
  private lastRss = 0;

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    this.start = { at: Date.now(), cpu: readCpuSeconds(pid) };
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Figures since the previous call (or construction); starts the next window. */
  phase(): PhaseUsage {
    this.sample();
    const now = Date.now();
    const cpu = readCpuSeconds(this.pid);
    const seconds = (now - this.start.at) / 1000;
    const usage: PhaseUsage = {
      seconds,
      cpuSeconds: cpu - this.start.cpu,
      cpuPercent: seconds > 0 ? ((cpu - this.start.cpu) / seconds) * 100 : 0,
      peakRssBytes: this.peakRss,
      endRssBytes: this.lastRss,
    };
    this.start = { at: now, cpu };
    this.peakRss = this.lastRss;
    return usage;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    try {
      this.lastRss = readRssBytes(this.pid);
      this.peakRss = Math.max(this.peakRss, this.lastRss);
    } catch {
      // The process has exited; the last figures stand.
    }
  }
}
