/**
 * The device-profile file format (`device-profiles/*.json`): datasheet facts about one target,
 * the rules that select it from a device's hello facts, and the source of every figure.
 */
import { z } from 'zod';

export const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** Peak arithmetic throughput per precision, in operations per second (a MAC counts as 2). */
const peakSchema = z.strictObject({
  fp32: z.number().positive(),
  fp16: z.number().positive(),
  int8: z.number().positive(),
});

const regexSchema = z.string().refine(
  (source) => {
    try {
      new RegExp(source, 'i');
      return true;
    } catch {
      return false;
    }
  },
  { message: 'not a valid regular expression' },
);

export const matchRulesSchema = z.strictObject({
  /** Node `process.arch` values this profile applies to. */
  arch: z.array(z.enum(['x64', 'arm64', 'arm'])).min(1),
  /** Case-insensitive regex on the CPU brand string. */
  cpuModel: regexSchema.optional(),
  /** Case-insensitive regex on the board / machine model (device-tree model, DMI product). */
  board: regexSchema.optional(),
  /** Total memory the device reports, inclusive bounds in bytes. */
  memoryBytes: z
    .strictObject({
      min: z.number().nonnegative().optional(),
      max: z.number().positive().optional(),
    })
    .optional(),
  /** At least one accelerator whose vendor and model match these case-insensitive regexes. */
  accelerator: z
    .strictObject({ vendor: regexSchema.optional(), model: regexSchema.optional() })
    .optional(),
});

export const acceleratorSpecSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['gpu', 'npu', 'dsp']),
  peakOpsPerSec: peakSchema,
  /** Bandwidth of the memory the accelerator computes from (shared DRAM on SoCs). */
  memoryBandwidthBytesPerSec: z.number().positive(),
  memoryBytes: z.number().positive(),
  /** Fixed cost per executed op (kernel launch, scheduling), microseconds. */
  perOpOverheadUs: z.number().nonnegative(),
  /** ONNX Runtime execution providers that run on this accelerator, best first. */
  executionProviders: z.array(z.string().min(1)).min(1),
});

export const deviceProfileSchema = z
  .strictObject({
    $schema: z.string().optional(),
    id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'kebab-case id'),
    name: z.string().min(1),
    /** True for the per-architecture fallbacks matched when nothing more specific does. */
    generic: z.boolean().default(false),
    arch: z.enum(['x64', 'arm64', 'arm']),
    cpu: z.strictObject({
      model: z.string().min(1),
      cores: z.int().positive(),
      maxGHz: z.number().positive().max(10),
      /** Widest SIMD register the inference kernels use, in bits (NEON 128, AVX2 256...). */
      simdWidthBits: z.int().positive(),
      peakOpsPerSec: peakSchema,
      perOpOverheadUs: z.number().nonnegative(),
    }),
    memory: z.strictObject({
      sizeBytes: z.number().positive(),
      bandwidthBytesPerSec: z.number().positive(),
    }),
    accelerator: acceleratorSpecSchema.optional(),
    runtimes: z.strictObject({
      onnxruntime: z.strictObject({ executionProviders: z.array(z.string().min(1)).min(1) }),
    }),
    match: matchRulesSchema,
    /** Where each figure comes from: a JSON path (e.g. "cpu.maxGHz") -> URL or document title. */
    sources: z.record(z.string(), z.string().min(3)),
    notes: z.string().optional(),
  })
  .superRefine((profile, ctx) => {
    for (const path of figurePaths(profile)) {
      if (!profile.sources[path]) {
        ctx.addIssue({ code: 'custom', path: ['sources', path], message: `no source for ${path}` });
      }
    }
    for (const path of Object.keys(profile.sources)) {
      if (!figurePaths(profile).includes(path)) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', path],
          message: `source names no figure`,
        });
      }
    }
  });

export type DeviceProfile = z.infer<typeof deviceProfileSchema>;
export type DeviceProfileInput = z.input<typeof deviceProfileSchema>;
export type MatchRules = z.infer<typeof matchRulesSchema>;
export type AcceleratorSpec = z.infer<typeof acceleratorSpecSchema>;

/** The JSON paths of every datasheet figure a profile states; each needs an entry in `sources`. */
export function figurePaths(profile: { accelerator?: unknown }): string[] {
  const paths = [
    'cpu.model',
    'cpu.cores',
    'cpu.maxGHz',
    'cpu.simdWidthBits',
    'cpu.peakOpsPerSec',
    'cpu.perOpOverheadUs',
    'memory.sizeBytes',
    'memory.bandwidthBytesPerSec',
  ];
  if (profile.accelerator) {
    paths.push(
      'accelerator.peakOpsPerSec',
      'accelerator.memoryBandwidthBytesPerSec',
      'accelerator.memoryBytes',
      'accelerator.perOpOverheadUs',
    );
  }
  return paths;
}
