import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DurableFirstTransport } from './durable-first.transport';
import type { MqttTransport } from './mqtt-transport';

/** Records publishes; stands in for a broker, which this decorator never looks inside. */
function recordingBroker(published: string[]): MqttTransport {
  return {
    mode: 'embedded',
    endpoint: { url: 'mqtt://127.0.0.1:1' },
    setInboundHandler: () => {},
    start: async () => {},
    stop: async () => {},
    publish: async (topic) => void published.push(topic),
    isReady: () => true,
    disconnectDevice: () => {},
  };
}

describe('DurableFirstTransport (recording fake broker)', () => {
  it('publishes only once the barrier resolves, in call order', async () => {
    const published: string[] = [];
    let open!: () => void;
    const barrier = new Promise<void>((resolve) => (open = resolve));
    const transport = new DurableFirstTransport(recordingBroker(published), () => barrier);
    const sends = ['devices/a/cmd', 'devices/b/cmd'].map((t) =>
      transport.publish(t, Buffer.from('{}'), { qos: 1, retain: false }),
    );
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(published, [], 'nothing leaves before the commits are durable');
    open();
    await Promise.all(sends);
    assert.deepEqual(published, ['devices/a/cmd', 'devices/b/cmd']);
    assert.equal(transport.mode, 'embedded');
    assert.equal(transport.endpoint.url, 'mqtt://127.0.0.1:1');
  });

  it('refuses the publish, sending nothing, when durability cannot be had', async () => {
    const published: string[] = [];
    const transport = new DurableFirstTransport(recordingBroker(published), () =>
      Promise.reject(new Error('WAL fsync failed')),
    );
    await assert.rejects(
      transport.publish('devices/a/cmd', Buffer.from('{}'), { qos: 1, retain: false }),
      /WAL fsync failed/,
    );
    assert.deepEqual(published, []);
  });
});
