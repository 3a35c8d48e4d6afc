import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROTOCOL_VERSION } from '@edgecompress/protocol';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { AuditLogRepository } from '../common/audit-log.repository';
import type { Clock } from '../common/clock';
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
import type { MqttTransport, PublishOptions } from '../mqtt/mqtt-transport';
import { ProfilesRepository } from '../profiles/profiles.repository';
import { ProfilesService } from '../profiles/profiles.service';
import { CommandsRepository } from './commands.repository';
import { CommandsService } from './commands.service';
import { OutboxDispatcher } from './outbox.dispatcher';

/** Time that moves only when the test says so; timers fire from `advance`. */
class ManualClock implements Clock {
  private at = 1_800_000_000_000;
  private timers = new Map<number, { due: number; callback: () => void }>();
  private nextHandle = 1;
  now(): number {
    return this.at;
  }
  setTimeout(callback: () => void, delayMs: number): unknown {
    const handle = this.nextHandle++;
    this.timers.set(handle, { due: this.at + delayMs, callback });
    return handle;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    this.at += ms;
    for (const [handle, timer] of [...this.timers]) {
      if (timer.due <= this.at) {
        this.timers.delete(handle);
        timer.callback();
      }
    }
  }
}

/**
 * Stand-in for the broker (the dispatcher's contract is only "publish settles when the broker
 * took the message"): records each publish, holds the ones for `stalled` devices until released,
 * refuses those for `refused` devices, and tracks how many publishes were open at once.
 */
class ScriptedBrokerTransport implements Pick<MqttTransport, 'publish' | 'isReady'> {
  readonly published: string[] = [];
  readonly stalled = new Set<string>();
  readonly refused = new Set<string>();
  private readonly held: (() => void)[] = [];
  open = 0;
  maxOpen = 0;

  publish(topic: string, _payload: Buffer, options: PublishOptions): Promise<void> {
    assert.equal(options.qos, 1);
    const deviceId = topic.split('/')[3]!;
    this.published.push(deviceId);
    this.open++;
    this.maxOpen = Math.max(this.maxOpen, this.open);
    return new Promise((resolve, reject) => {
      const settle = () => {
        this.open--;
        if (this.refused.has(deviceId)) reject(new Error('broker refused'));
        else resolve();
      };
      if (this.stalled.has(deviceId)) this.held.push(settle);
      else setImmediate(settle);
    });
  }

  isReady(): boolean {
    return true;
  }

  releaseStalled(): void {
    for (const settle of this.held.splice(0)) settle();
  }
}

describe('OutboxDispatcher (real SQLite, scripted broker stand-in)', () => {
  let dir: TempDir;
  let database: SqliteDatabase;
  let commands: CommandsService;
  let transport: ScriptedBrokerTransport;
  let dispatcher: OutboxDispatcher;
  const clock = new ManualClock();
  const writes: string[] = [];
  const fast = Array.from({ length: 150 }, (_, i) => `dev-${String(i).padStart(3, '0')}`);

  const row = (id: string) =>
    database.db.prepare('SELECT attempts, first_sent_at FROM commands WHERE id = ?').get(id) as {
      attempts: number;
      first_sent_at: number | null;
    };

  before(async () => {
    dir = makeTempDir('edgec-outbox-');
    const config = loadConfig({
      EC_DATA_DIR: dir.path,
      EC_PROFILES_DIR: join(__dirname, '../../../../device-profiles'),
      EC_LOG_LEVEL: 'silent',
    });
    const logger = createLogger('silent');
    database = new SqliteDatabase(join(dir.path, 'outbox.db'));
    const lifecycle = new DeviceLifecycleEvents();
    const devices = new DevicesService(
      new DevicesRepository(database),
      new EnrollmentTokensRepository(database),
      new ProfilesService(new ProfilesRepository(config, logger)),
      new AuditLogRepository(database, clock),
      database,
      lifecycle,
      clock,
      config,
    );
    for (const id of [...fast, 'slow', 'refusing'])
      await devices.provision({ id, name: id, groups: [], tags: [] });
    const metrics = new MetricsService();
    commands = new CommandsService(
      new CommandsRepository(database),
      devices,
      new MeasurementsService(new MeasurementsRepository(database)),
      database,
      metrics,
      clock,
      config,
    );
    transport = new ScriptedBrokerTransport();
    dispatcher = new OutboxDispatcher(
      commands,
      lifecycle,
      metrics,
      transport as unknown as MqttTransport,
      clock,
      logger,
    );
    database.observeTransactions((kind) => writes.push(kind));
  });
  after(() => {
    dispatcher?.onApplicationShutdown();
    database?.close();
    dir?.cleanup();
  });

  it('sends in parallel past a stalled device, recording the whole pass in one transaction', async () => {
    transport.stalled.add('slow');
    const [slow] = commands.enqueue(['slow'], { type: 'ping' });
    const sent = commands.enqueue(fast, { type: 'ping' });
    writes.length = 0;

    const pass = dispatcher.pass();
    // Let every publish that can settle do so; the stalled one keeps the pass waiting.
    for (
      let i = 0;
      i < 500 && (transport.published.length < fast.length + 1 || transport.open > 1);
      i++
    )
      await new Promise((r) => setImmediate(r));
    assert.equal(transport.published.length, fast.length + 1, 'every due command was published');
    assert.equal(transport.open, 1, 'only the stalled publish is still open');
    assert.ok(transport.maxOpen > 1, `publishes overlapped (max open ${transport.maxOpen})`);
    assert.ok(transport.maxOpen <= 64, `at most 64 open publishes (saw ${transport.maxOpen})`);

    clock.advance(1_000); // the pass stops waiting for the stalled publish
    await pass;
    assert.deepEqual(
      writes.filter((w) => w === 'command.sent'),
      ['command.sent'],
      'one command.sent transaction for the pass',
    );
    assert.ok(!writes.includes('command.expire'), 'nothing overdue: no expire transaction');
    for (const view of sent)
      assert.deepEqual(row(view.id), { attempts: 1, first_sent_at: clock.now() - 1_000 });
    assert.equal(row(slow!.id).attempts, 0, 'the stalled send is not recorded yet');

    // A pass while it is still in flight never publishes it a second time.
    const before = transport.published.length;
    await dispatcher.pass();
    assert.equal(transport.published.length, before);

    // The device answers before the send is recorded (the broker's callback can trail the
    // delivery): the send still counts, and the command stays acknowledged.
    commands.recordEvent('slow', {
      protocol: PROTOCOL_VERSION,
      kind: 'event',
      type: 'ack',
      deviceId: 'slow',
      commandId: slow!.id,
      seq: 0,
      sentAt: clock.now(),
      duplicate: false,
    });
    clock.advance(1_000);
    transport.releaseStalled();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(row(slow!.id), { attempts: 1, first_sent_at: clock.now() });
    assert.equal(commands.get(slow!.id).status, 'acked');
  });

  it('leaves a refused publish pending and due, so the next pass sends it again', async () => {
    transport.refused.add('refusing');
    const [command] = commands.enqueue(['refusing'], { type: 'ping' });
    const before = transport.published.length;
    await dispatcher.pass();
    assert.equal(transport.published.length, before + 1);
    assert.deepEqual(row(command!.id), { attempts: 0, first_sent_at: null });
    assert.deepEqual(
      commands.due(10).map((c) => `${c.device_id} ${c.id}`),
      [`refusing ${command!.id}`],
    );

    transport.refused.delete('refusing');
    await dispatcher.pass();
    assert.equal(row(command!.id).attempts, 1);
    assert.deepEqual(commands.due(10), []);
  });

  it('expires an overdue command (and sends nothing for it) in the pass that finds it', async () => {
    const [command] = commands.enqueue(['dev-000'], { type: 'ping' }, 1_000);
    clock.advance(1_000);
    writes.length = 0;
    const before = transport.published.length;
    await dispatcher.pass();
    assert.deepEqual(writes, ['command.expire']);
    assert.equal(transport.published.length, before);
    assert.equal(commands.get(command!.id).status, 'expired');
  });

  it('publishes nothing enqueued inside a transaction that rolls back; a committed enqueue is sent on its own', async () => {
    const settle = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    dispatcher.onApplicationBootstrap(); // wires the enqueue listener (the kick)
    await settle();
    const before = transport.published.length;
    assert.throws(
      () =>
        database.write('test.rollback', () => {
          commands.enqueue(['dev-001'], { type: 'ping' });
          throw new Error('rolled back');
        }),
      /rolled back/,
    );
    await settle();
    assert.equal(transport.published.length, before, 'the rolled-back command never left');

    commands.enqueue(['dev-002'], { type: 'ping' });
    await settle();
    assert.deepEqual(transport.published.slice(before), ['dev-002']);
  });
});
