import { migration0001 } from './0001-initial.migration';
import { migration0002 } from './0002-jobs.migration';
import { migration0003 } from './0003-rollouts.migration';
import { migration0004 } from './0004-latency.migration';
import { migration0005 } from './0005-rollout-retries.migration';
import type { Migration } from './migration';

export type { Migration } from './migration';

/** Every migration in order; a new one is a new numbered file appended here. */
export const MIGRATIONS: readonly Migration[] = [
  migration0001,
  migration0002,
  migration0003,
  migration0004,
  migration0005,
];
