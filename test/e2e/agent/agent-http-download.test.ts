/**
 * HTTP download of large artifacts: a real agent process, a real broker carrying the signed
 * manifest, and an HTTP server answering the control plane's artifact route. The body is checked
 * chunk by chunk against the manifest; a corrupt body or a refused request falls back to the MQTT
 * chunks. The route itself is exercised against the real control plane, and a real agent
 * downloads from it with its own MQTT credentials (no operator token).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { decodeMessage, PROTOCOL_VERSION, topics, type EventMessage } from '@edgecompress/protocol';
import { httpArtifactSource } from '../../../apps/agent/src/jobs/artifact-fetcher-http';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import {
  downloadArtifact,
  startFixture,
  type ControlPlaneFixture,
} from '../control-plane/control-plane.fixture';
import {
  FakeControlPlane,
  spawnAgent,
  startAedes,
  tempDir,
  waitUntil,
  type AgentProcess,
  type Broker,
} from './agent-test-kit';

const DEVICE = 'dev-http-1';
const TOKEN = 'download-token-1';
const CHUNK = 4096;

describe('agent: large artifacts over HTTP, checked like MQTT chunks', () => {
  const dir = tempDir('ec-agent-http-');
  let broker: Broker;
  let cp: FakeControlPlane;
  let agent: AgentProcess;
  let server: Server;
  const bodies = new Map<string, Buffer>();
  const requests: { path: string; status: number }[] = [];

  before(async () => {
    server = createServer((req, res) => {
      const m = /^\/api\/v1\/variants\/([^/]+)\/artifact$/.exec(req.url ?? '');
      const body = m ? bodies.get(decodeURIComponent(m[1]!)) : undefined;
      const status =
        req.headers.authorization !== `Bearer ${TOKEN}` ? 401 : body === undefined ? 404 : 200;
      requests.push({ path: req.url ?? '', status });
      if (status !== 200) return res.writeHead(status).end('{}');
      res.writeHead(200, { 'content-type': 'application/onnx', 'content-length': body!.length });
      // Pieces that do not line up with the manifest's chunks.
      for (let i = 0; i < body!.length; i += 1000) res.write(body!.subarray(i, i + 1000));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    broker = await startAedes();
    cp = await FakeControlPlane.connect(broker.url, DEVICE);
    agent = spawnAgent({
      deviceId: DEVICE,
      brokerUrl: broker.url,
      dataDir: join(dir.path, 'data'),
      trustedKeyPem: cp.keys.publicKeyPem,
      extra: {
        controlPlaneUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        controlPlaneToken: TOKEN,
        httpDownloadMinBytes: 10_000,
        fetchStallTimeoutMs: 10_000,
      },
    });
    await waitUntil(() => cp.hellos.length > 0, 30_000, 'hello');
  });
  after(async () => {
    await agent.stop();
    await cp.close();
    await broker.stop();
    await new Promise<void>((r) => server.close(() => r()));
    dir.cleanup();
  });

  const allBut = (bytes: Buffer, keep: number[]) =>
    Array.from({ length: Math.ceil(bytes.length / CHUNK) }, (_, i) => i).filter(
      (i) => !keep.includes(i),
    );

  it('deploys from the HTTP body alone when the broker carries only the manifest', async () => {
    const bytes = mlpModel({ seed: 41, hidden: 128 });
    bodies.set('v-http', bytes);
    const sha = await cp.publishArtifact(bytes, { chunkSize: CHUNK, skip: allBut(bytes, []) });
    const id = await cp.send({ type: 'deploy', artifact: { sha256: sha, variantId: 'v-http' } });
    const final = await cp.final(id, 30_000);
    assert.equal(final.type, 'deployed', JSON.stringify(final) + agent.output());
    assert.equal(final.type === 'deployed' && final.fetchedChunks, Math.ceil(bytes.length / CHUNK));
    assert.deepEqual(requests.at(-1), { path: '/api/v1/variants/v-http/artifact', status: 200 });
  });

  it('fetches over MQTT the chunks a corrupt HTTP body got wrong', async () => {
    const bytes = mlpModel({ seed: 42, hidden: 128 });
    const corrupt = Buffer.from(bytes);
    corrupt[2 * CHUNK + 7]! ^= 0xff;
    bodies.set('v-corrupt', corrupt);
    const sha = await cp.publishArtifact(bytes, { chunkSize: CHUNK, skip: allBut(bytes, [2]) });
    const id = await cp.send({
      type: 'deploy',
      artifact: { sha256: sha, variantId: 'v-corrupt' },
    });
    const final = await cp.final(id, 30_000);
    assert.equal(final.type, 'deployed', JSON.stringify(final) + agent.output());
  });

  it('falls back to MQTT entirely when the control plane refuses the download', async () => {
    const bytes = mlpModel({ seed: 43, hidden: 128 });
    const sha = await cp.publishArtifact(bytes, { chunkSize: CHUNK });
    const before = requests.length;
    const id = await cp.send({ type: 'deploy', artifact: { sha256: sha, variantId: 'v-unknown' } });
    const final = await cp.final(id, 30_000);
    assert.equal(final.type, 'deployed', JSON.stringify(final));
    assert.deepEqual(requests.slice(before), [
      { path: '/api/v1/variants/v-unknown/artifact', status: 404 },
    ]);
  });

  it('does not use HTTP below httpDownloadMinBytes', async () => {
    const bytes = mlpModel({ seed: 44 });
    assert.ok(bytes.length < 10_000);
    bodies.set('v-small', bytes);
    const sha = await cp.publishArtifact(bytes, { chunkSize: CHUNK });
    const before = requests.length;
    const id = await cp.send({ type: 'deploy', artifact: { sha256: sha, variantId: 'v-small' } });
    assert.equal((await cp.final(id, 30_000)).type, 'deployed');
    assert.equal(requests.length, before);
  });
});

describe('HTTP artifact source against the real control plane route', () => {
  it('downloads a variant byte for byte with a bearer token, and is refused without one', async () => {
    const fx = await startFixture();
    try {
      const bytes = mlpModel({ seed: 45, hidden: 64 });
      const up = await fx
        .api()
        .post('/api/v1/models?name=mlp')
        .set(fx.auth)
        .set('Content-Type', 'application/octet-stream')
        .send(bytes);
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const variantId = up.body.variants[0].id as string;
      const source = httpArtifactSource({
        controlPlaneUrl: fx.cp.httpUrl,
        controlPlaneToken: fx.token,
        httpDownloadMinBytes: 1,
      })!;
      const pieces: Buffer[] = [];
      for await (const p of await source.open(variantId, new AbortController().signal))
        pieces.push(Buffer.from(p));
      assert.ok(Buffer.concat(pieces).equals(bytes));
      const anonymous = httpArtifactSource({
        controlPlaneUrl: fx.cp.httpUrl,
        httpDownloadMinBytes: 1,
      })!;
      await assert.rejects(anonymous.open(variantId, new AbortController().signal), /answered 401/);
    } finally {
      await fx.close();
      fx.dir.cleanup();
    }
  });
});

describe('a device downloads artifacts with its own credentials (real control plane, real agent)', () => {
  const dir = tempDir('ec-agent-http-own-');
  let fx: ControlPlaneFixture;
  let agent: AgentProcess | undefined;
  let admin: mqtt.MqttClient | undefined;
  const events: EventMessage[] = [];
  const DEVICE_ID = 'dev-http-own';
  let password = '';

  before(async () => {
    fx = await startFixture();
    password = (await fx.provision(DEVICE_ID)).password;
  });
  after(async () => {
    await agent?.stop();
    await admin?.endAsync(true);
    await fx.close();
    fx.dir.cleanup();
    dir.cleanup();
  });

  const upload = async (seed: number) => {
    const bytes = mlpModel({ seed, hidden: 128 });
    const up = await fx
      .api()
      .post(`/api/v1/models?name=own-${seed}`)
      .set(fx.auth)
      .set('Content-Type', 'application/octet-stream')
      .send(bytes);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const variant = up.body.variants[0] as { id: string; artifactSha256: string };
    return { bytes, variantId: variant.id, sha: variant.artifactSha256 };
  };
  const deviceSource = (pass: string) =>
    httpArtifactSource({
      controlPlaneUrl: fx.cp.httpUrl,
      httpDownloadMinBytes: 1,
      deviceId: DEVICE_ID,
      password: pass,
    })!;
  const download = async (source: ReturnType<typeof deviceSource>, variantId: string) => {
    const pieces: Buffer[] = [];
    for await (const p of await source.open(variantId, new AbortController().signal))
      pieces.push(Buffer.from(p));
    return Buffer.concat(pieces);
  };

  it('deploys a published artifact whose chunks are gone from the broker: the body came over HTTP with the device secret', async () => {
    const { bytes, variantId, sha } = await upload(51);
    const published = await fx.api().post(`/api/v1/variants/${variantId}/publish`).set(fx.auth);
    assert.equal(published.status, 201, JSON.stringify(published.body));
    const chunkCount = published.body.chunkCount as number;

    // The control plane's own MQTT identity: clear the retained chunks (the signed manifest
    // stays), send the command and watch the device's events.
    admin = await mqtt.connectAsync(fx.cp.mqttUrl, {
      clientId: `ec-control-plane-test-${process.pid}`,
      username: 'ec-control-plane',
      password: readFileSync(
        join(fx.dir.path, 'secrets', 'mqtt-control-plane.secret'),
        'utf8',
      ).trim(),
      reconnectPeriod: 0,
    });
    for (let i = 0; i < chunkCount; i++)
      await admin.publishAsync(topics.artifactChunk(sha, i), Buffer.alloc(0), {
        qos: 1,
        retain: true,
      });
    admin.on('message', (topic, payload) => {
      const decoded = decodeMessage(topic, payload);
      if (decoded.ok && decoded.value.kind === 'events') events.push(decoded.value.message);
    });
    await admin.subscribeAsync(`ec/v1/devices/${DEVICE_ID}/events`, { qos: 1 });

    const signingKey = await fx.api().get('/api/v1/signing-key').set(fx.auth);
    agent = spawnAgent({
      deviceId: DEVICE_ID,
      brokerUrl: fx.cp.mqttUrl,
      dataDir: join(dir.path, 'data'),
      trustedKeyPem: signingKey.body.publicKeyPem as string,
      extra: {
        password,
        controlPlaneUrl: fx.cp.httpUrl,
        httpDownloadMinBytes: 1,
        fetchStallTimeoutMs: 5_000,
      },
    });
    await waitUntil(
      async () =>
        (await fx.api().get(`/api/v1/devices/${DEVICE_ID}`).set(fx.auth)).body.status === 'online',
      30_000,
      'agent online',
    );
    const id = 'cmd-own-credentials-1';
    await admin.publishAsync(
      topics.deviceCmd(DEVICE_ID),
      JSON.stringify({
        protocol: PROTOCOL_VERSION,
        kind: 'cmd',
        id,
        issuedAt: Date.now(),
        deadline: Date.now() + 600_000,
        type: 'deploy',
        artifact: { sha256: sha, variantId },
      }),
      { qos: 1 },
    );
    await waitUntil(
      () => events.some((e) => e.commandId === id && e.type !== 'ack' && e.type !== 'progress'),
      30_000,
      'final event of the deploy',
    );
    const final = events.find(
      (e) => e.commandId === id && e.type !== 'ack' && e.type !== 'progress',
    )!;
    assert.equal(final.type, 'deployed', JSON.stringify(final) + agent.output());
    assert.equal(final.type === 'deployed' && final.fetchedChunks, chunkCount);
    assert.ok(
      readFileSync(join(dir.path, 'data', 'models', `${sha}.onnx`)).equals(bytes),
      'the stored model is the uploaded file',
    );
  });

  it('refuses a device an unpublished artifact (403), a wrong secret and a revoked device (401)', async () => {
    const unpublished = await upload(52);
    await assert.rejects(download(deviceSource(password), unpublished.variantId), /answered 403/);
    const res = await fx
      .api()
      .get(`/api/v1/variants/${unpublished.variantId}/artifact`)
      .auth(DEVICE_ID, password);
    assert.equal(res.status, 403);
    assert.match(res.body.message, /devices may download published artifacts only/);
    // The operator's token still reads it.
    const asOperator = await downloadArtifact(fx, unpublished.variantId);
    assert.equal(asOperator.status, 200);
    assert.ok((asOperator.body as Buffer).equals(unpublished.bytes));

    const published = await upload(53);
    await fx.api().post(`/api/v1/variants/${published.variantId}/publish`).set(fx.auth);
    assert.ok(
      (await download(deviceSource(password), published.variantId)).equals(published.bytes),
    );
    await assert.rejects(
      download(deviceSource(`${password}x`), published.variantId),
      /answered 401/,
    );
    const unknownDevice = httpArtifactSource({
      controlPlaneUrl: fx.cp.httpUrl,
      httpDownloadMinBytes: 1,
      deviceId: 'no-such-device',
      password,
    })!;
    await assert.rejects(download(unknownDevice, published.variantId), /answered 401/);

    // Device credentials open the artifact route only.
    const models = await fx.api().get('/api/v1/models').auth(DEVICE_ID, password);
    assert.equal(models.status, 401);
    assert.match(models.body.message, /needs an API bearer token/);
    const malformed = await fx
      .api()
      .get(`/api/v1/variants/${published.variantId}/artifact`)
      .set('Authorization', 'Basic %%%');
    assert.equal(malformed.status, 401);

    const revoked = await fx.api().delete(`/api/v1/devices/${DEVICE_ID}/credentials`).set(fx.auth);
    assert.equal(revoked.status, 200);
    await assert.rejects(download(deviceSource(password), published.variantId), /answered 401/);
  });
});
