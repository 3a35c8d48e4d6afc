import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Dataset,
  deserializeModel,
  initEngineBackend,
  serializeModel,
  syntheticDataset,
} from '@edgecompress/engine';
import { parseObjective } from '../objective';
import { tinyResNet } from '../pruning/test-models.fixture';
import type { AapCheckpoint, AapEvent, AapOptions } from './aap-types';
import { runAap } from './aap-pruner';

const data: Dataset = syntheticDataset({
  inputShape: [8, 8, 3],
  numClasses: 3,
  trainCount: 400,
  testCount: 100,
  seed: 5,
});

const options = (extra: Partial<AapOptions> = {}): AapOptions => ({
  objective: parseObjective('accuracy', { maxAccuracyDrop: 2 }),
  fineTune: { steps: 2, batchSize: 32, lr: 0.01 },
  validationCount: 80,
  calibrationBatches: 1,
  calibrationBatchSize: 32,
  maxRounds: 5,
  ...extra,
});

/** What a job keeps on disk: JSON for the state, the engine's model file for each model. */
function roundTrip(cp: AapCheckpoint): AapCheckpoint {
  const { models, ...rest } = cp;
  const json = JSON.parse(JSON.stringify(rest)) as Omit<AapCheckpoint, 'models'>;
  const restored = new Map([...models].map(([r, m]) => [r, deserializeModel(serializeModel(m))]));
  return { ...json, models: restored };
}

const comparable = (records: { round: number; threshold: number; verdict: string }[]) =>
  records.map((r) => `${r.round}:${r.threshold.toPrecision(6)}:${r.verdict}`);

describe('AAP resume from a checkpoint', () => {
  before(async () => {
    await initEngineBackend();
  });

  it('continues after round 2 without redoing rounds 0-2 and ends where an uninterrupted run ends', async () => {
    const checkpoints: AapCheckpoint[] = [];
    const full = await runAap(
      tinyResNet(),
      data,
      options({ onCheckpoint: (cp) => void checkpoints.push(roundTrip(cp)) }),
    );
    assert.equal(checkpoints.length, full.trajectory.length, 'one checkpoint per round + baseline');
    assert.deepEqual(
      checkpoints[0]!.trajectory.map((r) => r.verdict),
      ['baseline'],
    );
    const afterRound2 = checkpoints[2]!;
    assert.equal(afterRound2.trajectory.length, 3);
    assert.ok(afterRound2.models.has(afterRound2.bestRound), 'the best model is kept');

    const started: number[] = [];
    const events: AapEvent['kind'][] = [];
    const resumed = await runAap(
      tinyResNet(),
      data,
      options({
        resumeFrom: afterRound2,
        onProgress: (e) => {
          events.push(e.kind);
          if (e.kind === 'round-start') started.push(e.round);
        },
      }),
    );
    assert.ok(!events.includes('baseline'), 'the baseline is not measured again');
    assert.ok(
      started.every((r) => r > 2),
      `rounds started after resume: ${started.join(',')}`,
    );
    assert.deepEqual(comparable(resumed.trajectory), comparable(full.trajectory));
    assert.equal(resumed.round, full.round);
    assert.equal(resumed.metrics.params, full.metrics.params);
  });

  it('a checkpoint taken after the search stopped resumes to the same result without training', async () => {
    let last: AapCheckpoint | undefined;
    const full = await runAap(
      tinyResNet(),
      data,
      options({ maxRounds: 2, onCheckpoint: (cp) => void (last = roundTrip(cp)) }),
    );
    assert.equal(last?.state.stopped, 'round-budget');
    const events: AapEvent['kind'][] = [];
    const again = await runAap(
      tinyResNet(),
      data,
      options({ maxRounds: 2, resumeFrom: last!, onProgress: (e) => events.push(e.kind) }),
    );
    assert.deepEqual(events, ['done']);
    assert.equal(again.round, full.round);
    assert.equal(again.trajectory.length, full.trajectory.length);
  });
});
