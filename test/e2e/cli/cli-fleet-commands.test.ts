/**
 * `edgec devices ls`, `rollouts create|get|ls|watch|abort` and `reports` as real processes
 * against a real control plane (SQLite in a temp dir, embedded broker): tables, exit codes and
 * the errors a user sees (unreachable URL, no token, 4xx bodies, bad flags caught before any
 * request).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { getFreePort } from '@edgecompress/testing';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import { edgec } from './cli-run';

describe('edgec fleet commands against a real control plane', () => {
  let fx: ControlPlaneFixture;
  let env: Record<string, string>;
  let variantId = '';

  before(async () => {
    fx = await startFixture();
    env = { EDGEC_URL: fx.cp.httpUrl, EDGEC_TOKEN: fx.token };
    await fx.provision('cli-pi-1', { groups: ['pi5'], tags: ['lab'] });
    await fx.provision('cli-pi-2', { groups: ['pi5'] });
    await fx.provision('cli-nano-1', { groups: ['nano'] });
    const res = await fx
      .api()
      .post('/api/v1/models?name=mlp&format=onnx')
      .set(fx.auth)
      .set('Content-Type', 'application/octet-stream')
      .send(mlpModel({ seed: 1 }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    variantId = (res.body as { variants: { id: string }[] }).variants[0]!.id;
  });
  after(async () => {
    await fx.close();
    fx.dir.cleanup();
  });

  it('devices ls prints a table of every device with its status and groups', async () => {
    const r = await edgec(['devices', 'ls'], env);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+NAME\s+STATUS\s+PROFILE\s+GROUPS\s+TAGS\s+ACTIVE VARIANT/);
    assert.equal(lines.length, 4);
    const pi1 = lines.find((l) => l.startsWith('cli-pi-1'))!;
    assert.match(pi1, /cli-pi-1\s+cli-pi-1\s+unknown\s+-\s+pi5\s+lab\s+-/);
    const filtered = await edgec(['devices', 'ls', '--group', 'nano'], env);
    assert.deepEqual(
      filtered.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
      ['cli-nano-1'],
    );
  });

  it('--url and --token on the command line win over the environment', async () => {
    const r = await edgec(['devices', 'ls', '--url', fx.cp.httpUrl, '--token', fx.token], {
      EDGEC_URL: 'http://127.0.0.1:1',
      EDGEC_TOKEN: 'wrong',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cli-pi-2/);
  });

  it('an unreachable control plane, a missing token and a bad token each exit 1 with a clear message', async () => {
    const closed = await getFreePort();
    const down = await edgec(['jobs', 'ls'], {
      EDGEC_URL: `http://127.0.0.1:${closed}`,
      EDGEC_TOKEN: 't',
    });
    assert.equal(down.code, 1);
    assert.match(
      down.stderr,
      new RegExp(
        `cannot reach the control plane at http://127\\.0\\.0\\.1:${closed} \\(ECONNREFUSED\\)`,
      ),
    );
    const noToken = await edgec(['rollouts', 'ls'], { EDGEC_URL: fx.cp.httpUrl });
    assert.equal(noToken.code, 1);
    assert.match(noToken.stderr, /no API token: pass --token or set EDGEC_TOKEN/);
    const badToken = await edgec(['devices', 'ls'], { ...env, EDGEC_TOKEN: 'nope' });
    assert.equal(badToken.code, 1);
    assert.match(badToken.stderr, /GET \/api\/v1\/devices\?: 401 .*check --token/);
    assert.equal(badToken.stdout, '');
  });

  it('rollouts create rejects a bad plan before sending anything, and shows the server 4xx otherwise', async () => {
    const waves = await edgec(
      ['rollouts', 'create', '--variant', variantId, '--group', 'pi5', '--waves', '10,50'],
      env,
    );
    assert.equal(waves.code, 1);
    assert.match(waves.stderr, /--waves are cumulative percents ending at 100/);
    const soak = await edgec(
      ['rollouts', 'create', '--variant', variantId, '--group', 'pi5', '--soak', 'soon'],
      env,
    );
    assert.notEqual(soak.code, 0);
    assert.match(soak.stderr, /--soak expects a duration like 500ms, 30s or 2m, got "soon"/);
    const unknown = await edgec(
      ['rollouts', 'create', '--variant', 'var_missing', '--group', 'pi5'],
      env,
    );
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /POST \/api\/v1\/rollouts: 404 .*var_missing/);
    const nobody = await edgec(
      ['rollouts', 'create', '--variant', variantId, '--group', 'none'],
      env,
    );
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /400 the selector matches no devices/);
    const list = await fx.api().get('/api/v1/rollouts').set(fx.auth);
    assert.deepEqual(list.body, [], 'no rollout was created by the failed attempts');
  });

  it('rollouts create, get, ls and abort: waves and targets as tables; watch of an aborted rollout exits 2', async () => {
    const created = await edgec(
      [
        'rollouts',
        'create',
        '--variant',
        variantId,
        '--group',
        'pi5',
        '--canary',
        '1',
        '--waves',
        '100',
        '--soak',
        '1s',
        '--max-latency-regression',
        '1.5',
        '--json',
      ],
      env,
    );
    assert.equal(created.code, 0, created.stderr);
    const rollout = JSON.parse(created.stdout) as { id: string; state: string; targets: unknown[] };
    assert.equal(rollout.state, 'running');
    assert.equal(rollout.targets.length, 2);

    const got = await edgec(['rollouts', 'get', rollout.id], env);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, new RegExp(`rollout ${rollout.id} of variant ${variantId}: running`));
    assert.match(got.stdout, /^WAVE\s+PERCENT\s+DEVICES\s+STATE$/m);
    assert.match(got.stdout, /^canary\s+\d+(\.\d+)?%\s+1\s+\w+$/m);
    assert.match(got.stdout, /^cli-pi-1\s+\S+\s+\S+/m);
    assert.match(got.stdout, /^cli-pi-2\s+\S+\s+\S+/m);

    const listed = await edgec(['rollouts', 'ls'], env);
    assert.match(
      listed.stdout,
      new RegExp(`^${rollout.id}\\s+${variantId}\\s+running\\s+0/2`, 'm'),
    );

    const aborted = await edgec(['rollouts', 'abort', rollout.id], env);
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.match(aborted.stdout, new RegExp(`rollout ${rollout.id}: aborted`));

    const watched = await edgec(['rollouts', 'watch', rollout.id, '--poll-ms', '200'], env);
    assert.equal(watched.code, 2, 'an aborted rollout is not a success');
    assert.match(watched.stdout, /: aborted/);

    const again = await edgec(['rollouts', 'abort', 'rol_missing'], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /404/);
  });

  it('jobs get of an unknown job exits 1 with the 404', async () => {
    const r = await edgec(['jobs', 'get', 'job_missing'], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /GET \/api\/v1\/jobs\/job_missing: 404/);
  });
});
