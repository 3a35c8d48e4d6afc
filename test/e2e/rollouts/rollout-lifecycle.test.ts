/**
 * Rollouts over three real agent processes on the control plane's embedded broker: a first
 * install, a canary + two-wave rollout with latency, p99 and drift rules that completes (and
 * streams its progress), pause and resume holding the next wave, an abort by API rolling the
 * canary back, and requests that are refused without side effects.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import { waitUntil } from '../agent/agent-test-kit';
import {
  commandsOf,
  createRollout,
  getRollout,
  provisionFleet,
  renamedCopy,
  uploadModel,
  waitForRollout,
  type Fleet,
  type Variant,
} from './rollout-fleet.kit';

const DEVICES = ['ro-a', 'ro-b', 'ro-c'];
const ALL = { deviceIds: DEVICES };

describe('rollouts over three agents (real agents, broker, SQLite)', () => {
  let fx: ControlPlaneFixture;
  let fleet: Fleet;
  const base = mlpModel({ hidden: 64, seed: 11 });
  let v1: Variant;
  let v2: Variant;
  let v3: Variant;
  let v4: Variant;

  before(async () => {
    fx = await startFixture();
    fleet = await provisionFleet(
      { httpUrl: fx.cp.httpUrl, mqttUrl: fx.cp.mqttUrl, auth: fx.auth, dir: fx.dir.path },
      DEVICES.map((id) => ({ id, groups: ['line-1'] })),
    );
    v1 = await uploadModel(fleet, 'mlp-v1', base);
    v2 = await uploadModel(fleet, 'mlp-v2', renamedCopy(base, 'v2'));
    v3 = await uploadModel(fleet, 'mlp-v3', renamedCopy(base, 'v3'));
    v4 = await uploadModel(fleet, 'mlp-v4', renamedCopy(base, 'v4'));
  });
  after(async () => {
    await fleet?.stopAgents();
    await fx?.close();
    fx?.dir.cleanup();
  });

  it('installs a first variant on devices that run nothing (one wave, no previous to compare)', async () => {
    const created = await createRollout(fleet, {
      variantId: v1.variantId,
      selector: { group: 'line-1' },
      strategy: { waves: [100], soakMs: 0 },
    });
    assert.deepEqual(
      created.waves.map((w) => [w.label, w.deviceIds.length]),
      [['wave 1', 3]],
    );
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) => r.state !== 'running',
      45_000,
      'first install',
    );
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    for (const t of done.targets) {
      assert.equal(t.step, 'done');
      assert.equal(t.previousP50Ms, null);
      assert.equal(t.agreement, null);
      assert.ok(t.p50Ms! > 0 && t.p99Ms! >= t.p50Ms!);
    }
    for (const id of DEVICES) assert.equal(fleet.agentActive(id).active, v1.sha256);
  });

  it('rolls out canary first, then two waves after a soak, judging latency and drift against the previous variant', async () => {
    const soakMs = 800;
    const created = await createRollout(fleet, {
      variantId: v2.variantId,
      selector: ALL,
      strategy: { canary: { devices: 1 }, waves: [50, 100], soakMs },
      abortRules: { maxLatencyRegression: 5, p99CeilingMs: 5000, minAgreement: 0.99 },
    });
    assert.deepEqual(
      created.waves.map((w) => [w.label, w.deviceIds]),
      [
        ['canary', ['ro-a']],
        ['wave 1', ['ro-b']],
        ['wave 2', ['ro-c']],
      ],
    );
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) => r.state !== 'running',
      60_000,
      'rollout',
    );
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.deepEqual(
      done.waves.map((w) => w.state),
      ['done', 'done', 'done'],
    );
    for (const t of done.targets) {
      assert.equal(t.step, 'done');
      // The previous variant's p50 comes from the first install's benchmark on the same device.
      assert.ok(t.previousP50Ms !== null && t.previousP50Ms > 0, JSON.stringify(t));
      // Same weights under another name: every probe input gets the previous variant's answer.
      assert.equal(t.agreement, 1);
      assert.deepEqual(fleet.agentActive(t.deviceId), { active: v2.sha256, previous: v1.sha256 });
    }
    // Each wave's first command comes after the previous wave's activation plus the soak.
    const activatedAt = async (id: string) =>
      Date.parse(
        (await commandsOf(fleet, id)).find(
          (c) => c.type === 'activate' && c.command.artifact?.sha256 === v2.sha256,
        )!.completedAt!,
      );
    const firstSentAt = async (id: string) =>
      Date.parse(
        (await commandsOf(fleet, id)).find((c) => c.command.artifact?.sha256 === v2.sha256)!
          .createdAt,
      );
    assert.ok((await firstSentAt('ro-b')) >= (await activatedAt('ro-a')) + soakMs);
    assert.ok((await firstSentAt('ro-c')) >= (await activatedAt('ro-b')) + soakMs);
  });

  it('reports per device and per profile what the rollouts measured, beside the prediction (JSON and CSV)', async () => {
    const rollout = (await fleet.api().get('/api/v1/rollouts?limit=1').set(fx.auth)).body[0];
    const res = await fleet
      .api()
      .get(`/api/v1/reports/latency?variant=${v2.variantId}&group=line-1`)
      .set(fx.auth);
    assert.equal(res.status, 200);
    const rows = res.body.rows as {
      scope: string;
      deviceId: string | null;
      profileId: string | null;
      devices: number;
      n: number;
      p50Ms: number;
      spreadMs: { min: number; max: number };
      predictedMs: number | null;
      predictionErrorPct: number | null;
    }[];
    const deviceRows = rows.filter((r) => r.scope === 'device');
    assert.deepEqual(
      deviceRows.map((r) => r.deviceId),
      DEVICES,
    );
    for (const r of deviceRows) {
      // One benchmark of v2 per device: the rollout's own measurement.
      const target = rollout.targets.find((t: { deviceId: string }) => t.deviceId === r.deviceId);
      assert.deepEqual(
        [r.n, r.p50Ms, r.spreadMs.min, r.spreadMs.max],
        [1, target.p50Ms, target.p50Ms, target.p50Ms],
      );
      if (r.predictedMs !== null)
        assert.ok(
          Math.abs(r.predictionErrorPct! - ((r.predictedMs - r.p50Ms) / r.p50Ms) * 100) < 1e-6,
        );
    }
    const profileRows = rows.filter((r) => r.scope === 'profile');
    assert.equal(profileRows.length, 1);
    const sortedP50 = deviceRows.map((r) => r.p50Ms).sort((a, b) => a - b);
    assert.deepEqual(
      [profileRows[0]!.devices, profileRows[0]!.n, profileRows[0]!.p50Ms, profileRows[0]!.spreadMs],
      [3, 3, sortedP50[1], { min: sortedP50[0], max: sortedP50[2] }],
    );
    const csv = await fleet
      .api()
      .get(`/api/v1/reports/latency?variant=${v2.variantId}&group=line-1&format=csv`)
      .set(fx.auth);
    assert.match(csv.headers['content-type'] as string, /^text\/csv/);
    const lines = csv.text.trimEnd().split('\n');
    assert.equal(lines.length, 1 + rows.length);
    assert.match(lines[0]!, /^scope,variant_id,profile_id,device_id,devices,n,p50_ms/);
    assert.equal(lines.filter((l) => l.startsWith(`device,${v2.variantId},`)).length, 3);
    const none = await fleet.api().get('/api/v1/reports/latency?group=nobody').set(fx.auth);
    assert.deepEqual(none.body.rows, []);
    assert.equal(
      (await fleet.api().get('/api/v1/reports/latency?variant=var_nope').set(fx.auth)).status,
      404,
    );
    assert.equal(
      (await fleet.api().get('/api/v1/reports/latency?format=xml').set(fx.auth)).status,
      400,
    );
  });

  it('pause holds the next wave (no command goes out), resume finishes it; the SSE stream tells it all', async () => {
    const created = await createRollout(fleet, {
      variantId: v3.variantId,
      selector: { deviceIds: ['ro-a', 'ro-b'] },
      strategy: { canary: { devices: 1 }, waves: [100], soakMs: 0 },
    });
    const events = streamEvents(`${fx.cp.httpUrl}/api/v1/rollouts/${created.id}/events`, fx.auth);
    try {
      const paused = await fleet.api().post(`/api/v1/rollouts/${created.id}/pause`).set(fx.auth);
      assert.equal(paused.status, 200);
      assert.equal(paused.body.state, 'paused');
      // Whatever the canary had in flight finishes; nothing new starts while paused.
      await new Promise((r) => setTimeout(r, 6000));
      const held = await getRollout(fleet, created.id);
      assert.equal(held.state, 'paused');
      assert.equal(held.waves[1]!.state, 'pending');
      assert.equal(held.targets.find((t) => t.deviceId === 'ro-b')!.step, 'pending');
      assert.equal(
        (await commandsOf(fleet, 'ro-b')).filter((c) => c.command.artifact?.sha256 === v3.sha256)
          .length,
        0,
      );
      const sentWhilePaused = (await commandsOf(fleet, 'ro-a')).length;
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal((await commandsOf(fleet, 'ro-a')).length, sentWhilePaused);

      const resumed = await fleet.api().post(`/api/v1/rollouts/${created.id}/resume`).set(fx.auth);
      assert.equal(resumed.body.state, 'running');
      const done = await waitForRollout(
        fleet,
        created.id,
        (r) => r.state !== 'running',
        45_000,
        'resumed rollout',
      );
      assert.equal(done.state, 'succeeded', JSON.stringify(done));
      for (const id of ['ro-a', 'ro-b']) assert.equal(fleet.agentActive(id).active, v3.sha256);
      assert.equal(fleet.agentActive('ro-c').active, v2.sha256);

      await waitUntil(
        () => events.seen.some((e) => e.event === 'state' && e.data.state === 'succeeded'),
        5000,
        'succeeded event',
      );
      const states = events.seen.filter((e) => e.event === 'state').map((e) => e.data.state);
      assert.deepEqual(states, ['running', 'paused', 'running', 'succeeded']);
      const steps = events.seen
        .filter((e) => e.event === 'target' && e.data.deviceId === 'ro-b')
        .map((e) => e.data.step);
      assert.ok(steps.includes('benchmark') && steps.at(-1) === 'done', steps.join(','));
      assert.ok(
        events.seen.some(
          (e) => e.event === 'wave' && e.data.label === 'wave 1' && e.data.state === 'done',
        ),
      );
    } finally {
      events.close();
    }
  });

  it('an abort by API rolls the switched canary back to its previous variant and skips the rest', async () => {
    const created = await createRollout(fleet, {
      variantId: v4.variantId,
      selector: ALL,
      strategy: { canary: { devices: 1 }, waves: [100], soakMs: 600_000 },
    });
    await waitForRollout(
      fleet,
      created.id,
      (r) => r.waves[0]!.state === 'soaking',
      45_000,
      'canary soaking',
    );
    assert.equal(fleet.agentActive('ro-a').active, v4.sha256);
    const aborted = await fleet
      .api()
      .post(`/api/v1/rollouts/${created.id}/abort`)
      .set(fx.auth)
      .send({ reason: 'operator saw wrong answers' });
    assert.equal(aborted.status, 200);
    assert.equal(aborted.body.state, 'aborted');
    assert.equal(aborted.body.reason, 'operator saw wrong answers');
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) => r.targets.find((t) => t.deviceId === 'ro-a')!.step === 'rolled-back',
      30_000,
      'canary rolled back',
    );
    assert.deepEqual(
      done.targets.map((t) => [t.deviceId, t.step]),
      [
        ['ro-a', 'rolled-back'],
        ['ro-b', 'skipped'],
        ['ro-c', 'skipped'],
      ],
    );
    assert.deepEqual(
      done.waves.map((w) => w.state),
      ['aborted', 'pending'],
    );
    assert.deepEqual(fleet.agentActive('ro-a'), { active: v3.sha256, previous: v4.sha256 });
    await waitUntil(
      async () =>
        (await fleet.api().get('/api/v1/devices/ro-a').set(fx.auth)).body.activeVariant
          ?.artifactSha256 === v3.sha256,
      10_000,
      'control plane sees ro-a back on v3',
    );
    const again = await fleet
      .api()
      .post(`/api/v1/rollouts/${created.id}/abort`)
      .set(fx.auth)
      .send({});
    assert.equal(again.status, 409);
    const resume = await fleet.api().post(`/api/v1/rollouts/${created.id}/resume`).set(fx.auth);
    assert.equal(resume.status, 409);
  });

  it('refuses bad requests with a clear 4xx and creates nothing', async () => {
    const before = (await fleet.api().get('/api/v1/rollouts').set(fx.auth)).body.length as number;
    const post = (body: unknown) =>
      fleet
        .api()
        .post('/api/v1/rollouts')
        .set(fx.auth)
        .send(body as object);
    const ok = { variantId: v1.variantId, selector: ALL, strategy: { waves: [100], soakMs: 0 } };
    const cases: [unknown, number, RegExp][] = [
      [{ ...ok, variantId: 'var_nope' }, 404, /variant "var_nope" not found/],
      [{ ...ok, selector: {} }, 400, /selector must name/],
      [{ ...ok, selector: { group: 'no-such-group' } }, 400, /matches no devices/],
      [
        { ...ok, strategy: { waves: [10, 50], soakMs: 0 } },
        400,
        /last of strategy.waves must be 100/,
      ],
      [{ ...ok, strategy: { waves: [50, 20, 100], soakMs: 0 } }, 400, /strictly increasing/],
      [{ ...ok, strategy: { waves: [], soakMs: 0 } }, 400, /waves/],
      [
        { ...ok, strategy: { canary: { devices: 1, percent: 10 }, waves: [100], soakMs: 0 } },
        400,
        /not both/,
      ],
      [{ ...ok, abortRules: { minAgreement: 2 } }, 400, /minAgreement/],
      [{ ...ok, strategy: { waves: [100] } }, 400, /soakMs/],
      [{ ...ok, launchMissiles: true }, 400, /launchMissiles/],
    ];
    for (const [body, status, message] of cases) {
      const res = await post(body);
      assert.equal(res.status, status, `${JSON.stringify(body)} -> ${res.status} ${res.text}`);
      assert.match([res.body.message].flat().join('; '), message);
    }
    const malformed = await fleet
      .api()
      .post('/api/v1/rollouts')
      .set(fx.auth)
      .set('Content-Type', 'application/json')
      .send('{"variantId": ');
    assert.equal(malformed.status, 400);
    assert.equal((await fleet.api().get('/api/v1/rollouts/rol_nope').set(fx.auth)).status, 404);
    assert.equal(
      (await fleet.api().post('/api/v1/rollouts/rol_nope/pause').set(fx.auth)).status,
      404,
    );
    assert.equal(
      (await fleet.api().get('/api/v1/rollouts/rol_nope/events').set(fx.auth)).status,
      404,
    );
    assert.equal((await fleet.api().get('/api/v1/rollouts').set(fx.auth)).body.length, before);
  });
});

interface SseEvent {
  event: string;
  data: Record<string, unknown> & {
    state?: string;
    deviceId?: string;
    step?: string;
    label?: string;
  };
}

/** Reads a server-sent event stream in the background until closed. */
function streamEvents(url: string, headers: Record<string, string>) {
  const seen: SseEvent[] = [];
  const controller = new AbortController();
  void (async () => {
    const res = await fetch(url, { headers, signal: controller.signal });
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data) seen.push({ event, data: JSON.parse(data) as SseEvent['data'] });
      }
    }
  })().catch(() => undefined);
  return { seen, close: () => controller.abort() };
}
