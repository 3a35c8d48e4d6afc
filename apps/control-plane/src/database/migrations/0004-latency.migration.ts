import type { Migration } from './migration';

/**
 * Measured latency: the workload of every measured graph (kept apart from the artifact file, so
 * calibration survives garbage collection of candidates), the latest fitted predictor
 * calibration with its held-out quality, and an index for the (artifact, device) cache lookup.
 */
export const migration0004: Migration = {
  version: 4,
  name: 'latency',
  sql: `
    CREATE TABLE latency_workloads (
      artifact_sha256 TEXT PRIMARY KEY,
      workload_json TEXT NOT NULL,
      created_at INTEGER NOT NULL
    );

    CREATE TABLE latency_calibration (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      calibration_json TEXT NOT NULL,
      quality_json TEXT NOT NULL,
      pairs INTEGER NOT NULL,
      fitted_at INTEGER NOT NULL
    );

    CREATE INDEX measurements_by_artifact_device ON measurements(artifact_sha256, device_id, source);
  `,
};
