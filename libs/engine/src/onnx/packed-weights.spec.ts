import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitChannelGrid, packCodes, unpackCodes } from './packed-weights';
import { symmetricChannelCodes } from './qdq-export';

describe('bit packing', () => {
  for (const bits of [1, 2, 3, 4, 5, 7, 8]) {
    it(`${bits}-bit codes round-trip through ceil(n * ${bits} / 8) bytes`, () => {
      const codes = Uint8Array.from({ length: 37 }, (_, i) => (i * 2654435761) % (1 << bits));
      const packed = packCodes(codes, bits);
      assert.equal(packed.length, Math.ceil((37 * bits) / 8));
      assert.deepEqual(unpackCodes(packed, bits, 37), codes);
    });
  }

  it('places code i at bits i*b.., least significant bit first', () => {
    assert.deepEqual([...packCodes([1, 2, 3, 0], 2)], [0b00111001]);
    assert.deepEqual([...packCodes([5, 3, 7], 3)], [0b11011101, 0b1]);
  });

  it('refuses a code stream shorter than its declared count', () => {
    assert.throws(() => unpackCodes(new Uint8Array(1), 3, 4), /hold 1 bytes, 4 codes of 3 bits/);
  });
});

describe('grid fitting', () => {
  it('recovers a half-offset 2-bit grid exactly, even when a channel misses a level', () => {
    const s = 0.37;
    // channel 0 uses all four levels, channel 1 only the top three
    const levels = (ks: number[]) => ks.map((k) => Math.fround(s * (k - 1.5)));
    const data = Float32Array.from([...levels([0, 1, 2, 3, 3, 0]), ...levels([1, 2, 3, 3, 2, 1])]);
    const grid = fitChannelGrid(data, 2, 2);
    assert.ok(grid.maxError < 1e-6, `max error ${grid.maxError}`);
    assert.deepEqual([...grid.codes.subarray(6)], [0, 1, 2, 2, 1, 0]);
  });

  it('falls back to min/max quantization for arbitrary values, within half a step', () => {
    const data = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i));
    const grid = fitChannelGrid(data, 1, 3);
    const step = (Math.max(...data) - Math.min(...data)) / 7;
    assert.ok(grid.maxError <= step / 2 + 1e-6);
  });

  it('symmetric int8 codes reproduce a symmetric 8-bit grid exactly', () => {
    const s = 0.01;
    const data = Float32Array.from([127, -127, 3, 0, -50, 64].map((k) => Math.fround(k * s)));
    const q = symmetricChannelCodes(data, 1, 8);
    assert.deepEqual([...q.codes], [127, -127, 3, 0, -50, 64]);
    assert.ok(q.maxError < 1e-7);
  });
});
