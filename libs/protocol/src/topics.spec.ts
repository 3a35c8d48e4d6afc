import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEVICE_CHANNELS,
  formatTopic,
  parseTopic,
  topicFilters,
  topics,
  TOPIC_DELIVERY,
  type ParsedTopic,
} from '@edgecompress/protocol';

const sha = 'ab'.repeat(32);

describe('topic builders and parseTopic', () => {
  it('round-trip every device channel, manifests and chunks', () => {
    const all: ParsedTopic[] = [
      ...DEVICE_CHANNELS.map((kind) => ({ kind, deviceId: 'jetson-orin_01.lab' })),
      { kind: 'manifest', sha256: sha },
      { kind: 'chunk', sha256: sha, index: 0 },
      { kind: 'chunk', sha256: sha, index: 8191 },
    ];
    for (const topic of all) {
      const text = formatTopic(topic);
      assert.deepEqual(parseTopic(text), { ok: true, topic });
    }
  });

  it('build the documented strings', () => {
    assert.equal(topics.deviceState('dev1'), 'ec/v1/devices/dev1/state');
    assert.equal(topics.deviceCmd('dev1'), 'ec/v1/devices/dev1/cmd');
    assert.equal(topics.artifactManifest(sha), `ec/v1/artifacts/${sha}/manifest`);
    assert.equal(topics.artifactChunk(sha, 3), `ec/v1/artifacts/${sha}/chunk/3`);
    assert.equal(topicFilters.allDevices('events'), 'ec/v1/devices/+/events');
    assert.equal(topicFilters.artifactChunks(sha), `ec/v1/artifacts/${sha}/chunk/+`);
  });

  it('builders throw on ids that would escape their topic level', () => {
    for (const bad of ['', 'a/b', 'a+', '#', 'has space', '-lead', 'x'.repeat(65)]) {
      assert.throws(() => topics.deviceState(bad), /invalid device id/);
    }
    assert.throws(() => topics.artifactManifest('AB'.repeat(32)), /invalid sha256/);
    assert.throws(() => topics.artifactChunk(sha, -1), /invalid chunk index/);
    assert.throws(() => topics.artifactChunk(sha, 1.5), /invalid chunk index/);
  });

  it('parseTopic rejects malformed topics without throwing', () => {
    const bad = [
      '',
      'ec/v1',
      'ec/v1/',
      'ec/v2/devices/dev1/state',
      '/ec/v1/devices/dev1/state',
      'ec/v1/devices/dev1/state/extra',
      'ec/v1/devices//state',
      'ec/v1/devices/+/state',
      'ec/v1/devices/#',
      'ec/v1/devices/dev 1/state',
      'ec/v1/devices/dev1/reboot',
      `ec/v1/artifacts/${sha.slice(1)}/manifest`,
      `ec/v1/artifacts/${sha.toUpperCase()}/manifest`,
      `ec/v1/artifacts/${sha}/chunk/`,
      `ec/v1/artifacts/${sha}/chunk/01`,
      `ec/v1/artifacts/${sha}/chunk/-1`,
      `ec/v1/artifacts/${sha}/chunk/1e3`,
      `ec/v1/artifacts/${sha}/chunk/99999999999`,
      `ec/v1/artifacts/${sha}/other`,
      'ec/v1/users/x/state',
    ];
    for (const topic of bad) {
      const result = parseTopic(topic);
      assert.equal(result.ok, false, topic);
    }
    assert.equal(parseTopic(undefined as unknown as string).ok, false);
  });

  it('state and artifacts are retained, telemetry is QoS 0', () => {
    assert.deepEqual(TOPIC_DELIVERY.state, { qos: 1, retain: true });
    assert.deepEqual(TOPIC_DELIVERY.manifest, { qos: 1, retain: true });
    assert.deepEqual(TOPIC_DELIVERY.chunk, { qos: 1, retain: true });
    assert.deepEqual(TOPIC_DELIVERY.telemetry, { qos: 0, retain: false });
    assert.equal(TOPIC_DELIVERY.cmd.retain, false);
  });
});
