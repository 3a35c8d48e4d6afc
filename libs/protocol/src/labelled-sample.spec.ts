import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeLabelledSample, encodeLabelledSample } from '@edgecompress/protocol';

describe('labelled sample format', () => {
  const sample = {
    shape: [2, 2, 1],
    count: 3,
    inputs: Float32Array.from({ length: 12 }, (_, i) => i / 4 - 1),
    labels: Int32Array.from([0, 9, 4]),
  };

  it('round-trips inputs, labels and shape exactly', () => {
    const bytes = encodeLabelledSample(sample);
    assert.equal(bytes.length, 12 + 12 + 48 + 12);
    const decoded = decodeLabelledSample(bytes);
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.sample, sample);
  });

  it('rejects bad magic, truncation, padding and absurd shapes', () => {
    const bytes = encodeLabelledSample(sample);
    assert.equal(decodeLabelledSample(Buffer.from('NOPE')).ok, false);
    assert.equal(decodeLabelledSample(bytes.subarray(0, bytes.length - 1)).ok, false);
    assert.equal(decodeLabelledSample(Buffer.concat([bytes, Buffer.alloc(4)])).ok, false);
    const huge = Buffer.from(bytes);
    huge.writeUInt32LE(0xffffffff, 12);
    assert.equal(decodeLabelledSample(huge).ok, false);
    const rank = Buffer.from(bytes);
    rank.writeUInt32LE(99, 8);
    assert.equal(decodeLabelledSample(rank).ok, false);
  });

  it('refuses to encode inconsistent input', () => {
    assert.throws(() => encodeLabelledSample({ ...sample, count: 4 }), /expected 4/);
    assert.throws(() => encodeLabelledSample({ ...sample, shape: [0] }), /invalid sample shape/);
  });
});
