import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { loadJobsConfig } from './jobs.config';
import type { JobSpec } from './job.types';
import { deviceKey } from './jobs.service';

describe('job runner settings', () => {
  const cores = availableParallelism();

  it('runs one job per core by default and never more, whatever is asked', () => {
    assert.equal(loadJobsConfig({}).concurrency, cores);
    assert.equal(loadJobsConfig({ EC_JOB_CONCURRENCY: '' }).concurrency, cores);
    assert.equal(loadJobsConfig({ EC_JOB_CONCURRENCY: '1' }).concurrency, 1);
    assert.equal(loadJobsConfig({ EC_JOB_CONCURRENCY: String(cores + 5) }).concurrency, cores);
  });

  it('refuses a value that is not a whole number >= 1, naming the variable', () => {
    for (const bad of ['0', '-2', '1.5', 'many']) {
      assert.throws(() => loadJobsConfig({ EC_JOB_CONCURRENCY: bad }), /EC_JOB_CONCURRENCY/);
    }
  });
});

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
