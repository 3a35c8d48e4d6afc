import type { Migration } from './migration';

/**
 * Compression jobs: the queue and state machine (jobs), one row per finished round in the order
 * the job reported them (job_rounds), and a short human-readable log (job_log). The round's
 * model file lives under the data dir (jobs/<id>/), so a restarted job continues from it.
 */
export const migration0002: Migration = {
  version: 2,
  name: 'jobs',
  sql: `
    CREATE TABLE jobs (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
      model_id TEXT NOT NULL,
      variant_id TEXT NOT NULL,
      spec_json TEXT NOT NULL,
      progress_json TEXT NOT NULL DEFAULT '{"step":"queued","fraction":0,"message":""}',
      result_variant_id TEXT,
      error TEXT,
      -- times the job has been started (1 on the first run; more after restarts)
      attempts INTEGER NOT NULL DEFAULT 0,
      cancel_requested INTEGER NOT NULL DEFAULT 0,
      created_at INTEGER NOT NULL,
      started_at INTEGER,
      finished_at INTEGER
    );
    CREATE INDEX jobs_by_state ON jobs(state, created_at);

    CREATE TABLE job_rounds (
      job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      method TEXT NOT NULL,
      round INTEGER NOT NULL,
      record_json TEXT NOT NULL,
      variant_id TEXT,
      recorded_at INTEGER NOT NULL,
      PRIMARY KEY (job_id, seq),
      UNIQUE (job_id, method, round)
    );

    CREATE TABLE job_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
      at INTEGER NOT NULL,
      message TEXT NOT NULL
    );
    CREATE INDEX job_log_by_job ON job_log(job_id, id);
  `,
};
