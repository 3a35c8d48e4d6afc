import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '@edgecompress/protocol';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { AuditLogRepository } from '../common/audit-log.repository';
import { systemClock } from '../common/clock';
import { createLogger } from '../common/logger';
import { loadConfig } from '../config/control-plane.config';
import { SqliteDatabase } from '../database/sqlite.database';
import { ProfilesRepository } from '../profiles/profiles.repository';
import { ProfilesService } from '../profiles/profiles.service';
import { DeviceLifecycleEvents } from './device-lifecycle.events';
import { DevicesRepository } from './devices.repository';
import { DevicesService } from './devices.service';
import { EnrollmentTokensRepository } from './enrollment-tokens.repository';
import { isEmptySelector } from './device-selector';

/** The registry on a real SQLite file, with a small fleet of known groups, tags and profiles. */
describe('DevicesService.select', () => {
  let dir: TempDir;
  let database: SqliteDatabase;
  let devices: DevicesService;
  const ids = (selector: Parameters<DevicesService['select']>[0]) =>
    devices.select(selector).map((d) => d.id);

  before(async () => {
    dir = makeTempDir('edgec-selector-');
    const config = loadConfig({
      EC_DATA_DIR: dir.path,
      EC_PROFILES_DIR: join(__dirname, '../../../../device-profiles'),
      EC_LOG_LEVEL: 'silent',
    });
    const logger = createLogger('silent');
    database = new SqliteDatabase(join(dir.path, 'selector.db'));
    devices = new DevicesService(
      new DevicesRepository(database),
      new EnrollmentTokensRepository(database),
      new ProfilesService(new ProfilesRepository(config, logger)),
      new AuditLogRepository(database, systemClock),
      database,
      new DeviceLifecycleEvents(),
      systemClock,
      config,
    );
    const fleet: [string, string[], string[], string | undefined][] = [
      ['pi-c', ['pi5'], ['lab', 'fast'], 'raspberry-pi-5'],
      ['pi-a', ['pi5'], ['lab'], 'raspberry-pi-5'],
      ['pi-b', ['pi5', 'canary'], ['field', 'fast'], 'raspberry-pi-5'],
      ['nano-1', ['jetson'], ['lab', 'fast'], 'jetson-nano'],
      ['bare', [], [], undefined],
    ];
    for (const [id, groups, tags, profileId] of fleet)
      await devices.provision({ id, name: id, groups, tags, ...(profileId ? { profileId } : {}) });
    for (const [id, connection] of [
      ['pi-a', 1],
      ['nano-1', 1],
    ] as const)
      devices.applyState(id, {
        protocol: PROTOCOL_VERSION,
        kind: 'state',
        deviceId: id,
        online: true,
        connection,
        agentVersion: '1.0.0',
        activeVariant: null,
        sentAt: Date.now(),
      });
  });
  after(() => {
    database?.close();
    dir?.cleanup();
  });

  it('matches nothing for an empty selector, never the whole fleet', () => {
    assert.deepEqual(ids({}), []);
    assert.deepEqual(ids({ onlineOnly: true }), []);
    assert.deepEqual(ids({ tags: [], deviceIds: [] }), []);
    assert.equal(isEmptySelector({ onlineOnly: true }), true);
    assert.equal(isEmptySelector({ group: 'pi5' }), false);
  });

  it('selects a group ordered by id', () => {
    assert.deepEqual(ids({ group: 'pi5' }), ['pi-a', 'pi-b', 'pi-c']);
    assert.deepEqual(ids({ group: 'canary' }), ['pi-b']);
    assert.deepEqual(ids({ group: 'nobody' }), []);
  });

  it('requires every tag (AND), not any', () => {
    assert.deepEqual(ids({ tags: ['lab'] }), ['nano-1', 'pi-a', 'pi-c']);
    assert.deepEqual(ids({ tags: ['lab', 'fast'] }), ['nano-1', 'pi-c']);
    assert.deepEqual(ids({ tags: ['fast', 'field', 'lab'] }), []);
  });

  it('filters by profile and intersects every criterion', () => {
    assert.deepEqual(ids({ profileId: 'jetson-nano' }), ['nano-1']);
    assert.deepEqual(ids({ profileId: 'raspberry-pi-5', tags: ['fast'] }), ['pi-b', 'pi-c']);
    assert.deepEqual(ids({ group: 'pi5', deviceIds: ['pi-c', 'nano-1', 'ghost'] }), ['pi-c']);
    assert.deepEqual(ids({ deviceIds: ['bare', 'ghost'] }), ['bare']);
  });

  it('keeps only online devices when asked', () => {
    assert.deepEqual(ids({ tags: ['lab'], onlineOnly: true }), ['nano-1', 'pi-a']);
    assert.deepEqual(ids({ group: 'pi5', onlineOnly: true }), ['pi-a']);
    const [view] = devices.select({ deviceIds: ['pi-a'] });
    assert.equal(view?.status, 'online');
    assert.deepEqual(view?.groups, ['pi5']);
  });
});
