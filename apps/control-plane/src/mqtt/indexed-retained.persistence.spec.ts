import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { indexedRetainedPersistence, RetainedTopicIndex } from './indexed-retained.persistence';

const packet = (topic: string, payload: string) => ({ topic, payload: Buffer.from(payload) });

describe('RetainedTopicIndex', () => {
  it('answers exact topics and trailing-+ filters from the index, other filters not at all', () => {
    const index = new RetainedTopicIndex();
    index.store(packet('a/b/c', '1'));
    index.store(packet('a/b/d', '2'));
    index.store(packet('a/b/d/e', '3'));
    index.store(packet('a/x', '4'));
    const topics = (filter: string) =>
      index
        .match(filter)
        ?.map((p) => p.topic)
        .sort();
    assert.deepEqual(topics('a/b/c'), ['a/b/c']);
    assert.deepEqual(topics('a/b/zz'), []);
    assert.deepEqual(topics('a/b/+'), ['a/b/c', 'a/b/d']);
    assert.deepEqual(topics('q/+'), []);
    assert.equal(index.match('a/#'), undefined);
    assert.equal(index.match('a/+/c'), undefined);
    assert.equal(index.match('+'), undefined);
    // An empty payload clears the retained message.
    index.store(packet('a/b/c', ''));
    assert.deepEqual(topics('a/b/+'), ['a/b/d']);
    assert.deepEqual(topics('a/b/c'), []);
    assert.equal(index.size, 3);
  });
});

/** A subscriber gets the same retained messages from the indexed persistence as from aedes'. */
describe('indexedRetainedPersistence in aedes', () => {
  let broker: Aedes;
  let server: Server;
  let url: string;

  before(async () => {
    broker = await Aedes.createBroker({ persistence: indexedRetainedPersistence() });
    server = createServer(broker.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const publisher = await mqtt.connectAsync(url, { clientId: 'publisher' });
    for (let i = 0; i < 50; i++) {
      await publisher.publishAsync(`ec/v1/devices/d${i}/state`, `state ${i}`, {
        qos: 1,
        retain: true,
      });
    }
    for (let i = 0; i < 3; i++) {
      await publisher.publishAsync(`ec/v1/artifacts/abc/chunk/${i}`, `chunk ${i}`, {
        qos: 1,
        retain: true,
      });
    }
    await publisher.publishAsync('ec/v1/artifacts/abc/manifest', 'manifest', {
      qos: 1,
      retain: true,
    });
    // Cleared again: must not be delivered.
    await publisher.publishAsync('ec/v1/devices/d7/state', '', { qos: 1, retain: true });
    await publisher.endAsync();
  });

  after(async () => {
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => server.close(() => r()));
  });

  const retainedFor = async (filters: string[], expected: number) => {
    const client = await mqtt.connectAsync(url, { clientId: `sub-${filters.join(',')}` });
    const got: string[] = [];
    client.on('message', (topic, payload, p) => {
      if (p.retain) got.push(`${topic}=${payload.toString()}`);
    });
    await client.subscribeAsync(filters, { qos: 1 });
    const deadline = Date.now() + 5_000;
    while (got.length < expected && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100)); // nothing more arrives
    await client.endAsync();
    return got.sort();
  };

  it('an exact topic: its retained message only', async () => {
    assert.deepEqual(await retainedFor(['ec/v1/artifacts/abc/manifest'], 1), [
      'ec/v1/artifacts/abc/manifest=manifest',
    ]);
    assert.deepEqual(await retainedFor(['ec/v1/devices/d7/state'], 0), []);
  });

  it("an artifact's chunk/+: every chunk", async () => {
    assert.deepEqual(await retainedFor(['ec/v1/artifacts/abc/chunk/+'], 3), [
      'ec/v1/artifacts/abc/chunk/0=chunk 0',
      'ec/v1/artifacts/abc/chunk/1=chunk 1',
      'ec/v1/artifacts/abc/chunk/2=chunk 2',
    ]);
  });

  it('other wildcards still scan: + in the middle and #', async () => {
    const states = await retainedFor(['ec/v1/devices/+/state'], 49);
    assert.equal(states.length, 49);
    assert.ok(!states.some((s) => s.startsWith('ec/v1/devices/d7/')));
    assert.equal((await retainedFor(['ec/v1/artifacts/#'], 4)).length, 4);
  });
});
