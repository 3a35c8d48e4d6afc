import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { buildSmallCnn, exportOnnx } from '@edgecompress/engine';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { createApiToken, loadConfig, startControlPlane, type RunningControlPlane } from '../main';

/**
 * The artifact route with a device's own credentials, on a real control plane (HTTP, SQLite,
 * embedded broker): once a device's secret has been verified it is remembered, and revoking or
 * rotating the credentials ends that at once.
 */
describe('artifact route, device credentials after revocation and rotation', () => {
  let dir: TempDir;
  let cp: RunningControlPlane;
  let auth: { Authorization: string };
  let variantId: string;
  let bytes: Buffer;

  const provision = async (id: string) => {
    const res = await request(cp.httpUrl).post('/api/v1/devices').set(auth).send({ id, name: id });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return (res.body as { mqtt: { password: string } }).mqtt.password;
  };
  const download = (deviceId: string, password: string) =>
    request(cp.httpUrl)
      .get(`/api/v1/variants/${variantId}/artifact`)
      .auth(deviceId, password)
      .buffer(true)
      .parse((res, cb) => {
        const parts: Buffer[] = [];
        res.on('data', (d: Buffer) => parts.push(d));
        res.on('end', () => cb(null, Buffer.concat(parts)));
      });

  before(async () => {
    dir = makeTempDir('edgec-device-auth-');
    const { token } = createApiToken(dir.path, 'test-admin');
    auth = { Authorization: `Bearer ${token}` };
    cp = await startControlPlane(
      loadConfig({
        EC_DATA_DIR: dir.path,
        EC_HTTP_PORT: '0',
        EC_MQTT_PORT: '0',
        EC_LOG_LEVEL: 'silent',
        EC_PROFILES_DIR: join(__dirname, '..', '..', '..', '..', 'device-profiles'),
      }),
    );
    bytes = Buffer.from(
      exportOnnx(buildSmallCnn({ inputShape: [8, 8, 1], numClasses: 2, widths: [2, 2, 2] })),
    );
    const up = await request(cp.httpUrl)
      .post('/api/v1/models?name=auth-spec&format=onnx')
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(bytes);
    assert.equal(up.status, 201, JSON.stringify(up.body));
    variantId = (up.body as { variants: { id: string }[] }).variants[0]!.id;
    const published = await request(cp.httpUrl)
      .post(`/api/v1/variants/${variantId}/publish`)
      .set(auth);
    assert.equal(published.status, 201, JSON.stringify(published.body));
  });

  after(async () => {
    await cp?.close();
    dir?.cleanup();
  });

  it('a revoked device is refused right after downloads that succeeded', async () => {
    const password = await provision('auth-revoked');
    for (let i = 0; i < 3; i++) {
      const ok = await download('auth-revoked', password);
      assert.equal(ok.status, 200);
      assert.ok((ok.body as Buffer).equals(bytes));
    }
    const revoked = await request(cp.httpUrl)
      .delete('/api/v1/devices/auth-revoked/credentials')
      .set(auth);
    assert.equal(revoked.status, 200);
    const refused = await download('auth-revoked', password);
    assert.equal(refused.status, 401);
    assert.match(String((refused.body as Buffer).toString('utf8')), /revoked device credentials/);
  });

  it('a rotated device is refused with its old secret and served with the new one', async () => {
    const old = await provision('auth-rotated');
    assert.equal((await download('auth-rotated', old)).status, 200);
    const rotated = await request(cp.httpUrl)
      .post('/api/v1/devices/auth-rotated/credentials')
      .set(auth);
    assert.ok([200, 201].includes(rotated.status), JSON.stringify(rotated.body));
    const fresh = (rotated.body as { mqtt: { password: string } }).mqtt.password;
    assert.notEqual(fresh, old);
    assert.equal((await download('auth-rotated', old)).status, 401);
    const ok = await download('auth-rotated', fresh);
    assert.equal(ok.status, 200);
    assert.ok((ok.body as Buffer).equals(bytes));
  });

  it('answers a conditional GET with the artifact hash as its ETag with 304 and no body', async () => {
    const password = await provision('auth-etag');
    const first = await download('auth-etag', password);
    assert.equal(first.status, 200);
    const etag = first.headers.etag as string;
    assert.match(etag, /^"[0-9a-f]{64}"$/);
    const again = await download('auth-etag', password).set('If-None-Match', etag);
    assert.equal(again.status, 304);
    assert.equal((again.body as Buffer).byteLength, 0);
    const other = await download('auth-etag', password).set('If-None-Match', '"something-else"');
    assert.equal(other.status, 200);
    assert.ok((other.body as Buffer).equals(bytes));
    // Credentials come first: a wrong secret with the right tag is still refused.
    const wrong = await download('auth-etag', `${password}x`).set('If-None-Match', etag);
    assert.equal(wrong.status, 401);
  });

  it('a deleted device is refused; another device is not affected', async () => {
    const kept = await provision('auth-kept');
    const gone = await provision('auth-gone');
    assert.equal((await download('auth-kept', kept)).status, 200);
    assert.equal((await download('auth-gone', gone)).status, 200);
    const deleted = await request(cp.httpUrl).delete('/api/v1/devices/auth-gone').set(auth);
    assert.ok([200, 204].includes(deleted.status), String(deleted.status));
    assert.equal((await download('auth-gone', gone)).status, 401);
    assert.equal((await download('auth-kept', kept)).status, 200);
  });
});
