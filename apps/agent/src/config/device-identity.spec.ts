import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, TimerHandle } from '../clock';
import { CredentialsStore } from '../store/credentials-store';
import { AgentConfigError, type AgentSettings } from './agent-config';
import { EnrollmentRefusedError, resolveIdentity } from './device-identity';

/** Timers fire only when the test says so; `waiting()` resolves once one is armed. */
class StepClock implements Clock {
  private pending: { fn: () => void; ms: number }[] = [];
  readonly delays: number[] = [];
  now = () => Date.UTC(2026, 0, 1);
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { fn, ms };
    this.pending.push(timer);
    return { cancel: () => (this.pending = this.pending.filter((t) => t !== timer)) };
  }
  setInterval(): TimerHandle {
    throw new Error('not used');
  }
  /** Fires the pending backoff timer (request timeouts are the 15 s ones and are left alone). */
  async fireBackoff(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const t = this.pending.find((p) => p.ms !== 15_000);
      if (t) {
        this.pending = this.pending.filter((p) => p !== t);
        this.delays.push(t.ms);
        return t.fn();
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('no backoff timer armed');
  }
}

const quiet = { info: () => undefined, warn: () => undefined };

describe('resolveIdentity', () => {
  let server: Server;
  let url = '';
  let answers: { status: number; body: string }[] = [];
  const requests: unknown[] = [];
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ec-identity-'));
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        requests.push({ path: req.url, body: JSON.parse(body) as unknown });
        const answer = answers.shift() ?? { status: 500, body: '{}' };
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  const settings = (sub: string, extra: Partial<AgentSettings> = {}): AgentSettings => ({
    brokerUrl: 'mqtt://127.0.0.1:1883',
    dataDir: join(dir, sub),
    trustedKeys: ['-----BEGIN PUBLIC KEY-----'],
    modelQuotaBytes: 1 << 20,
    runnerTimeoutMs: 1000,
    runnerGraceMs: 1000,
    runnerMemoryLimitBytes: 1 << 30,
    fetchStallTimeoutMs: 1000,
    keepaliveSec: 30,
    telemetryIntervalMs: 0,
    reconnectMinMs: 1000,
    reconnectMaxMs: 8000,
    httpDownloadMinBytes: 1 << 24,
    controlPlaneUrl: url,
    enrollmentToken: 'ecenroll_0123456789',
    ...extra,
  });

  it('retries an unavailable control plane with backoff, then stores what it issued', async () => {
    requests.length = 0;
    answers = [
      { status: 503, body: '{"message":"starting"}' },
      {
        status: 201,
        body: JSON.stringify({
          device: { id: 'cam-7' },
          mqtt: { username: 'cam-7', password: 'issued-secret-1' },
        }),
      },
    ];
    const clock = new StepClock();
    const resolving = resolveIdentity(settings('retry', { deviceId: 'cam-7' }), {
      clock,
      log: quiet,
    });
    await clock.fireBackoff();
    const config = await resolving;
    assert.equal(config.deviceId, 'cam-7');
    assert.equal(config.password, 'issued-secret-1');
    assert.equal(requests.length, 2);
    assert.deepEqual(requests[1], {
      path: '/api/v1/enroll',
      body: { enrollmentToken: 'ecenroll_0123456789', name: 'cam-7', id: 'cam-7' },
    });
    assert.ok(
      clock.delays[0]! >= 500 && clock.delays[0]! <= 1000,
      'first backoff within [min/2, min]',
    );
    const stored = new CredentialsStore(join(dir, 'retry')).read();
    assert.equal(stored?.password, 'issued-secret-1');
  });

  it('refuses an answer without usable credentials and stores nothing', async () => {
    answers = [{ status: 201, body: JSON.stringify({ device: { id: 'cam-8' } }) }];
    await assert.rejects(
      resolveIdentity(settings('bad-answer'), { clock: new StepClock(), log: quiet }),
      EnrollmentRefusedError,
    );
    assert.equal(existsSync(join(dir, 'bad-answer', 'credentials.json')), false);
  });

  it('uses configured credentials without asking, and rejects stored ones of another device', async () => {
    requests.length = 0;
    const configured = await resolveIdentity(
      settings('configured', { deviceId: 'cam-9', password: 'from-config' }),
      { clock: new StepClock(), log: quiet },
    );
    assert.equal(configured.password, 'from-config');
    assert.equal(requests.length, 0);
    new CredentialsStore(join(dir, 'retry')).read();
    await assert.rejects(
      resolveIdentity(settings('retry', { deviceId: 'someone-else' }), {
        clock: new StepClock(),
        log: quiet,
      }),
      (err: Error) =>
        err instanceof AgentConfigError && /holds credentials of "cam-7"/.test(err.message),
    );
    assert.equal(
      JSON.parse(readFileSync(join(dir, 'retry', 'credentials.json'), 'utf8')).deviceId,
      'cam-7',
    );
  });

  describe('trusted keys', () => {
    const signingKeyPem = generateKeyPairSync('ed25519')
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString();
    const issued = (id: string, signingKey?: unknown) => ({
      status: 201,
      body: JSON.stringify({
        device: { id },
        mqtt: { username: id, password: `secret-of-${id}` },
        ...(signingKey === undefined ? {} : { signingKey }),
      }),
    });
    const once = { clock: new StepClock(), log: quiet };

    it('takes the enrolled signing key when none is configured, stores it, and reuses it', async () => {
      answers = [
        issued('cam-20', { algorithm: 'ed25519', keyId: 'k1', publicKeyPem: signingKeyPem }),
      ];
      const enrolled = await resolveIdentity(
        settings('key-enrolled', { trustedKeys: undefined }),
        once,
      );
      assert.deepEqual(enrolled.trustedKeys, [signingKeyPem]);
      assert.equal(
        new CredentialsStore(join(dir, 'key-enrolled')).read()?.trustedKey,
        signingKeyPem,
      );
      requests.length = 0;
      const later = await resolveIdentity(
        settings('key-enrolled', { trustedKeys: undefined }),
        once,
      );
      assert.deepEqual(later.trustedKeys, [signingKeyPem]);
      assert.equal(requests.length, 0, 'no second enrollment');
    });

    it('lets a configured key win over the enrolled one', async () => {
      answers = [issued('cam-21', { publicKeyPem: signingKeyPem })];
      const configured = ['-----BEGIN PUBLIC KEY-----configured'];
      const config = await resolveIdentity(
        settings('key-configured', { trustedKeys: configured }),
        once,
      );
      assert.deepEqual(config.trustedKeys, configured);
      const again = await resolveIdentity(
        settings('key-configured', { trustedKeys: configured }),
        once,
      );
      assert.deepEqual(again.trustedKeys, configured);
      assert.equal(
        new CredentialsStore(join(dir, 'key-configured')).read()?.trustedKey,
        signingKeyPem,
      );
    });

    it('keeps the credentials but names trustedKeys when the control plane sent no key', async () => {
      answers = [issued('cam-22')];
      await assert.rejects(
        resolveIdentity(settings('key-none', { trustedKeys: undefined }), once),
        (err: Error) =>
          err instanceof AgentConfigError && /trustedKeys: required/.test(err.message),
      );
      const stored = new CredentialsStore(join(dir, 'key-none')).read();
      assert.equal(stored?.deviceId, 'cam-22');
      assert.equal(stored?.trustedKey, undefined);
      requests.length = 0;
      const withKey = await resolveIdentity(
        settings('key-none', { trustedKeys: [signingKeyPem] }),
        once,
      );
      assert.equal(withKey.deviceId, 'cam-22');
      assert.equal(requests.length, 0, 'a key configured later completes the setup');
    });

    it('refuses an answer whose signing key is not an ed25519 public key, storing nothing', async () => {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 })
        .publicKey.export({ type: 'spki', format: 'pem' })
        .toString();
      for (const [sub, key] of [
        ['key-rsa', { publicKeyPem: rsa }],
        [
          'key-garbage',
          { publicKeyPem: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' },
        ],
      ] as const) {
        answers = [issued('cam-23', key)];
        await assert.rejects(
          resolveIdentity(settings(sub, { trustedKeys: undefined }), once),
          (err: Error) => err instanceof EnrollmentRefusedError && /signing key/.test(err.message),
        );
        assert.equal(existsSync(join(dir, sub, 'credentials.json')), false);
      }
    });

    it('lists a missing device id and key together without enrolling', async () => {
      requests.length = 0;
      await assert.rejects(
        resolveIdentity(
          settings('key-missing', { trustedKeys: undefined, enrollmentToken: undefined }),
          once,
        ),
        (err: Error) =>
          err instanceof AgentConfigError &&
          err.problems.length === 2 &&
          /deviceId: required/.test(err.problems[0]!) &&
          /trustedKeys: required/.test(err.problems[1]!),
      );
      assert.equal(requests.length, 0);
    });
  });
});
