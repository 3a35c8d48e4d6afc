/**
 * `ec/v1/devices/{id}/events` (QoS 1). Everything an agent reports about a command: each event
 * names the command id it answers. `seq` orders the events of one command (0, 1, 2...), so the
 * control plane can drop duplicates that QoS 1 redelivery produces.
 */
import { z } from 'zod';
import {
  bytesSchema,
  commandIdSchema,
  deviceIdSchema,
  epochMsSchema,
  errorCodeSchema,
  nonNegativeIntSchema,
  protocolVersionSchema,
  sha256Schema,
  shortTextSchema,
  tensorShapeSchema,
  textSchema,
} from './common.schema';

const eventBase = {
  protocol: protocolVersionSchema,
  kind: z.literal('event'),
  deviceId: deviceIdSchema,
  commandId: commandIdSchema,
  seq: nonNegativeIntSchema,
  sentAt: epochMsSchema,
};

export const ackEventSchema = z.object({
  ...eventBase,
  type: z.literal('ack'),
  /** True when the id had been seen before: the command is not run again. */
  duplicate: z.boolean(),
});

export const PROGRESS_STEPS = [
  'fetch',
  'verify',
  'load',
  'self-test',
  'warmup',
  'benchmark',
  'accuracy',
  'activate',
  'rollback',
] as const;

export const progressEventSchema = z.object({
  ...eventBase,
  type: z.literal('progress'),
  step: z.enum(PROGRESS_STEPS),
  /** Fraction of the step done, 0..1. */
  fraction: z.number().min(0).max(1),
  note: textSchema.optional(),
});

const msSchema = z.number().nonnegative().max(86_400_000);

export const latencyStatsSchema = z
  .object({
    p50: msSchema,
    p90: msSchema,
    p99: msSchema,
    mean: msSchema,
    min: msSchema,
    max: msSchema,
  })
  .refine((s) => s.min <= s.p50 && s.p50 <= s.p90 && s.p90 <= s.p99 && s.p99 <= s.max, {
    message: 'latency percentiles must be ordered min <= p50 <= p90 <= p99 <= max',
  });

export const sessionOptionsSchema = z.object({
  executionProviders: z.array(shortTextSchema).min(1).max(8),
  intraOpThreads: z.int().nonnegative().max(1024),
  interOpThreads: z.int().nonnegative().max(1024),
  graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']),
});

export const benchmarkReportEventSchema = z.object({
  ...eventBase,
  type: z.literal('benchmark-report'),
  artifactSha256: sha256Schema,
  /** Per-run latency in milliseconds. */
  latencyMs: latencyStatsSchema,
  runs: z.int().positive(),
  warmup: nonNegativeIntSchema,
  /** Inferences per second over the timed runs (batch size included). */
  throughputPerSec: z.number().nonnegative(),
  peakRssBytes: bytesSchema,
  loadMs: msSchema,
  sessionOptions: sessionOptionsSchema,
  inputShape: tensorShapeSchema,
  accuracy: z
    .object({
      correct: nonNegativeIntSchema,
      total: z.int().positive(),
    })
    .refine((a) => a.correct <= a.total, { message: 'correct cannot exceed total' })
    .optional(),
});

export const deployedEventSchema = z.object({
  ...eventBase,
  type: z.literal('deployed'),
  artifactSha256: sha256Schema,
  bytes: bytesSchema,
  /** Chunks fetched now vs. already present from an earlier, interrupted fetch. */
  fetchedChunks: nonNegativeIntSchema,
  reusedChunks: nonNegativeIntSchema,
});

export const activatedEventSchema = z.object({
  ...eventBase,
  type: z.literal('activated'),
  artifactSha256: sha256Schema,
  previousSha256: sha256Schema.nullable(),
});

export const rolledBackEventSchema = z.object({
  ...eventBase,
  type: z.literal('rolled-back'),
  /** Active after the rollback; null when nothing is active any more. */
  artifactSha256: sha256Schema.nullable(),
  fromSha256: sha256Schema.nullable(),
});

export const pongEventSchema = z.object({
  ...eventBase,
  type: z.literal('pong'),
  uptimeMs: nonNegativeIntSchema,
});

export const errorEventSchema = z.object({
  ...eventBase,
  type: z.literal('error'),
  code: errorCodeSchema,
  message: textSchema,
  /** Whether sending the same command again may succeed (e.g. BUSY, DISK_FULL after cleanup). */
  retryable: z.boolean(),
});

export const eventMessageSchema = z.discriminatedUnion('type', [
  ackEventSchema,
  progressEventSchema,
  benchmarkReportEventSchema,
  deployedEventSchema,
  activatedEventSchema,
  rolledBackEventSchema,
  pongEventSchema,
  errorEventSchema,
]);

export type AckEvent = z.infer<typeof ackEventSchema>;
export type ProgressEvent = z.infer<typeof progressEventSchema>;
export type ProgressStep = ProgressEvent['step'];
export type LatencyStats = z.infer<typeof latencyStatsSchema>;
export type SessionOptions = z.infer<typeof sessionOptionsSchema>;
export type BenchmarkReportEvent = z.infer<typeof benchmarkReportEventSchema>;
export type DeployedEvent = z.infer<typeof deployedEventSchema>;
export type ActivatedEvent = z.infer<typeof activatedEventSchema>;
export type RolledBackEvent = z.infer<typeof rolledBackEventSchema>;
export type PongEvent = z.infer<typeof pongEventSchema>;
export type ErrorEvent = z.infer<typeof errorEventSchema>;
export type EventMessage = z.infer<typeof eventMessageSchema>;
export type EventType = EventMessage['type'];
