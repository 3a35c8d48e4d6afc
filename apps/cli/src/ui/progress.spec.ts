import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type ProgressDisplay, type ProgressFields, showEpochStep } from './progress';

function recorder(): ProgressDisplay & { updates: [number, ProgressFields][]; lines: string[] } {
  const updates: [number, ProgressFields][] = [];
  const lines: string[] = [];
  return {
    updates,
    lines,
    update: (value, fields = {}) => updates.push([value, { ...fields }]),
    setTotal: () => undefined,
    log: (line) => lines.push(line),
    stop: () => undefined,
  };
}

describe('epoch progress', () => {
  it('counts steps across epochs and logs each evaluated epoch once', () => {
    const shown = recorder();
    const fields: ProgressFields = {};
    const step = { epochs: 3, stepsPerEpoch: 10, loss: 0.123456 };
    showEpochStep(shown, fields, { ...step, epoch: 0, step: 4 });
    showEpochStep(shown, fields, { ...step, epoch: 1, step: 9, accuracy: 0.91234 });
    // an evaluation step past the epoch's last training step does not overrun the bar
    showEpochStep(shown, fields, { ...step, epoch: 2, step: 10, accuracy: 0.9 });
    assert.deepEqual(
      shown.updates.map(([v]) => v),
      [5, 20, 30],
    );
    assert.deepEqual(shown.updates[0]![1], { epoch: '1/3', loss: '0.1235' });
    assert.deepEqual(shown.updates[1]![1], { epoch: '2/3', loss: '0.1235', acc: '91.23%' });
    assert.deepEqual(shown.lines, [
      'epoch 2: loss 0.1235, test acc 91.23%',
      'epoch 3: loss 0.1235, test acc 90.00%',
    ]);
  });
});
