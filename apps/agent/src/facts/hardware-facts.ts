/**
 * What the device is, from systeminformation. Values the OS does not expose are left out
 * rather than guessed.
 */
import { arch as osArch, cpus as cpus_, release as release_ } from 'node:os';
import type { AcceleratorFacts, Arch, HardwareFacts } from '@edgecompress/protocol';
import type si from 'systeminformation';

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

export type StableHardwareFacts = Omit<HardwareFacts, 'memory' | 'disk'>;

/**
 * Facts that do not change while the agent runs. systeminformation is large, so this runs in
 * the runner child (the probe at start), keeping the agent process itself small.
 */
export async function collectStableFacts(): Promise<StableHardwareFacts> {
  // Loaded here, not at the top: the agent process imports this module for the fallback facts
  // only and must not pay for systeminformation's code.
  const { default: si } = await import('systeminformation');
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
}

/** Minimal facts when the probe failed: what Node itself knows. */
export function fallbackStableFacts(): StableHardwareFacts {
  const cpus = cpus_();
  return {
    arch: osArch() as Arch,
    cpu: {
      model: cpus[0]?.model.trim().slice(0, 200) || 'unknown',
      cores: Math.max(1, cpus.length),
    },
    os: { platform: process.platform, release: release_() },
    accelerators: [],
  };
}
