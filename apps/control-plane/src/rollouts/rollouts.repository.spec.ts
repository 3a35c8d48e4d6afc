import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { SqliteDatabase } from '../database/sqlite.database';
import { DevicesRepository } from '../devices/devices.repository';
import { PROGRESS_STEPS_SQL, RolloutsRepository, type RolloutRow } from './rollouts.repository';

const ROLLOUT: RolloutRow = {
  id: 'r1',
  variant_id: 'v1',
  artifact_sha256: 'a'.repeat(64),
  selector_json: '{}',
  strategy_json: '{}',
  abort_rules_json: '{}',
  device_deadline_ms: 60_000,
  input_name: null,
  input_shape_json: '[1,4]',
  state: 'running',
  reason: null,
  created_at: 0,
  updated_at: 0,
  finished_at: null,
};

/** The driver's per-pass reads on a real SQLite file. */
describe('RolloutsRepository', () => {
  let dir: TempDir;
  let database: SqliteDatabase;
  let repo: RolloutsRepository;

  const event = (device: string, command: string, seq: number, type: string, step?: string) =>
    database.db
      .prepare(
        `INSERT INTO command_events (device_id, command_id, seq, type, payload_json, received_at)
         VALUES (?, ?, ?, ?, ?, 0)`,
      )
      .run(device, command, seq, type, JSON.stringify(step ? { type, step } : { type }));

  before(() => {
    dir = makeTempDir('edgec-rollouts-repo-');
    database = new SqliteDatabase(join(dir.path, 'rollouts.db'));
    repo = new RolloutsRepository(database);
    database.write('test', () => {
      repo.insertRollout(ROLLOUT);
      for (const d of ['d1', 'd2', 'd3', 'd4']) repo.insertTarget('r1', d, 0, 0);
      repo.updateTarget('r1', 'd1', { phase: 'deploy', command_id: 'c1' }, 0);
      repo.updateTarget('r1', 'd2', { phase: 'activate', command_id: 'c2' }, 0);
      repo.updateTarget('r1', 'd3', { phase: 'benchmark', command_id: 'c3' }, 0);
      repo.updateTarget('r1', 'd4', { phase: 'deploy', command_id: 'c4' }, 0);
    });
    event('d1', 'c1', 0, 'ack');
    event('d1', 'c1', 1, 'progress', 'fetch');
    event('d1', 'c1', 2, 'progress', 'verify');
    event('d1', 'c1', 3, 'deployed');
    event('d2', 'c2', 0, 'ack');
    event('d2', 'c2', 1, 'progress', 'self-test');
    // A benchmark's progress is not a rollout step; d4 has only acked so far.
    event('d3', 'c3', 1, 'progress', 'benchmark');
    event('d4', 'c4', 0, 'ack');
    // The same command id from another device is not d1's event.
    event('other', 'c1', 9, 'progress', 'load');
  });

  after(() => {
    database.close();
    dir.cleanup();
  });

  it("progressSteps: each in-flight deploy or activate's last progress step, by (device, command)", () => {
    const steps = repo.progressSteps('r1').sort((a, b) => a.device_id.localeCompare(b.device_id));
    assert.deepEqual(steps, [
      { device_id: 'd1', step: 'verify', current: 'pending' },
      { device_id: 'd2', step: 'self-test', current: 'pending' },
    ]);
  });

  it("a wave's ready and unfinished targets, step counts and deadline, by query", () => {
    database.write('test', () => {
      for (const d of ['w1', 'w2', 'w3', 'w4', 'w5', 'w6']) repo.insertTarget('r1', d, 1, 0);
      repo.updateTarget('r1', 'w1', { step: 'done' }, 0);
      repo.updateTarget('r1', 'w2', { step: 'failed' }, 0);
      repo.updateTarget('r1', 'w3', { step: 'benchmark', phase: 'benchmark', command_id: 'x' }, 0);
      repo.updateTarget('r1', 'w4', { step: 'activate' }, 0);
      // a retry waiting for its time: not ready before it
      repo.updateTarget('r1', 'w6', { step: 'benchmark', retries: 1, retry_at: 3_000 }, 0);
      repo.setWaveDeadline('r1', 1, 5_000, 7);
    });
    assert.deepEqual(
      repo.readyTargets('r1', 1, 2_999).map((t) => [t.device_id, t.step]),
      [
        ['w4', 'activate'],
        ['w5', 'pending'],
      ],
    );
    assert.deepEqual(
      repo.readyTargets('r1', 1, 3_000).map((t) => [t.device_id, t.step, t.retries]),
      [
        ['w4', 'activate', 0],
        ['w5', 'pending', 0],
        ['w6', 'benchmark', 1],
      ],
    );
    assert.equal(repo.unfinishedInWave('r1', 1), 4);
    assert.equal(repo.unfinishedInWave('r1', 0), 4);
    assert.deepEqual(repo.stepCounts('r1'), {
      activate: 1,
      benchmark: 2,
      done: 1,
      failed: 1,
      pending: 5,
    });
    const wave1 = repo.waveTargets('r1', 1);
    assert.deepEqual(
      wave1.map((t) => t.device_id),
      ['w1', 'w2', 'w3', 'w4', 'w5', 'w6'],
    );
    assert.ok(wave1.every((t) => t.deadline_at === 5_000 && t.updated_at === 7));
    assert.ok(repo.waveTargets('r1', 0).every((t) => t.deadline_at === null));
  });

  it('progressSteps looks events up through their key, never scanning the events table', () => {
    const plan = database.db.prepare(`EXPLAIN QUERY PLAN ${PROGRESS_STEPS_SQL}`).all('r1') as {
      detail: string;
    }[];
    const details = plan.map((p) => p.detail);
    assert.ok(
      details.some((d) => /^SEARCH e USING .*INDEX .*\(device_id=\? AND command_id=\?\)/.test(d)),
      details.join('; '),
    );
    assert.ok(!details.some((d) => /^SCAN e\b/.test(d)), details.join('; '));
  });
});

describe('RolloutsRepository: finished commands by notice, active rollouts', () => {
  let dir: TempDir;
  let database: SqliteDatabase;
  let repo: RolloutsRepository;

  const command = (id: string, device: string, status: string) =>
    database.db
      .prepare(
        `INSERT INTO commands (id, device_id, kind, payload_json, status, next_attempt_at, deadline_at, created_at, result_json)
         VALUES (?, ?, 'deploy', '{}', ?, 0, 1, 0, '{"type":"deployed"}')`,
      )
      .run(id, device, status);

  before(() => {
    dir = makeTempDir('edgec-rollouts-finished-');
    database = new SqliteDatabase(join(dir.path, 'rollouts.db'));
    repo = new RolloutsRepository(database);
    const devices = new DevicesRepository(database);
    database.write('test', () => {
      for (const d of ['d1', 'd2', 'd3'])
        devices.insert({ id: d, name: d, secret_hash: 'x', created_at: 0 }, [], []);
      repo.insertRollout(ROLLOUT);
      for (const d of ['d1', 'd2', 'd3']) repo.insertTarget('r1', d, 0, 0);
      repo.updateTarget('r1', 'd1', { phase: 'deploy', command_id: 'c1' }, 0);
      repo.updateTarget('r1', 'd2', { phase: 'benchmark', command_id: 'c2' }, 0);
      repo.updateTarget('r1', 'd3', { phase: 'deploy', command_id: 'c3-retry' }, 0);
      command('c1', 'd1', 'succeeded');
      command('c2', 'd2', 'acked'); // not finished yet
      command('c3', 'd3', 'failed'); // finished, but d3 now waits for another command
      command('c3-retry', 'd3', 'pending');
      command('c0', 'd1', 'succeeded'); // d1's earlier command
      for (const [id, state] of [
        ['r2', 'aborted'],
        ['r3', 'aborted'],
        ['r4', 'succeeded'],
        ['r5', 'paused'],
      ] as const) {
        repo.insertRollout({ ...ROLLOUT, id, state });
        repo.insertTarget(id, 'd1', 0, 0);
      }
      repo.updateTarget('r2', 'd1', { rollback: 'needed' }, 0);
      repo.updateTarget('r3', 'd1', { rollback: 'done' }, 0);
    });
  });

  after(() => {
    database.close();
    dir.cleanup();
  });

  it('finishedCommandsAmong: only the given commands that finished and that a target waits for', () => {
    const among = repo.finishedCommandsAmong('r1', ['c0', 'c1', 'c2', 'c3', 'nope']);
    assert.deepEqual(among, repo.finishedCommands('r1'));
    assert.deepEqual(
      among.map((r) => [r.device_id, r.command_id, r.status, r.result_json]),
      [['d1', 'c1', 'succeeded', '{"type":"deployed"}']],
    );
    assert.deepEqual(repo.finishedCommandsAmong('r2', ['c1']), [], 'not a target of r2 waiting');
    assert.deepEqual(repo.finishedCommandsAmong('r1', []), []);
  });

  it('activeIds: running and paused rollouts, aborted ones only while rollbacks are outstanding', () => {
    assert.deepEqual(repo.activeIds(), ['r1', 'r2', 'r5']);
    database.write('test', () => repo.updateTarget('r2', 'd1', { rollback: 'sent' }, 1));
    assert.deepEqual(repo.activeIds(), ['r1', 'r2', 'r5']);
    database.write('test', () => repo.updateTarget('r2', 'd1', { rollback: 'done' }, 2));
    assert.deepEqual(repo.activeIds(), ['r1', 'r5']);
  });
  it('targetSteps and targetsAt: what a summary and a failed-only view read', () => {
    assert.deepEqual(repo.targetSteps('r1'), [
      { device_id: 'd1', wave: 0, step: 'pending' },
      { device_id: 'd2', wave: 0, step: 'pending' },
      { device_id: 'd3', wave: 0, step: 'pending' },
    ]);
    assert.deepEqual(repo.targetsAt('r1', ['failed', 'rolled-back', 'skipped']), []);
    database.write('test', () => repo.updateTarget('r1', 'd2', { step: 'skipped', error: 'x' }, 3));
    const skipped = repo.targetsAt('r1', ['failed', 'rolled-back', 'skipped']);
    assert.deepEqual(
      skipped.map((t) => [t.device_id, t.step, t.error]),
      [['d2', 'skipped', 'x']],
    );
    assert.deepEqual(
      skipped,
      repo.targets('r1').filter((t) => t.step === 'skipped'),
    );
  });
});
