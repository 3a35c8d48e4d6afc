import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';
import type { LatencySample } from './latency-report.builder';

/** Most recent measurements per (device, variant) the report looks at. */
const RECENT_PER_DEVICE = 100;

export interface LatencyFilter {
  variantId?: string;
  profileId?: string;
  group?: string;
}

/** Read-only SQL over stored measurements for the reports. */
@Injectable()
export class ReportsRepository {
  constructor(private readonly database: SqliteDatabase) {}

  latencySamples(filter: LatencyFilter): LatencySample[] {
    const where = [`source = 'measured'`, 'variant_id IS NOT NULL', 'p50_ms IS NOT NULL'];
    if (filter.variantId) where.push('variant_id = @variantId');
    if (filter.profileId) where.push('profile_id = @profileId');
    if (filter.group)
      where.push('device_id IN (SELECT device_id FROM device_groups WHERE group_name = @group)');
    return this.database.db
      .prepare(
        `SELECT variant_id AS variantId, device_id AS deviceId, profile_id AS profileId,
                p50_ms AS p50Ms, p90_ms AS p90Ms, p99_ms AS p99Ms
         FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY device_id, variant_id
                                           ORDER BY measured_at DESC, id DESC) AS recent
               FROM measurements WHERE ${where.join(' AND ')})
         WHERE recent <= ${RECENT_PER_DEVICE}
         ORDER BY variant_id, device_id`,
      )
      .all(filter) as LatencySample[];
  }
}
