import { availableParallelism } from 'node:os';
import { z } from 'zod';

/**
 * Settings of the job runner, read once from the environment: EC_JOB_CONCURRENCY caps the jobs
 * running at once (default and maximum: one per core).
 */
export interface JobsConfig {
  readonly concurrency: number;
}

export const JOBS_CONFIG = Symbol('JobsConfig');

export function loadJobsConfig(env: NodeJS.ProcessEnv = process.env): JobsConfig {
  const cores = Math.max(1, availableParallelism());
  const parsed = z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .safeParse(env.EC_JOB_CONCURRENCY === '' ? undefined : env.EC_JOB_CONCURRENCY);
  if (!parsed.success) {
    throw new Error(
      `EC_JOB_CONCURRENCY: expected a whole number >= 1, got "${env.EC_JOB_CONCURRENCY}"`,
    );
  }
  return Object.freeze({ concurrency: Math.min(cores, parsed.data ?? cores) });
}
