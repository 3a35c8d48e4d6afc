/**
 * `ec/v1/devices/{id}/hello` (QoS 1). Sent after every connect: the hardware and runtime facts
 * the control plane uses to pick the device profile (`matchProfile` in libs/profiles).
 */
import { z } from 'zod';
import {
  archSchema,
  bytesSchema,
  deviceIdSchema,
  epochMsSchema,
  nonNegativeIntSchema,
  protocolVersionSchema,
  shortTextSchema,
  versionSchema,
} from './common.schema';

export const cpuFactsSchema = z.object({
  /** Brand string as the OS reports it, e.g. "Cortex-A76" or "Intel(R) Xeon(R) Platinum 8375C". */
  model: z.string().max(200),
  vendor: z.string().max(100).optional(),
  /** Logical cores. */
  cores: z.int().positive().max(4096),
  physicalCores: z.int().positive().max(4096).optional(),
  /** Maximum clock in GHz, when known. */
  maxGHz: z.number().positive().max(10).optional(),
  /** Instruction-set flags relevant to inference (neon, asimddp, avx2, avx512f, amx...). */
  flags: z.array(z.string().max(32)).max(256).optional(),
});

export const acceleratorFactsSchema = z.object({
  kind: z.enum(['gpu', 'npu', 'tpu', 'dsp', 'other']),
  vendor: z.string().max(100),
  model: z.string().max(200),
  memoryBytes: bytesSchema.optional(),
});

export const hardwareFactsSchema = z.object({
  arch: archSchema,
  cpu: cpuFactsSchema,
  memory: z.object({ totalBytes: bytesSchema, freeBytes: bytesSchema }),
  disk: z.object({ totalBytes: bytesSchema, freeBytes: bytesSchema }),
  os: z.object({
    platform: shortTextSchema,
    distro: z.string().max(200).optional(),
    release: z.string().max(200).optional(),
    kernel: z.string().max(200).optional(),
  }),
  /** Board or machine model when the OS names it (device-tree model, DMI product name). */
  board: z.string().max(200).optional(),
  accelerators: z.array(acceleratorFactsSchema).max(32),
});

export const runtimeFactsSchema = z.object({
  node: shortTextSchema,
  ort: z.object({
    version: shortTextSchema,
    /** Execution providers this build can use, best first, e.g. ["cuda", "cpu"]. */
    executionProviders: z.array(shortTextSchema).min(1).max(32),
  }),
});

export const helloMessageSchema = z.object({
  protocol: protocolVersionSchema,
  kind: z.literal('hello'),
  deviceId: deviceIdSchema,
  agentVersion: versionSchema,
  /** The connection counter of the state message sent with this hello. */
  connection: nonNegativeIntSchema,
  hardware: hardwareFactsSchema,
  runtime: runtimeFactsSchema,
  sentAt: epochMsSchema,
});

export type CpuFacts = z.infer<typeof cpuFactsSchema>;
export type AcceleratorFacts = z.infer<typeof acceleratorFactsSchema>;
export type HardwareFacts = z.infer<typeof hardwareFactsSchema>;
export type RuntimeFacts = z.infer<typeof runtimeFactsSchema>;
export type HelloMessage = z.infer<typeof helloMessageSchema>;
