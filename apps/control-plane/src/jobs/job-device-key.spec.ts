import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobSpec } from './job.types';
import { deviceKey } from './jobs.service';

describe('deviceKey (how a job names its target devices)', () => {
  const spec = (device?: JobSpec['objective']['device']): JobSpec => ({
    variantId: 'v',
    dataset: { name: 'synthetic' },
    pipeline: ['aap'],
    objective: { metric: 'accuracy', maxAccuracyDrop: 1, latencySource: 'predicted', device },
  });

  it('prefers the profile, then group, tags and ids; none for an empty selector', () => {
    assert.equal(deviceKey(spec({ profileId: 'raspberry-pi-5', group: 'pi' })), 'raspberry-pi-5');
    assert.equal(deviceKey(spec({ group: 'pi', tags: ['lab'] })), 'group:pi');
    assert.equal(deviceKey(spec({ tags: ['lab', 'eu'] })), 'tags:lab+eu');
    assert.equal(deviceKey(spec({ deviceIds: ['a', 'b'] })), 'devices:a+b');
    assert.equal(deviceKey(spec({})), null);
    assert.equal(deviceKey(spec()), null);
  });
});
