import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sqakdStageProgress } from './sqakd-progress';

describe('sqakdStageProgress', () => {
  it('counts steps from 1 to the step count and never past it (no "step 5/4")', () => {
    const events = [0, 1, 2, 3].map((step) => ({
      epoch: 0,
      epochs: 1,
      step,
      stepsPerEpoch: 4,
      loss: 1,
    }));
    const messages = events.map((e) => sqakdStageProgress(e, 1).message);
    assert.deepEqual(messages, [
      'epoch 1/1 step 1/4, loss 1.000',
      'epoch 1/1 step 2/4, loss 1.000',
      'epoch 1/1 step 3/4, loss 1.000',
      'epoch 1/1 step 4/4, loss 1.000',
    ]);
    assert.deepEqual(
      events.map((e) => sqakdStageProgress(e, 1).within),
      [0.25, 0.5, 0.75, 1],
    );
  });

  it("reports the epoch's closing event as the epoch done, within the stage", () => {
    const end = { epoch: 0, epochs: 2, step: 4, stepsPerEpoch: 4, loss: 0.5, accuracy: 0.875 };
    const { within, message } = sqakdStageProgress(end, 2);
    assert.equal(message, 'epoch 1/2 done, mean loss 0.500, accuracy 87.5%');
    assert.equal(within, 0.5);
    const last = sqakdStageProgress({ ...end, epoch: 1 }, 2);
    assert.equal(last.within, 1);
    assert.doesNotMatch(last.message, /step 5/);
  });
});
