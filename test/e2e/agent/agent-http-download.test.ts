/**
 * HTTP download of large artifacts: a real agent process, a real broker carrying the signed
 * manifest, and an HTTP server answering the control plane's artifact route. The body is checked
 * chunk by chunk against the manifest; a corrupt body or a refused request falls back to the MQTT
 * chunks. The route itself is exercised against the real control plane.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { httpArtifactSource } from '../../../apps/agent/src/jobs/artifact-fetcher-http';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { startFixture } from '../control-plane/control-plane.fixture';
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
