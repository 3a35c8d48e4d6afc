import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION, type EventMessage } from '@edgecompress/protocol';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { AuditLogRepository } from '../common/audit-log.repository';
import { systemClock } from '../common/clock';
import { createLogger } from '../common/logger';
import { loadConfig } from '../config/control-plane.config';
import { SqliteDatabase } from '../database/sqlite.database';
import { DeviceLifecycleEvents } from '../devices/device-lifecycle.events';
import { DevicesRepository } from '../devices/devices.repository';
import { DevicesService } from '../devices/devices.service';
import { EnrollmentTokensRepository } from '../devices/enrollment-tokens.repository';
import { MetricsService } from '../health/metrics.service';
import { MeasurementsRepository } from '../measurements/measurements.repository';
import { MeasurementsService } from '../measurements/measurements.service';
import { ProfilesRepository } from '../profiles/profiles.repository';
import { ProfilesService } from '../profiles/profiles.service';
import { CommandsRepository } from './commands.repository';
import { CommandsService } from './commands.service';

const SHA = 'c'.repeat(64);

describe('CommandsService (real SQLite)', () => {
  let dir: TempDir;
  let database: SqliteDatabase;
  let commands: CommandsService;
  const count = (sql: string) => (database.db.prepare(sql).get() as { n: number }).n;

  before(async () => {
    dir = makeTempDir('edgec-commands-');
    const config = loadConfig({
      EC_DATA_DIR: dir.path,
      EC_PROFILES_DIR: join(__dirname, '../../../../device-profiles'),
      EC_LOG_LEVEL: 'silent',
    });
    database = new SqliteDatabase(join(dir.path, 'commands.db'));
    const devices = new DevicesService(
      new DevicesRepository(database),
      new EnrollmentTokensRepository(database),
      new ProfilesService(new ProfilesRepository(config, createLogger('silent'))),
      new AuditLogRepository(database, systemClock),
      database,
      new DeviceLifecycleEvents(),
      systemClock,
      config,
    );
    for (const id of ['dev-a', 'dev-b'])
      await devices.provision({ id, name: id, groups: [], tags: [] });
    commands = new CommandsService(
      new CommandsRepository(database),
      devices,
      new MeasurementsService(new MeasurementsRepository(database)),
      database,
      new MetricsService(),
      systemClock,
      config,
    );
  });
  after(() => {
    database?.close();
    dir?.cleanup();
  });

  const event = (commandId: string, seq: number, body: Record<string, unknown>) =>
    ({
      protocol: PROTOCOL_VERSION,
      kind: 'event',
      deviceId: 'dev-a',
      commandId,
      seq,
      sentAt: 1,
      ...body,
    }) as EventMessage;

  it("stores every progress step of a deploy in order without touching the command's state", () => {
    const [id] = commands.enqueueIds(['dev-a'], {
      type: 'deploy',
      artifact: { sha256: SHA },
    });
    const steps = ['fetch', 'verify', 'load'].flatMap((step) => [
      { type: 'progress', step, fraction: 0 },
      { type: 'progress', step, fraction: 1 },
    ]);
    assert.equal(
      commands.recordEvent('dev-a', event(id!, 0, { type: 'ack', duplicate: false })),
      'stored',
    );
    steps.forEach((s, i) =>
      assert.equal(commands.recordEvent('dev-a', event(id!, i + 1, s)), 'stored'),
    );
    assert.equal(commands.get(id!).status, 'acked', 'progress leaves an acked command acked');
    assert.equal(
      commands.recordEvent('dev-a', event(id!, 3, steps[2]!)),
      'duplicate',
      'a redelivered progress event is recognised',
    );
    const done = {
      type: 'deployed',
      artifactSha256: SHA,
      bytes: 1,
      fetchedChunks: 1,
      reusedChunks: 0,
    };
    assert.equal(commands.recordEvent('dev-a', event(id!, 7, done)), 'stored');
    const view = commands.get(id!);
    assert.equal(view.status, 'succeeded');
    assert.deepEqual(
      view.events!.map((e) => [e.seq, e.type, (e.payload as { step?: string }).step ?? null]),
      [
        [0, 'ack', null],
        [1, 'progress', 'fetch'],
        [2, 'progress', 'fetch'],
        [3, 'progress', 'verify'],
        [4, 'progress', 'verify'],
        [5, 'progress', 'load'],
        [6, 'progress', 'load'],
        [7, 'deployed', null],
      ],
    );
  });

  it('a progress event before the ack stores the event and leaves the command pending', () => {
    const [id] = commands.enqueueIds(['dev-a'], { type: 'ping' });
    assert.equal(
      commands.recordEvent(
        'dev-a',
        event(id!, 1, { type: 'progress', step: 'fetch', fraction: 0 }),
      ),
      'stored',
    );
    assert.equal(commands.get(id!).status, 'pending');
    assert.equal(commands.get(id!).events!.length, 1);
  });

  it('enqueueIds: an unknown device among the targets is a 404 and queues nothing', () => {
    const before = count('SELECT COUNT(*) AS n FROM commands');
    assert.throws(() => commands.enqueueIds(['dev-a', 'nope', 'dev-b'], { type: 'ping' }), /nope/);
    assert.equal(count('SELECT COUNT(*) AS n FROM commands'), before);
  });

  it("enqueueIds inside a caller's write: a failure undoes only its own rows", () => {
    const before = count('SELECT COUNT(*) AS n FROM commands');
    const kinds: string[] = [];
    database.observeTransactions((kind) => kinds.push(kind));
    database.write('caller', () => {
      commands.enqueueIds(['dev-a'], { type: 'ping' });
      assert.throws(() => commands.enqueueIds(['dev-b', 'nope'], { type: 'ping' }));
      commands.enqueueIds(['dev-b'], { type: 'ping' });
    });
    database.observeTransactions(() => {});
    assert.equal(count('SELECT COUNT(*) AS n FROM commands'), before + 2);
    assert.deepEqual(kinds, ['caller'], 'one transaction, timed once');
  });
});
