/**
 * Provisioning many devices straight into a control plane's database, before it starts: the
 * same repository calls and password hashing the REST path uses, but one transaction (one
 * fsync) for all rows instead of one per device. For fleets too big to provision over REST in
 * a benchmark's time; the REST rate is measured separately on the first devices.
 */
import { join } from 'node:path';
import { AuditLogRepository } from '../../../apps/control-plane/src/common/audit-log.repository';
import { systemClock } from '../../../apps/control-plane/src/common/clock';
import { newSecret } from '../../../apps/control-plane/src/common/ids';
import { SqliteDatabase } from '../../../apps/control-plane/src/database/sqlite.database';
import { DevicesRepository } from '../../../apps/control-plane/src/devices/devices.repository';
import { hashDevicePassword } from '../../../apps/control-plane/src/mqtt/device-password';

export interface BulkDevice {
  id: string;
  name: string;
  profileId: string;
  tags: string[];
  groups: string[];
}

/** Inserts the devices with fresh secrets; returns each device's MQTT password. */
export async function provisionInBulk(
  dataDir: string,
  devices: readonly BulkDevice[],
): Promise<Map<string, string>> {
  const secrets = new Map<string, string>();
  const hashes = new Map<string, string>();
  // Hashing runs on libuv's thread pool; a bounded batch keeps it busy without a 10k backlog.
  for (let i = 0; i < devices.length; i += 256) {
    await Promise.all(
      devices.slice(i, i + 256).map(async (d) => {
        const secret = newSecret();
        secrets.set(d.id, secret);
        hashes.set(d.id, await hashDevicePassword(secret));
      }),
    );
  }
  const database = new SqliteDatabase(join(dataDir, 'control-plane.db'));
  try {
    const repo = new DevicesRepository(database);
    const audit = new AuditLogRepository(database, systemClock);
    const now = systemClock.now();
    database.write('bench.bulk-provision', () => {
      for (const d of devices) {
        repo.insert(
          { id: d.id, name: d.name, secret_hash: hashes.get(d.id)!, created_at: now },
          d.tags,
          d.groups,
        );
        repo.update(d.id, { profile_id: d.profileId, profile_source: 'user' });
        audit.record('bench', 'device.provision', d.id);
      }
    });
  } finally {
    database.close();
  }
  return secrets;
}
