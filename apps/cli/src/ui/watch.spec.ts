import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from './api-client';
import { watchResource } from './watch';

/** A stand-in REST server on loopback: GET /thing returns the current state, /thing/events streams. */
async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('watchResource', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) {
      s.closeAllConnections();
      s.close();
    }
  });

  it('re-reads on every server-sent event, long before the poll interval', async () => {
    let state = 'running';
    let gets = 0;
    let stream: ServerResponse | undefined;
    const { server, url } = await serve((req, res) => {
      if (req.url === '/thing/events') {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write(': hello\n\n');
        stream = res;
        return;
      }
      gets++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ state }));
    });
    servers.push(server);
    const seen: string[] = [];
    const started = Date.now();
    const watching = watchResource<{ state: string }>({
      client: new ApiClient(url, 't'),
      path: '/thing',
      eventsPath: '/thing/events',
      isDone: (v) => v.state === 'done',
      onView: (v) => seen.push(v.state),
      pollMs: 60_000,
      minRefreshMs: 10,
    });
    while (!stream) await new Promise((r) => setTimeout(r, 10));
    state = 'done';
    stream.write('event: state\ndata: {"state":"done"}\n\n');
    const final = await watching;
    assert.equal(final.state, 'done');
    assert.deepEqual(seen, ['running', 'done']);
    assert.equal(gets, 2);
    assert.ok(Date.now() - started < 5000, 'the event, not the 60 s poll, ended the watch');
  });

  it('polls alone when the server has no event stream (404)', async () => {
    let gets = 0;
    const { server, url } = await serve((req, res) => {
      if (req.url === '/thing/events') {
        res.writeHead(404).end('{"message":"no such route"}');
        return;
      }
      gets++;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ state: gets >= 3 ? 'done' : 'running' }));
    });
    servers.push(server);
    const final = await watchResource<{ state: string }>({
      client: new ApiClient(url, 't'),
      path: '/thing',
      eventsPath: '/thing/events',
      isDone: (v) => v.state === 'done',
      onView: () => undefined,
      pollMs: 20,
      minRefreshMs: 0,
    });
    assert.equal(final.state, 'done');
    assert.equal(gets, 3);
  });

  it('waits out a control plane that stops answering, then gives up after the grace period', async () => {
    const { server, url } = await serve((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"state":"running"}');
    });
    const client = new ApiClient(url, 't');
    const told: string[] = [];
    let views = 0;
    const watching = watchResource<{ state: string }>({
      client,
      path: '/thing',
      isDone: () => false,
      onView: () => {
        views++;
        if (views === 2) {
          server.closeAllConnections();
          server.close();
        }
      },
      onConnection: (s) => told.push(s),
      pollMs: 20,
      minRefreshMs: 0,
      unreachableGraceMs: 300,
    });
    await assert.rejects(
      watching,
      /cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
    assert.equal(views, 2);
    assert.deepEqual(told, ['lost']);
  });

  it('an error answer (4xx) ends the watch at once with the server message', async () => {
    const { server, url } = await serve((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"message":"job \\"job_x\\" not found"}');
    });
    servers.push(server);
    await assert.rejects(
      watchResource({
        client: new ApiClient(url, 't'),
        path: '/thing',
        isDone: () => false,
        onView: () => undefined,
        pollMs: 20,
      }),
      /GET \/thing: 404 job "job_x" not found/,
    );
  });
});
