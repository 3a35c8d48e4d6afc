/**
 * Live figures read straight from Node and /proc and /sys (no systeminformation in the agent
 * process): CPU load between two calls, memory, free disk under the data dir, the hottest
 * thermal zone.
 */
import { readdirSync, readFileSync, statfsSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { join } from 'node:path';

function cpuTimes(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    idle += t.idle;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { idle, total };
}

export class SystemLoad {
  private last = cpuTimes();

  constructor(private readonly dataDir: string) {}

  /** Percent of all cores busy since the previous call (or since construction). */
  cpuLoadPercent(): number {
    const now = cpuTimes();
    const total = now.total - this.last.total;
    const idle = now.idle - this.last.idle;
    this.last = now;
    return total > 0 ? Math.min(100, Math.max(0, (100 * (total - idle)) / total)) : 0;
  }

  memory(): { totalBytes: number; freeBytes: number; usedBytes: number } {
    const totalBytes = totalmem();
    const freeBytes = freemem();
    return { totalBytes, freeBytes, usedBytes: totalBytes - freeBytes };
  }

  disk(): { totalBytes: number; freeBytes: number } {
    try {
      const s = statfsSync(this.dataDir);
      return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
    } catch {
      return { totalBytes: 0, freeBytes: 0 };
    }
  }

  /** Hottest /sys/class/thermal zone in degrees Celsius; null where none is readable. */
  temperatureC(thermalRoot = '/sys/class/thermal'): number | null {
    let hottest: number | null = null;
    let zones: string[] = [];
    try {
      zones = readdirSync(thermalRoot).filter((z) => z.startsWith('thermal_zone'));
    } catch {
      return null;
    }
    for (const zone of zones) {
      try {
        const milli = Number(readFileSync(join(thermalRoot, zone, 'temp'), 'utf8').trim());
        const c = milli / 1000;
        if (Number.isFinite(c) && c > -100 && c < 200 && (hottest === null || c > hottest))
          hottest = c;
      } catch {
        // unreadable zone: skip
      }
    }
    return hottest;
  }
}
