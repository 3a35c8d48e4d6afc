import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpArtifactSource } from './artifact-fetcher-http';

const body = randomBytes(300_000);

async function readAll(pieces: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const p of pieces) out.push(Buffer.from(p));
  return Buffer.concat(out);
}

describe('HTTP artifact source (node:http against a real loopback server)', () => {
  let server: Server;
  let base: string;
  const stalled: ServerResponse[] = [];
  const seen: { url: string; authorization?: string; connection?: string }[] = [];
  let connections = 0;
  before(async () => {
    server = createServer((req, res) => {
      seen.push({
        url: req.url ?? '',
        authorization: req.headers.authorization,
        connection: req.headers.connection,
      });
      const id = /\/variants\/([^/]+)\/artifact$/.exec(req.url ?? '')?.[1];
      if (id === 'whole') return res.writeHead(200, { 'content-length': body.length }).end(body);
      if (id === 'no-answer') return void stalled.push(res);
      if (id === 'half') {
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, 100_000));
        return void stalled.push(res);
      }
      res.writeHead(404).end('{}');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(async () => {
    for (const res of stalled) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const source = () =>
    httpArtifactSource({
      controlPlaneUrl: base,
      httpDownloadMinBytes: 1,
      deviceId: 'dev-1',
      password: 'pw',
    })!;

  it('streams the body with the device credentials; a non-200 answer is an error', async () => {
    const signal = new AbortController().signal;
    assert.deepEqual(await readAll(await source().open('whole', signal)), body);
    assert.deepEqual(seen.at(-1), {
      url: '/api/v1/variants/whole/artifact',
      authorization: `Basic ${Buffer.from('dev-1:pw').toString('base64')}`,
      connection: 'close',
    });
    const before = connections;
    await assert.rejects(source().open('gone', signal), /artifact answered 404/);
    assert.deepEqual(await readAll(await source().open('whole', signal)), body);
    assert.equal(connections - before, 2, 'no connection kept for a later download');
  });

  it('gives up on a request without an answer when aborted', async () => {
    const abort = new AbortController();
    const pending = source().open('no-answer', abort.signal);
    setTimeout(() => abort.abort(), 50);
    await assert.rejects(pending, /download aborted/);
    const already = new AbortController();
    already.abort();
    await assert.rejects(source().open('whole', already.signal), /abort/i);
  });

  it('ends a body cut off by an abort; an abort after the whole body changes nothing', async () => {
    const abort = new AbortController();
    const pieces = await source().open('half', abort.signal);
    let read = 0;
    await assert.rejects(async () => {
      for await (const p of pieces) {
        read += p.byteLength;
        if (read >= 100_000) abort.abort();
      }
    });
    assert.equal(read, 100_000, 'only what the server sent before stalling');
    // As the fetcher does: every byte is in, and it aborts before the loop has seen the end.
    const done = new AbortController();
    let whole = 0;
    try {
      for await (const p of await source().open('whole', done.signal)) {
        whole += p.byteLength;
        if (whole === body.length) done.abort();
      }
    } catch {
      // a premature close is fine here: the bytes were all read
    }
    assert.equal(whole, body.length);
    const late = new AbortController();
    assert.deepEqual(await readAll(await source().open('whole', late.signal)), body);
    late.abort(); // after the whole body: no error, no crash, the next download works
    await new Promise((r) => setTimeout(r, 50));
    const again = new AbortController().signal;
    assert.deepEqual(await readAll(await source().open('whole', again)), body);
  });
});
