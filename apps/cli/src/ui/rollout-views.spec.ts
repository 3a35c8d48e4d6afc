import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RolloutTarget, RolloutView } from './api-types';
import { renderTargets } from './rollout-views';

const target = (over: Partial<RolloutTarget>): RolloutTarget => ({
  deviceId: 'pi-1',
  wave: 0,
  step: 'done',
  p50Ms: 3.2,
  p99Ms: 4.1,
  previousP50Ms: 3,
  agreement: 1,
  error: null,
  ...over,
});

describe('renderTargets', () => {
  it('shows each device step, latency against its previous variant, and its retries', () => {
    const rollout = {
      waves: [
        { index: 0, label: 'canary', percent: 50, deviceIds: ['pi-1', 'pi-2'], state: 'running' },
      ],
      targets: [
        target({ retries: 1 }),
        target({
          deviceId: 'pi-2',
          step: 'pending',
          p50Ms: null,
          p99Ms: null,
          previousP50Ms: null,
          agreement: null,
          retries: 2,
          retryAt: '2026-11-29T06:40:05.000Z',
          error: 'deploy: BUSY: another deploy is running (retry 2 of 3)',
        }),
        // an older server sends no retry fields
        target({ deviceId: 'pi-3', step: 'failed', error: 'benchmark: TIMEOUT: over budget' }),
      ],
    } as unknown as RolloutView;
    const lines = renderTargets(rollout).trimEnd().split('\n');
    assert.match(
      lines[0]!,
      /^DEVICE +WAVE +STEP +P50 MS +P99 MS +PREV P50 +AGREEMENT +RETRIES +ERROR$/,
    );
    assert.match(lines[1]!, /^pi-1 +canary +done +3\.20 +4\.10 +3\.00 +100\.00% +1 +-$/);
    assert.match(
      lines[2]!,
      /^pi-2 +canary +pending .* 2, next 06:40:05 +deploy: BUSY: another deploy is running \(retry 2 of 3\)$/,
    );
    assert.match(lines[3]!, /^pi-3 +canary +failed .* 0 +benchmark: TIMEOUT: over budget$/);
  });
});
