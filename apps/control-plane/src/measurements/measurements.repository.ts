import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';

export interface MeasurementRow {
  id: number;
  device_id: string;
  variant_id: string | null;
  artifact_sha256: string | null;
  profile_id: string | null;
  command_id: string | null;
  source: 'measured' | 'predicted';
  p50_ms: number | null;
  p90_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  throughput: number | null;
  peak_rss_bytes: number | null;
  load_ms: number | null;
  runs: number | null;
  execution_provider: string | null;
  detail_json: string;
  measured_at: number;
}

export type NewMeasurement = Omit<MeasurementRow, 'id' | 'variant_id' | 'profile_id'>;

export interface MeasurementFilter {
  deviceId?: string;
  variantId?: string;
  profileId?: string;
  limit: number;
}

@Injectable()
export class MeasurementsRepository {
  constructor(private readonly database: SqliteDatabase) {}

  /**
   * Inserts a measurement, resolving the variant from the artifact hash and the profile from the
   * device as they are at this moment (both may change later; the measurement must not).
   * Call inside a write transaction.
   */
  insert(m: NewMeasurement): number {
    const result = this.database.db
      .prepare(
        `INSERT INTO measurements (device_id, variant_id, artifact_sha256, profile_id, command_id, source,
           p50_ms, p90_ms, p99_ms, mean_ms, throughput, peak_rss_bytes, load_ms, runs, execution_provider,
           detail_json, measured_at)
         VALUES (@device_id,
           (SELECT id FROM variants WHERE artifact_sha256 = @artifact_sha256 ORDER BY created_at LIMIT 1),
           @artifact_sha256,
           (SELECT profile_id FROM devices WHERE id = @device_id),
           @command_id, @source, @p50_ms, @p90_ms, @p99_ms, @mean_ms, @throughput, @peak_rss_bytes, @load_ms,
           @runs, @execution_provider, @detail_json, @measured_at)`,
      )
      .run(m);
    return Number(result.lastInsertRowid);
  }

  query(filter: MeasurementFilter): MeasurementRow[] {
    const where: string[] = [];
    if (filter.deviceId) where.push('device_id = @deviceId');
    if (filter.variantId) where.push('variant_id = @variantId');
    if (filter.profileId) where.push('profile_id = @profileId');
    return this.database.db
      .prepare(
        `SELECT * FROM measurements ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY measured_at DESC, id DESC LIMIT @limit`,
      )
      .all(filter) as MeasurementRow[];
  }

  count(): number {
    return (
      this.database.db.prepare('SELECT COUNT(*) AS n FROM measurements').get() as { n: number }
    ).n;
  }

  /** Median of reported p50 per (variant, profile), for comparing variants. */
  summaryByVariant(variantIds: string[]): {
    variant_id: string;
    profile_id: string | null;
    n: number;
    p50_ms: number | null;
    p99_ms: number | null;
  }[] {
    if (variantIds.length === 0) return [];
    const marks = variantIds.map(() => '?').join(', ');
    return this.database.db
      .prepare(
        `SELECT variant_id, profile_id, COUNT(*) AS n, AVG(p50_ms) AS p50_ms, AVG(p99_ms) AS p99_ms
         FROM measurements WHERE variant_id IN (${marks}) GROUP BY variant_id, profile_id ORDER BY variant_id, profile_id`,
      )
      .all(...variantIds) as {
      variant_id: string;
      profile_id: string | null;
      n: number;
      p50_ms: number | null;
      p99_ms: number | null;
    }[];
  }
}
