import type { Migration } from './migration';

/**
 * Retries of a rollout step that a device failed with an error it marked retryable: how many
 * were sent to the target, and when the next may go (the driver leaves the target alone until
 * then).
 */
export const migration0005: Migration = {
  version: 5,
  name: 'rollout-retries',
  sql: `
    ALTER TABLE rollout_targets ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE rollout_targets ADD COLUMN retry_at INTEGER;
  `,
};
