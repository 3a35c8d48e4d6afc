/**
 * What the device is: hardware facts from systeminformation (collected once; free memory and
 * disk refreshed per hello) and live load figures for telemetry. Values the OS does not expose
 * are left out rather than guessed.
 */
import { statfsSync } from 'node:fs';
import { arch as osArch } from 'node:os';
import type { AcceleratorFacts, Arch, HardwareFacts } from '@edgecompress/protocol';
import si from 'systeminformation';

const INFERENCE_FLAGS = new Set([
  'neon',
  'asimd',
  'asimddp',
  'asimdhp',
  'sve',
  'sve2',
  'i8mm',
  'bf16',
  'fphp',
  'sse4_1',
  'sse4_2',
  'avx',
  'avx2',
  'fma',
  'f16c',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512_vnni',
  'avx_vnni',
  'amx_tile',
  'amx_int8',
  'amx_bf16',
]);

function clip(text: string | undefined, max: number): string | undefined {
  const t = text?.trim();
  return t ? t.slice(0, max) : undefined;
}

function diskFacts(dataDir: string): HardwareFacts['disk'] {
  try {
    const s = statfsSync(dataDir);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  } catch {
    return { totalBytes: 0, freeBytes: 0 };
  }
}

function acceleratorOf(
  controller: si.Systeminformation.GraphicsControllerData,
): AcceleratorFacts | undefined {
  const model = clip(controller.model, 200);
  if (!model) return undefined;
  const vram = controller.vram && controller.vram > 0 ? controller.vram * 1024 * 1024 : undefined;
  return {
    kind: 'gpu',
    vendor: clip(controller.vendor, 100) ?? 'unknown',
    model,
    ...(vram !== undefined ? { memoryBytes: vram } : {}),
  };
}

export class HardwareFactsCollector {
  private stable: Promise<Omit<HardwareFacts, 'memory' | 'disk'>> | undefined;

  constructor(private readonly dataDir: string) {}

  private collectStable(): Promise<Omit<HardwareFacts, 'memory' | 'disk'>> {
    this.stable ??= (async () => {
      const [cpu, flags, os, system, graphics] = await Promise.all([
        si.cpu(),
        si.cpuFlags().catch(() => ''),
        si.osInfo(),
        si.system().catch(() => undefined),
        si
          .graphics()
          .catch(() => ({ controllers: [] as si.Systeminformation.GraphicsControllerData[] })),
      ]);
      const model = clip([cpu.manufacturer, cpu.brand].filter(Boolean).join(' '), 200) ?? 'unknown';
      const maxGHz = cpu.speedMax || cpu.speed;
      const relevantFlags = flags
        .split(/\s+/)
        .filter((f) => INFERENCE_FLAGS.has(f))
        .slice(0, 256);
      const board = clip(
        [system?.manufacturer, system?.model].filter((v) => v && v !== 'Default string').join(' '),
        200,
      );
      return {
        arch: osArch() as Arch,
        cpu: {
          model,
          ...(cpu.vendor ? { vendor: cpu.vendor.slice(0, 100) } : {}),
          cores: Math.max(1, cpu.cores),
          ...(cpu.physicalCores > 0 ? { physicalCores: cpu.physicalCores } : {}),
          ...(maxGHz > 0 && maxGHz <= 10 ? { maxGHz } : {}),
          ...(relevantFlags.length ? { flags: relevantFlags } : {}),
        },
        os: {
          platform: os.platform || process.platform,
          ...(clip(os.distro, 200) ? { distro: clip(os.distro, 200) } : {}),
          ...(clip(os.release, 200) ? { release: clip(os.release, 200) } : {}),
          ...(clip(os.kernel, 200) ? { kernel: clip(os.kernel, 200) } : {}),
        },
        ...(board ? { board } : {}),
        accelerators: graphics.controllers
          .map(acceleratorOf)
          .filter((a): a is AcceleratorFacts => a !== undefined)
          .slice(0, 32),
      };
    })();
    return this.stable;
  }

  async hardware(): Promise<HardwareFacts> {
    const [stable, mem] = await Promise.all([this.collectStable(), si.mem()]);
    return {
      ...stable,
      memory: { totalBytes: mem.total, freeBytes: mem.available },
      disk: diskFacts(this.dataDir),
    };
  }

  /** Whole-machine load, memory in use and the hottest temperature sensor (null if none). */
  async load(): Promise<{
    cpuLoadPercent: number;
    memory: { totalBytes: number; usedBytes: number };
    temperatureC: number | null;
  }> {
    const [load, mem, temp] = await Promise.all([
      si.currentLoad(),
      si.mem(),
      si.cpuTemperature().catch(() => ({ main: null, max: null })),
    ]);
    const reading = [temp.max, temp.main].find((t) => typeof t === 'number' && t > -100 && t < 200);
    return {
      cpuLoadPercent: Math.min(100, Math.max(0, load.currentLoad || 0)),
      memory: { totalBytes: mem.total, usedBytes: mem.active },
      temperatureC: reading ?? null,
    };
  }
}
