/**
 * `ec/v1/devices/{id}/cmd` (QoS 1, persistent session). Every command has a unique id, and the
 * agent applies each id at most once (a redelivered command is acknowledged again, not re-run).
 * `deadline` is absolute: a command received after it is answered DEADLINE_EXCEEDED.
 */
import { z } from 'zod';
import {
  commandIdSchema,
  epochMsSchema,
  protocolVersionSchema,
  sha256Schema,
  shortTextSchema,
  tensorShapeSchema,
} from './common.schema';

const commandBase = {
  protocol: protocolVersionSchema,
  kind: z.literal('cmd'),
  id: commandIdSchema,
  issuedAt: epochMsSchema,
  deadline: epochMsSchema,
};

export const artifactRefSchema = z.object({
  sha256: sha256Schema,
  /** Control-plane variant id, echoed in state messages once active. */
  variantId: shortTextSchema.optional(),
});

/**
 * A labelled sample for an accuracy check, published as its own artifact in the format of
 * `encodeLabelledSample` (float32 inputs followed by int32 labels).
 */
export const accuracySampleSchema = z.object({
  sha256: sha256Schema,
  count: z.int().positive().max(100_000),
});

export const threadOptionsSchema = z.object({
  intraOp: z.int().positive().max(1024).optional(),
  interOp: z.int().positive().max(1024).optional(),
});

export const benchmarkCommandSchema = z
  .object({
    ...commandBase,
    type: z.literal('benchmark'),
    artifact: artifactRefSchema,
    input: z.object({
      /** Input name; the model's first input when absent. */
      name: shortTextSchema.optional(),
      shape: tensorShapeSchema,
      dtype: z.literal('float32'),
    }),
    warmup: z.int().nonnegative().max(10_000),
    /** Timed runs; with `timeBudgetMs` the benchmark stops at whichever comes first. */
    runs: z.int().positive().max(1_000_000).optional(),
    timeBudgetMs: z.int().positive().max(3_600_000).optional(),
    threads: threadOptionsSchema,
    /** Execution providers to use in order; the agent's best available when absent. */
    executionProviders: z.array(shortTextSchema).min(1).max(8).optional(),
    accuracySample: accuracySampleSchema.optional(),
  })
  .refine((cmd) => cmd.runs !== undefined || cmd.timeBudgetMs !== undefined, {
    message: 'a benchmark needs runs, timeBudgetMs or both',
    path: ['runs'],
  });

export const deployCommandSchema = z.object({
  ...commandBase,
  type: z.literal('deploy'),
  artifact: artifactRefSchema,
});

export const activateCommandSchema = z.object({
  ...commandBase,
  type: z.literal('activate'),
  artifact: artifactRefSchema,
});

export const rollbackCommandSchema = z.object({
  ...commandBase,
  type: z.literal('rollback'),
  /** Artifact to return to; the previously active one when absent. */
  to: artifactRefSchema.optional(),
});

export const pingCommandSchema = z.object({
  ...commandBase,
  type: z.literal('ping'),
});

export const cancelCommandSchema = z.object({
  ...commandBase,
  type: z.literal('cancel'),
  /** Id of the command to cancel. */
  target: commandIdSchema,
});

export const commandMessageSchema = z.discriminatedUnion('type', [
  benchmarkCommandSchema,
  deployCommandSchema,
  activateCommandSchema,
  rollbackCommandSchema,
  pingCommandSchema,
  cancelCommandSchema,
]);

export const COMMAND_TYPES = [
  'benchmark',
  'deploy',
  'activate',
  'rollback',
  'ping',
  'cancel',
] as const;

export type ArtifactRef = z.infer<typeof artifactRefSchema>;
export type AccuracySample = z.infer<typeof accuracySampleSchema>;
export type BenchmarkCommand = z.infer<typeof benchmarkCommandSchema>;
export type DeployCommand = z.infer<typeof deployCommandSchema>;
export type ActivateCommand = z.infer<typeof activateCommandSchema>;
export type RollbackCommand = z.infer<typeof rollbackCommandSchema>;
export type PingCommand = z.infer<typeof pingCommandSchema>;
export type CancelCommand = z.infer<typeof cancelCommandSchema>;
export type CommandMessage = z.infer<typeof commandMessageSchema>;
export type CommandType = CommandMessage['type'];

/** True when `now` (epoch ms) is past the command's deadline: it must not be started. */
export function isCommandExpired(command: Pick<CommandMessage, 'deadline'>, now: number): boolean {
  return now > command.deadline;
}
