import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { closeMqtt, connectMqtt, MessageCollector } from '@edgecompress/testing';
import { ChunkAssembler, EXAMPLE_EVENTS, topics, verifyManifest } from '@edgecompress/protocol';
import {
  REPO_ROOT,
  downloadArtifact,
  startFixture,
  type ControlPlaneFixture,
} from './control-plane.fixture';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('models, variants and artifacts', () => {
  let fx: ControlPlaneFixture;
  const original = readFileSync(join(REPO_ROOT, 'test/fixtures/onnx/torch-resnet.onnx'));
  const folded = readFileSync(join(REPO_ROOT, 'test/fixtures/onnx/torch-resnet-folded.onnx'));
  let modelId: string;
  let rootVariant: { id: string; artifactSha256: string };
  let childVariant: { id: string; artifactSha256: string; bytes: number };

  before(async () => {
    fx = await startFixture({ EC_CHUNK_BYTES: '4096' });
  });
  after(async () => {
    await fx.close();
    fx.dir.cleanup();
  });
  const upload = (path: string, body: Buffer) =>
    fx.api().post(path).set(fx.auth).set('Content-Type', 'application/octet-stream').send(body);
  const artifactFile = (hash: string) =>
    join(fx.dir.path, 'artifacts', 'sha256', hash.slice(0, 2), hash);

  it('refuses a file that is not ONNX with a 400, keeping no model and no file', async () => {
    const junk = Buffer.from('definitely not a protobuf model, just text');
    const res = await upload('/api/v1/models?name=junk', junk);
    assert.equal(res.status, 400);
    assert.match(res.body.message, /ONNX/);
    const truncated = await upload('/api/v1/models?name=trunc', original.subarray(0, 2000));
    assert.equal(truncated.status, 400);
    assert.deepEqual((await fx.api().get('/api/v1/models').set(fx.auth)).body, []);
    assert.equal(existsSync(artifactFile(sha(junk))), false);
    const wrongType = await fx.api().post('/api/v1/models?name=x').set(fx.auth).send({ a: 1 });
    assert.equal(wrongType.status, 400);
  });

  it('stores an ONNX upload content-addressed, with its original variant', async () => {
    const res = await upload('/api/v1/models?name=resnet&description=fixture', original);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    modelId = res.body.id;
    rootVariant = res.body.variants[0];
    assert.equal(res.body.variants.length, 1);
    assert.equal(rootVariant.artifactSha256, sha(original));
    assert.deepEqual(readFileSync(artifactFile(sha(original))), original);
    const root = res.body.variants[0] as { params: number; flops: number };
    assert.ok(
      root.params > 100 && root.flops > root.params,
      `params ${root.params}, flops ${root.flops} counted by the engine`,
    );
  });

  it('adds a derived variant with its provenance, downloads it byte for byte, and compares', async () => {
    const res = await upload(
      `/api/v1/models/${modelId}/variants?name=folded&method=bn-fold&parentVariantId=${rootVariant.id}&accuracy=0.91&params=1000&options=${encodeURIComponent('{"fold":true}')}`,
      folded,
    );
    assert.equal(res.status, 201, JSON.stringify(res.body));
    childVariant = res.body;
    assert.equal(res.body.parentVariantId, rootVariant.id);
    assert.deepEqual(res.body.options, { fold: true });
    assert.equal(res.body.bytes, folded.length);
    const download = await downloadArtifact(fx, childVariant.id);
    assert.equal(download.status, 200);
    assert.deepEqual(download.body, folded);
    const badParent = await upload(
      `/api/v1/models/${modelId}/variants?name=x&method=y&parentVariantId=nope`,
      folded,
    );
    assert.equal(badParent.status, 400);
    const cmp = await fx
      .api()
      .get(`/api/v1/variants/compare?ids=${rootVariant.id},${childVariant.id}`)
      .set(fx.auth);
    assert.equal(cmp.status, 200);
    assert.equal(cmp.body.variants[1].ratios.bytes, folded.length / original.length);
  });

  it('publishes a signed manifest and chunks, retained, that an agent can verify and reassemble', async () => {
    const creds = await fx.provision('fetcher');
    const pub = await fx.api().post(`/api/v1/variants/${childVariant.id}/publish`).set(fx.auth);
    assert.equal(pub.status, 201);
    assert.equal(pub.body.chunkCount, Math.ceil(folded.length / 4096));
    const key = (await fx.api().get('/api/v1/signing-key').set(fx.auth)).body
      .publicKeyPem as string;
    const agent = await connectMqtt(fx.cp.mqttUrl, { clientId: 'fetcher', ...creds });
    const got = new MessageCollector(agent);
    await agent.subscribeAsync(`ec/v1/artifacts/${childVariant.artifactSha256}/#`, { qos: 1 });
    await got.waitFor((m) => m.length === pub.body.chunkCount + 1);
    const manifestMsg = got.messages.find(
      (m) => m.topic === topics.artifactManifest(childVariant.artifactSha256),
    )!;
    assert.ok(manifestMsg.retain);
    const verified = verifyManifest(JSON.parse(manifestMsg.payload.toString()), key);
    assert.ok(verified.ok, JSON.stringify(verified));
    const assembler = new ChunkAssembler(verified.manifest);
    for (const m of got.messages) {
      const index = /\/chunk\/(\d+)$/.exec(m.topic);
      if (index) assert.ok(assembler.accept(Number(index[1]), m.payload).ok);
    }
    const assembled = assembler.assemble();
    assert.ok(assembled.ok);
    assert.deepEqual(assembled.data, folded);
    await closeMqtt(agent);
  });

  it('garbage-collects an artifact once no variant refers to it, clearing its retained messages', async () => {
    const del = await fx.api().delete(`/api/v1/variants/${childVariant.id}`).set(fx.auth);
    assert.equal(del.status, 200);
    assert.deepEqual(del.body.deleted, [childVariant.artifactSha256]);
    assert.equal(existsSync(artifactFile(childVariant.artifactSha256)), false);
    assert.equal(
      existsSync(artifactFile(rootVariant.artifactSha256)),
      true,
      'the referenced original stays',
    );
    const creds = await fx.provision('late-fetcher');
    const agent = await connectMqtt(fx.cp.mqttUrl, { clientId: 'late-fetcher', ...creds });
    const got = new MessageCollector(agent);
    await agent.subscribeAsync(`ec/v1/artifacts/${childVariant.artifactSha256}/#`, { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      got.messages.filter((m) => m.payload.length > 0).length,
      0,
      'no retained manifest or chunk left',
    );
    await closeMqtt(agent);
    assert.equal(
      (await fx.api().get(`/api/v1/variants/${childVariant.id}`).set(fx.auth)).status,
      404,
    );
    assert.equal(
      (await fx.api().delete(`/api/v1/variants/${rootVariant.id}`).set(fx.auth)).status,
      409,
    );
  });

  it('sends a benchmark to a group and files each report as a measurement of the variant and profile', async () => {
    const creds = await fx.provision('bench-1', { groups: ['bench'], profileId: 'raspberry-pi-5' });
    const dev = await connectMqtt(fx.cp.mqttUrl, { clientId: 'bench-1', ...creds });
    const inbox = new MessageCollector(dev);
    await dev.subscribeAsync(topics.deviceCmd('bench-1'), { qos: 1 });
    const sent = await fx
      .api()
      .post('/api/v1/commands/benchmark')
      .set(fx.auth)
      .send({
        group: 'bench',
        variantId: rootVariant.id,
        input: { shape: [1, 3, 32, 32] },
        runs: 50,
      });
    assert.equal(sent.status, 201, JSON.stringify(sent.body));
    await inbox.waitFor((m) => m.length > 0);
    const cmd = JSON.parse(inbox.messages[0]!.payload.toString());
    assert.equal(cmd.type, 'benchmark');
    assert.deepEqual(cmd.artifact, {
      sha256: rootVariant.artifactSha256,
      variantId: rootVariant.id,
    });
    const report = {
      ...EXAMPLE_EVENTS['benchmark-report'],
      deviceId: 'bench-1',
      commandId: cmd.id,
      artifactSha256: rootVariant.artifactSha256,
    };
    await dev.publishAsync(topics.deviceEvents('bench-1'), JSON.stringify(report), { qos: 1 });
    const done = (await fx.api().get(`/api/v1/commands/${cmd.id}`).set(fx.auth)).body;
    assert.equal(done.status, 'succeeded');
    const byProfile = (
      await fx.api().get('/api/v1/measurements?profileId=raspberry-pi-5').set(fx.auth)
    ).body;
    assert.equal(byProfile.length, 1);
    assert.equal(byProfile[0].variantId, rootVariant.id);
    assert.equal(byProfile[0].latencyMs.p99, 4.2);
    const badShape = await fx
      .api()
      .post('/api/v1/commands/benchmark')
      .set(fx.auth)
      .send({ deviceId: 'bench-1', variantId: rootVariant.id, input: { shape: [0] } });
    assert.equal(badShape.status, 400);
    await closeMqtt(dev);
  });
});
