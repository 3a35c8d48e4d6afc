import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';

export interface CachedLatencyRow {
  id: number;
  device_id: string;
  p50_ms: number;
  p90_ms: number | null;
  p99_ms: number | null;
}

export interface ObservationRow {
  artifact_sha256: string;
  device_id: string;
  profile_id: string;
  p50_ms: number;
  workload_json: string;
}

export interface CalibrationRow {
  calibration_json: string;
  quality_json: string;
  pairs: number;
  fitted_at: number;
}

/** SQL of the latency module: the measurement cache, stored workloads and the calibration. */
@Injectable()
export class LatencyRepository {
  constructor(private readonly database: SqliteDatabase) {}

  /** The latest measurement of an artifact on a device, if it was ever measured there. */
  cached(artifactSha256: string, deviceId: string): CachedLatencyRow | undefined {
    return this.database.db
      .prepare(
        `SELECT id, device_id, p50_ms, p90_ms, p99_ms FROM measurements
         WHERE artifact_sha256 = ? AND device_id = ? AND source = 'measured' AND p50_ms IS NOT NULL
         ORDER BY measured_at DESC, id DESC LIMIT 1`,
      )
      .get(artifactSha256, deviceId) as CachedLatencyRow | undefined;
  }

  /** The measurement a benchmark command produced. */
  byCommand(commandId: string): CachedLatencyRow | undefined {
    return this.database.db
      .prepare(
        `SELECT id, device_id, p50_ms, p90_ms, p99_ms FROM measurements
         WHERE command_id = ? AND p50_ms IS NOT NULL ORDER BY id DESC LIMIT 1`,
      )
      .get(commandId) as CachedLatencyRow | undefined;
  }

  workload(artifactSha256: string): string | undefined {
    return (
      this.database.db
        .prepare('SELECT workload_json FROM latency_workloads WHERE artifact_sha256 = ?')
        .get(artifactSha256) as { workload_json: string } | undefined
    )?.workload_json;
  }

  hasWorkload(artifactSha256: string): boolean {
    return (
      this.database.db
        .prepare('SELECT 1 FROM latency_workloads WHERE artifact_sha256 = ?')
        .get(artifactSha256) !== undefined
    );
  }

  /** Call inside a write transaction. */
  insertWorkload(artifactSha256: string, workloadJson: string, at: number): void {
    this.database.db
      .prepare(
        `INSERT INTO latency_workloads (artifact_sha256, workload_json, created_at) VALUES (?, ?, ?)
         ON CONFLICT (artifact_sha256) DO NOTHING`,
      )
      .run(artifactSha256, workloadJson, at);
  }

  /** Measured ONNX artifacts whose workload is not stored yet (variants benchmarked elsewhere). */
  measuredWithoutWorkload(limit: number): string[] {
    return (
      this.database.db
        .prepare(
          `SELECT DISTINCT m.artifact_sha256 AS sha FROM measurements m
           JOIN artifacts a ON a.sha256 = m.artifact_sha256 AND a.media_type = 'application/onnx'
           WHERE m.source = 'measured'
             AND NOT EXISTS (SELECT 1 FROM latency_workloads w WHERE w.artifact_sha256 = m.artifact_sha256)
           LIMIT ?`,
        )
        .all(limit) as { sha: string }[]
    ).map((r) => r.sha);
  }

  /** The newest (workload, measured p50) pairs of devices with a profile. */
  observations(limit: number): ObservationRow[] {
    return this.database.db
      .prepare(
        `SELECT m.artifact_sha256, m.device_id, m.profile_id, m.p50_ms, w.workload_json FROM measurements m
         JOIN latency_workloads w ON w.artifact_sha256 = m.artifact_sha256
         WHERE m.source = 'measured' AND m.profile_id IS NOT NULL AND m.p50_ms > 0
         ORDER BY m.id DESC LIMIT ?`,
      )
      .all(limit) as ObservationRow[];
  }

  calibration(): CalibrationRow | undefined {
    return this.database.db
      .prepare(
        'SELECT calibration_json, quality_json, pairs, fitted_at FROM latency_calibration WHERE id = 1',
      )
      .get() as CalibrationRow | undefined;
  }

  /** Call inside a write transaction. */
  saveCalibration(row: CalibrationRow): void {
    this.database.db
      .prepare(
        `INSERT INTO latency_calibration (id, calibration_json, quality_json, pairs, fitted_at)
         VALUES (1, @calibration_json, @quality_json, @pairs, @fitted_at)
         ON CONFLICT (id) DO UPDATE SET calibration_json = excluded.calibration_json,
           quality_json = excluded.quality_json, pairs = excluded.pairs, fitted_at = excluded.fitted_at`,
      )
      .run(row);
  }
}
