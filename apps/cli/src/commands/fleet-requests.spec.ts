import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { jobRequestFromFlags, type CreateJobFlags } from './jobs.command';
import { rolloutRequestFromFlags, type CreateRolloutFlags } from './rollouts.command';
import { latencyReportPath } from './reports.command';

const jobFlags = (over: Partial<CreateJobFlags> = {}): CreateJobFlags => ({
  variant: 'v_1',
  dataset: 'mnist',
  pipeline: 'aap,sqakd',
  metric: 'latency',
  target: 4,
  maxDrop: 1,
  group: 'pi5',
  latencySource: 'measured',
  ...over,
});

describe('jobs create request', () => {
  it('builds the contract body from flags', () => {
    assert.deepEqual(
      jobRequestFromFlags(jobFlags({ k: 2, limitTrain: 500, fallback: 'predicted' })),
      {
        variantId: 'v_1',
        dataset: { name: 'mnist', limitTrain: 500 },
        pipeline: ['aap', 'sqakd'],
        objective: {
          metric: 'latency',
          target: 4,
          maxAccuracyDrop: 1,
          device: { group: 'pi5' },
          latencySource: 'measured',
          fallback: 'predicted',
          k: 2,
        },
      },
    );
  });

  it('rejects unknown methods, a latency objective without devices and bad option JSON', () => {
    assert.throws(
      () => jobRequestFromFlags(jobFlags({ pipeline: 'aap,prune' })),
      /unknown method "prune"/,
    );
    assert.throws(
      () => jobRequestFromFlags(jobFlags({ group: undefined })),
      /needs target devices/,
    );
    assert.throws(
      () => jobRequestFromFlags(jobFlags({ options: '{"aap":' })),
      /--options is not valid JSON/,
    );
    assert.throws(() => jobRequestFromFlags(jobFlags({ options: '[1]' })), /must be a JSON object/);
    assert.throws(() => jobRequestFromFlags(jobFlags({ variant: undefined })), /--variant/);
  });
});

const rolloutFlags = (over: Partial<CreateRolloutFlags> = {}): CreateRolloutFlags => ({
  variant: 'v_9',
  group: 'fleet',
  waves: [50, 100],
  soak: 1000,
  ...over,
});

describe('rollouts create request', () => {
  it('builds canary, waves, soak and abort rules', () => {
    assert.deepEqual(
      rolloutRequestFromFlags(
        rolloutFlags({ canary: 1, maxLatencyRegression: 1.5, minAgreement: 0.9 }),
      ),
      {
        variantId: 'v_9',
        selector: { group: 'fleet' },
        strategy: { canary: { devices: 1 }, waves: [50, 100], soakMs: 1000 },
        abortRules: { maxLatencyRegression: 1.5, minAgreement: 0.9 },
      },
    );
    assert.deepEqual(
      rolloutRequestFromFlags(rolloutFlags({ retries: 3, retryBackoff: 2000 })).strategy,
      { waves: [50, 100], soakMs: 1000, retries: 3, retryBackoffMs: 2000 },
    );
  });

  it('refuses an empty selector, waves not ending at 100 or not rising, and shares outside [0,1]', () => {
    assert.throws(
      () => rolloutRequestFromFlags(rolloutFlags({ group: undefined })),
      /target devices/,
    );
    assert.throws(
      () => rolloutRequestFromFlags(rolloutFlags({ waves: [10, 50] })),
      /ending at 100/,
    );
    assert.throws(
      () => rolloutRequestFromFlags(rolloutFlags({ waves: [50, 50, 100] })),
      /rise strictly/,
    );
    assert.throws(
      () => rolloutRequestFromFlags(rolloutFlags({ maxFailureRate: 2 })),
      /share in \[0, 1\]/,
    );
    assert.throws(
      () => rolloutRequestFromFlags(rolloutFlags({ canary: 1, canaryPercent: 10 })),
      /not both/,
    );
    assert.throws(() => rolloutRequestFromFlags(rolloutFlags({ retries: 11 })), /at most 10/);
  });
});

describe('reports latency path', () => {
  it('keeps only the given filters', () => {
    assert.equal(
      latencyReportPath({ variant: 'v 1', profile: undefined, group: 'pi5' }, 'csv'),
      '/api/v1/reports/latency?variant=v+1&group=pi5&format=csv',
    );
  });
});
