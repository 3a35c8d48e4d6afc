/**
 * A device enrolls itself with a fleet token against the real control plane (Nest app, SQLite,
 * its embedded broker with per-device authentication): the first start enrolls and stores the
 * issued credentials (0600), later starts reuse them without spending another token use, and a
 * refused token exits with a clear message and stores nothing. The enroll answer carries the
 * control plane's signing key: an agent with no configured key verifies manifests with it, and a
 * configured key wins over it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { spawnAgent, tempDir, waitUntil, type AgentProcess } from './agent-test-kit';

describe('agent enrollment with a fleet token (real control plane, real agent process)', () => {
  const dir = tempDir('ec-agent-enroll-');
  let fx: ControlPlaneFixture;
  let trustedKeyPem = '';
  let token = '';
  const running: AgentProcess[] = [];

  before(async () => {
    fx = await startFixture();
    trustedKeyPem = (await fx.api().get('/api/v1/signing-key').set(fx.auth)).body.publicKeyPem;
    const created = await fx
      .api()
      .post('/api/v1/enrollment-tokens')
      .set(fx.auth)
      .send({ name: 'lab bench', maxUses: 1, tags: ['lab'] });
    assert.equal(created.status, 201);
    token = created.body.token as string;
  });
  after(async () => {
    for (const a of running) await a.stop();
    await fx.close();
    fx.dir.cleanup();
    dir.cleanup();
  });

  const device = async (id: string) => fx.api().get(`/api/v1/devices/${id}`).set(fx.auth);
  const start = (deviceId: string, dataDir: string, extra: Record<string, unknown>) => {
    const agent = spawnAgent({
      deviceId,
      brokerUrl: fx.cp.mqttUrl,
      dataDir,
      trustedKeyPem,
      extra: { controlPlaneUrl: fx.cp.httpUrl, ...extra },
    });
    running.push(agent);
    return agent;
  };

  it('enrolls on first start, stores the credentials 0600, connects, and reuses them later', async () => {
    const dataDir = join(dir.path, 'enrolled');
    const first = start('line3-cam-1', dataDir, { enrollmentToken: token });
    await waitUntil(
      async () => (await device('line3-cam-1')).body.status === 'online',
      30_000,
      'enrolled device online in the control plane',
    );
    const view = (await device('line3-cam-1')).body;
    assert.deepEqual(view.tags, ['lab'], 'the token tags the device');
    const credentialsPath = join(dataDir, 'credentials.json');
    const stored = JSON.parse(readFileSync(credentialsPath, 'utf8'));
    assert.equal(stored.deviceId, 'line3-cam-1');
    assert.ok(stored.password.length >= 20);
    assert.equal(statSync(credentialsPath).mode & 0o777, 0o600);
    assert.match(first.output(), /"msg":"enrolled"/);
    assert.equal(await first.stop(), 0);
    await waitUntil(
      async () => (await device('line3-cam-1')).body.status === 'offline',
      10_000,
      'offline after a clean stop',
    );

    // The token is used up now: a second start must not need it.
    const second = start('line3-cam-1', dataDir, { enrollmentToken: token });
    await waitUntil(
      async () => (await device('line3-cam-1')).body.status === 'online',
      30_000,
      'online again with the stored credentials',
    );
    assert.doesNotMatch(second.output(), /enroll/);
    assert.equal((await device('line3-cam-1')).body.connection > view.connection, true);
    await second.stop();
  });

  it('exits 2 with the reason when the control plane refuses the token, storing nothing', async () => {
    const dataDir = join(dir.path, 'refused');
    const agent = start('line3-cam-2', dataDir, { enrollmentToken: token });
    const code = await new Promise<number | null>((r) => agent.proc.once('exit', r));
    assert.equal(code, 2);
    assert.match(agent.output(), /enrollment refused \(403\): enrollment token is used up/);
    assert.equal(existsSync(join(dataDir, 'credentials.json')), false);
    assert.equal((await device('line3-cam-2')).status, 404);
  });

  it('names the missing setting when neither a device id nor a token is configured', async () => {
    const dataDir = join(dir.path, 'nothing');
    const agent = start('anon', dataDir, { deviceId: undefined, controlPlaneUrl: undefined });
    const code = await new Promise<number | null>((r) => agent.proc.once('exit', r));
    assert.equal(code, 2);
    assert.match(agent.output(), /deviceId: required \(or an enrollmentToken to enroll with\)/);
  });

  it('verifies manifests with the signing key that came with enrollment; a configured key wins', async () => {
    const created = await fx
      .api()
      .post('/api/v1/enrollment-tokens')
      .set(fx.auth)
      .send({ name: 'keys', maxUses: 2 });
    assert.equal(created.status, 201);
    const keyless = start('line4-cam-1', join(dir.path, 'keyless'), {
      enrollmentToken: created.body.token,
      trustedKeys: undefined,
    });
    const otherKey = generateKeyPairSync('ed25519')
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const configured = start('line4-cam-2', join(dir.path, 'configured'), {
      enrollmentToken: created.body.token,
      trustedKeys: [otherKey],
    });
    for (const id of ['line4-cam-1', 'line4-cam-2'])
      await waitUntil(
        async () => (await device(id)).body.status === 'online',
        30_000,
        `${id} online`,
      );
    const stored = JSON.parse(readFileSync(join(dir.path, 'keyless', 'credentials.json'), 'utf8'));
    assert.equal(
      stored.trustedKey,
      trustedKeyPem,
      'the control plane key is stored with the credentials',
    );

    const up = await fx
      .api()
      .post('/api/v1/models?name=enrolled-key')
      .set(fx.auth)
      .set('Content-Type', 'application/octet-stream')
      .send(mlpModel({ seed: 61 }));
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const outcome = async (deviceId: string) => {
      const sent = await fx
        .api()
        .post('/api/v1/commands/benchmark')
        .set(fx.auth)
        .send({ deviceId, variantId: up.body.variants[0].id, input: { shape: [1, 64] }, runs: 5 });
      assert.equal(sent.status, 201, JSON.stringify(sent.body));
      let command: { status: string; error: string | null } = { status: 'queued', error: null };
      await waitUntil(
        async () => {
          const list = (await fx.api().get(`/api/v1/commands?deviceId=${deviceId}`).set(fx.auth))
            .body;
          command = list[0];
          return ['succeeded', 'failed', 'expired'].includes(command.status);
        },
        60_000,
        `benchmark on ${deviceId} done`,
      );
      return command;
    };
    const [withEnrolledKey, withConfiguredKey] = await Promise.all([
      outcome('line4-cam-1'),
      outcome('line4-cam-2'),
    ]);
    assert.equal(
      withEnrolledKey.status,
      'succeeded',
      JSON.stringify(withEnrolledKey) + keyless.output(),
    );
    assert.equal(withConfiguredKey.status, 'failed', configured.output());
    assert.match(withConfiguredKey.error ?? '', /^SIGNATURE_INVALID/);
  });

  it('`edgec agent` takes the enrollment settings as flags and enrolls under the given name', async () => {
    const created = await fx
      .api()
      .post('/api/v1/enrollment-tokens')
      .set(fx.auth)
      .send({ name: 'cli', maxUses: 1 });
    const dataDir = join(dir.path, 'cli');
    const cli = spawn(
      process.execPath,
      [
        join(__dirname, '../../../bin/edgec.js'),
        'agent',
        '--broker',
        fx.cp.mqttUrl,
        '--data-dir',
        dataDir,
        '--device-id',
        'line5-cam-1',
        '--enrollment-token',
        created.body.token as string,
        '--control-plane-url',
        fx.cp.httpUrl,
        '--device-name',
        'Line 5 camera',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, EC_AGENT_CONFIG: '' } },
    );
    let output = '';
    cli.stdout.on('data', (d: Buffer) => (output += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => cli.once('exit', r));
    try {
      await waitUntil(
        async () => (await device('line5-cam-1')).body.status === 'online',
        30_000,
        'device enrolled through edgec agent online',
      );
      const view = (await device('line5-cam-1')).body;
      assert.equal(view.name, 'Line 5 camera', output);
      const stored = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8'));
      assert.equal(stored.trustedKey, trustedKeyPem);
    } finally {
      cli.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });
});
