import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  buildManifest,
  generateSigningKeyPair,
  signManifest,
  type ManifestMessage,
} from '@edgecompress/protocol';
import { downloadArtifact } from './http-artifact.download';

const CHUNK = 4096;
const data = randomBytes(3 * CHUNK + 100);
const manifest: ManifestMessage = signManifest(
  buildManifest(data, { contentType: 'application/onnx', createdAt: 1, chunkSize: CHUNK }),
  generateSigningKeyPair().privateKeyPem,
);

/** What the test server answers for each variant id: status and body. */
function flipped(bytes: Buffer, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = (copy[at] as number) ^ 0x01;
  return copy;
}

const bodies: Record<string, { status: number; body: Buffer }> = {
  good: { status: 200, body: data },
  flipped: { status: 200, body: flipped(data, 2 * CHUNK + 7) },
  short: { status: 200, body: data.subarray(0, 2 * CHUNK) },
  long: { status: 200, body: Buffer.concat([data, Buffer.from('x')]) },
  missing: { status: 404, body: Buffer.from('{}') },
};

describe('the simulated device HTTP download (real server on loopback)', () => {
  let server: Server;
  let base: string;
  const authorizations: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      authorizations.push(req.headers.authorization ?? '');
      const id = /\/variants\/([^/]+)\/artifact$/.exec(req.url ?? '')?.[1] ?? '';
      const answer = bodies[id] ?? { status: 404, body: Buffer.alloc(0) };
      res.writeHead(answer.status, { 'content-length': answer.body.length });
      // Written in pieces that cut across chunk boundaries, as a socket may deliver them.
      for (let at = 0; at < answer.body.length; at += 3000)
        res.write(answer.body.subarray(at, at + 3000));
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const request = (variantId: string, keep = false) => ({
    base,
    variantId,
    deviceId: 'dev-1',
    password: 's3cret',
    manifest,
    keep,
  });

  it('checks every chunk against the signed list and keeps the bytes only when asked', async () => {
    const fractions: number[] = [];
    const result = await downloadArtifact({
      ...request('good', true),
      onProgress: (f) => fractions.push(f),
    });
    assert.equal(result.bytes, data.length);
    assert.equal(result.chunks, 4);
    assert.deepEqual(result.kept, data);
    assert.deepEqual(fractions, [0.25, 0.5, 0.75, 1]);
    assert.equal((await downloadArtifact(request('good'))).kept, null);
    const basic = `Basic ${Buffer.from('dev-1:s3cret').toString('base64')}`;
    assert.equal(authorizations.at(-1), basic);
  });

  it('refuses one flipped byte, a short body, a long body and a non-200 answer', async () => {
    await assert.rejects(downloadArtifact(request('flipped')), /chunk 2: chunk 2 sha256 mismatch/);
    await assert.rejects(downloadArtifact(request('short')), /ended after 2 of 4 chunks/);
    await assert.rejects(downloadArtifact(request('long')), /longer than the manifest/);
    await assert.rejects(downloadArtifact(request('missing')), /answered 404/);
  });
});
