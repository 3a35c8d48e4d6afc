import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canDevicePublish, canDeviceSubscribe, renderMosquittoAcl } from './topic-acl';

describe('topic ACL', () => {
  it('lets a device publish only its own state, hello, events and telemetry', () => {
    for (const channel of ['state', 'hello', 'events', 'telemetry']) {
      assert.equal(canDevicePublish('dev-a', `ec/v1/devices/dev-a/${channel}`), true, channel);
      assert.equal(canDevicePublish('dev-a', `ec/v1/devices/dev-b/${channel}`), false, channel);
    }
    assert.equal(canDevicePublish('dev-a', 'ec/v1/devices/dev-a/cmd'), false);
    assert.equal(canDevicePublish('dev-a', 'ec/v1/artifacts/00/manifest'), false);
    assert.equal(canDevicePublish('dev-a', 'ec/v1/devices/dev-a/state/extra'), false);
  });

  it('lets a device subscribe only to its own cmd and the artifacts tree', () => {
    const allowed = [
      'ec/v1/devices/dev-a/cmd',
      'ec/v1/artifacts/#',
      'ec/v1/artifacts/+/manifest',
      `ec/v1/artifacts/${'a'.repeat(64)}/chunk/+`,
    ];
    const refused = [
      '#',
      '+/#',
      '$SYS/#',
      'ec/v1/#',
      'ec/v1/devices/#',
      'ec/v1/devices/+/cmd',
      'ec/v1/devices/dev-b/cmd',
      'ec/v1/devices/dev-a/events',
      'ec/v1/artifacts/#/x',
      'ec/v1/artifacts/a+b',
    ];
    for (const f of allowed) assert.equal(canDeviceSubscribe('dev-a', f), true, f);
    for (const f of refused) assert.equal(canDeviceSubscribe('dev-a', f), false, f);
  });

  it('renders the same rules as mosquitto patterns, with full rights for the control plane only', () => {
    const acl = renderMosquittoAcl('ec-control-plane');
    assert.match(acl, /^pattern write ec\/v1\/devices\/%u\/events$/m);
    assert.match(acl, /^pattern read ec\/v1\/devices\/%u\/cmd$/m);
    assert.match(acl, /^user ec-control-plane\ntopic readwrite ec\/v1\/#$/m);
    assert.doesNotMatch(acl, /pattern (read|readwrite) ec\/v1\/devices\/%u\/#/);
  });
});
