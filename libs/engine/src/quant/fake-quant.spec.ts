import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureTfjsGradients } from '../backend';
import type { FakeQuantAttrs, QuantizerKind, WeightQuantAttrs } from '../graph/ir';
import { activationQuantRange, fakeQuantActivation } from './fake-quant-activation';
import { fakeQuantWeight } from './fake-quant-weight';
import { roundSte } from './round-ste';

const scalar = (v: number): tf.Tensor => tf.scalar(v);
const distinct = (t: tf.Tensor): number[] =>
  [...new Set(Array.from(t.dataSync()))].sort((a, b) => a - b);
const ramp = (n: number, lo: number, hi: number): tf.Tensor =>
  tf.tensor1d(Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1)));
const near = (a: number, b: number, tol: number, what: string): void =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

/** Asserts every value is s * (k - z) for integer k in [0, levels]. */
function assertOnGrid(values: number[], step: number, zero: number, levels: number): void {
  for (const v of values) {
    const k = v / step + zero;
    near(k, Math.round(k), 1e-3, `value ${v} on grid step ${step}`);
    assert.ok(Math.round(k) >= 0 && Math.round(k) <= levels, `code ${k} within [0, ${levels}]`);
  }
}

function weightParams(kind: QuantizerKind): Map<string, tf.Tensor> {
  if (kind === 'learned-interval')
    return new Map([
      ['lower', scalar(-1)],
      ['upper', scalar(1)],
      ['scale', scalar(0.5)],
    ]);
  if (kind === 'lsq') return new Map([['step', scalar(0.25)]]);
  return new Map();
}

describe('fake quantizers', () => {
  before(async () => {
    ensureTfjsGradients();
    await tf.setBackend('cpu');
  });

  describe('forward grids', () => {
    for (const bits of [2, 3, 4, 8]) {
      it(`learned-interval weights at ${bits} bits take exactly 2^b levels (symmetric from 4 bits)`, () => {
        const attrs: WeightQuantAttrs = { quantizer: 'learned-interval', bits, perChannel: false };
        const q = fakeQuantWeight(ramp(2000, -1.5, 1.5), attrs, weightParams('learned-interval'));
        const values = distinct(q);
        if (bits <= 3) {
          // 2 (q - 0.5) * |scale|: (2k - L + 1) / (L - 1) * 0.5, no zero level
          const levels = 2 ** bits - 1;
          assert.equal(values.length, levels + 1);
          values.forEach((v, k) => near(v, ((2 * k - levels) / levels) * 0.5, 1e-6, `level ${k}`));
        } else {
          const qmax = 2 ** (bits - 1) - 1;
          assert.equal(values.length, 2 * qmax + 1);
          values.forEach((v, k) => near(v, ((k - qmax) / qmax) * 0.5, 1e-6, `level ${k}`));
        }
      });

      it(`LSQ weights at ${bits} bits are integer multiples of the step within the code range`, () => {
        const attrs: WeightQuantAttrs = { quantizer: 'lsq', bits, perChannel: false };
        const q = fakeQuantWeight(ramp(4001, -40, 40), attrs, weightParams('lsq'));
        const values = distinct(q);
        const [qn, qp] =
          bits >= 4
            ? [-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1]
            : [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
        assert.equal(values.length, qp - qn + 1);
        near(values[0]!, qn * 0.25, 1e-6, 'lowest level');
        near(values[values.length - 1]!, qp * 0.25, 1e-6, 'highest level');
        assertOnGrid(values, 0.25, -qn, qp - qn);
      });

      it(`activations at ${bits} bits land on a 2^b-level grid holding zero, equal to the exported range`, () => {
        for (const quantizer of ['learned-interval', 'lsq', 'pact', 'dorefa'] as const) {
          const attrs: FakeQuantAttrs = { quantizer, bits, signed: false };
          const params = new Map<string, tf.Tensor>(
            quantizer === 'learned-interval'
              ? [
                  ['lower', scalar(-0.1)],
                  ['upper', scalar(3)],
                ]
              : quantizer === 'lsq'
                ? [['step', scalar(3 / (2 ** bits - 1))]]
                : quantizer === 'pact'
                  ? [['alpha', scalar(3)]]
                  : [],
          );
          const q = fakeQuantActivation(ramp(3001, -1, 5), attrs, params);
          const range = activationQuantRange(
            attrs,
            new Map([...params].map(([k, v]) => [k, { data: v.dataSync() }])),
          );
          const levels = 2 ** bits - 1;
          const step = (range.max - range.min) / levels;
          const zero = Math.round(-range.min / step);
          const values = distinct(q);
          assert.ok(values.includes(0), `${quantizer}: zero is a level`);
          assert.ok(values.length <= levels + 1 && values.length >= Math.min(levels + 1, 200));
          assertOnGrid(values, step, zero, levels);
          near(values[0]!, range.min, 1e-5, `${quantizer} lowest value is the range min`);
          near(
            values[values.length - 1]!,
            range.max,
            1e-4,
            `${quantizer} highest value is the range max`,
          );
        }
      });
    }

    it('per-channel weight parameters quantize each output channel on its own grid', () => {
      const kernel = tf.tensor2d([0.1, 1, 0.3, 3, -0.2, -2], [3, 2]);
      const attrs: WeightQuantAttrs = { quantizer: 'lsq', bits: 4, perChannel: true };
      const q = fakeQuantWeight(kernel, attrs, new Map([['step', tf.tensor1d([0.1, 1])]]));
      assert.deepEqual(
        Array.from(q.dataSync()).map((v) => Math.round(v * 1000) / 1000),
        [0.1, 1, 0.3, 3, -0.2, -2],
      );
      const dorefa = fakeQuantWeight(
        kernel,
        { quantizer: 'dorefa', bits: 4, perChannel: true },
        new Map(),
      );
      const d = dorefa.arraySync() as number[][];
      // every channel reaches its own top code (exported int4 grids are per channel)
      near(Math.max(...d.map((r) => Math.abs(r[0]!))), 0.3, 1e-6, 'channel 0 max');
      near(Math.max(...d.map((r) => Math.abs(r[1]!))), 3, 1e-6, 'channel 1 max');
    });

    it('refuses bit widths outside 2, 3, 4, 8 and missing parameters, naming the node', () => {
      for (const bits of [1, 5, 9]) {
        assert.throws(
          () =>
            fakeQuantWeight(
              tf.ones([2, 2]),
              { quantizer: 'dorefa', bits, perChannel: false },
              new Map(),
              'c1',
            ),
          new RegExp(`node "c1": weight bit width must be one of 2, 3, 4, 8, got ${bits}`),
        );
        assert.throws(
          () =>
            fakeQuantActivation(
              tf.ones([2, 2]),
              { quantizer: 'dorefa', bits, signed: false },
              new Map(),
            ),
          /activation bit width must be one of/,
        );
      }
      assert.throws(
        () =>
          fakeQuantWeight(
            tf.ones([2, 2]),
            { quantizer: 'lsq', bits: 4, perChannel: false },
            new Map(),
            'c2',
          ),
        /node "c2": weight quantizer parameter "wq.step" is missing/,
      );
    });
  });

  describe('gradients', () => {
    it('rounding is straight-through; EWGS scales it by 1 + delta * sign(g) * (x - round(x))', () => {
      const x = tf.tensor1d([0.2, 1.4, -0.3]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(roundSte(v), tf.tensor1d([1, -2, 3]))))(x);
      assert.deepEqual(Array.from(g.dataSync()), [1, -2, 3]);
      const ge = tf.grad((v: tf.Tensor) =>
        tf.sum(tf.mul(roundSte(v, tf.scalar(0.5)), tf.tensor1d([1, -2, 3]))),
      )(x);
      const expected = [1 * (1 + 0.5 * 0.2), -2 * (1 - 0.5 * 0.4), 3 * (1 + 0.5 * -0.3)];
      Array.from(ge.dataSync()).forEach((v, i) => near(v, expected[i]!, 1e-6, `ewgs grad ${i}`));
    });

    for (const quantizer of ['learned-interval', 'lsq', 'pact', 'dorefa'] as const) {
      it(`${quantizer} activations pass the gradient inside the range and block it outside`, () => {
        const attrs: FakeQuantAttrs = { quantizer, bits: 2, signed: false };
        const params = new Map<string, tf.Tensor>(
          quantizer === 'learned-interval'
            ? [
                ['lower', scalar(0)],
                ['upper', scalar(1)],
              ]
            : quantizer === 'lsq'
              ? [['step', scalar(1 / 3)]]
              : quantizer === 'pact'
                ? [['alpha', scalar(1)]]
                : [],
        );
        const x = tf.tensor1d([-0.5, 0.1, 0.45, 0.9, 1.7]);
        const g = tf.grad((v: tf.Tensor) => tf.sum(fakeQuantActivation(v, attrs, params)))(x);
        assert.deepEqual(Array.from(g.dataSync()), [0, 1, 1, 1, 0]);
      });
    }

    it('learned-interval weights: STE inside [l, u], zero outside', () => {
      const attrs: WeightQuantAttrs = { quantizer: 'learned-interval', bits: 2, perChannel: false };
      const w = tf.tensor1d([-2, -0.5, 0.3, 0.99, 1.5]);
      const g = tf.grad((v: tf.Tensor) =>
        tf.sum(fakeQuantWeight(v, attrs, weightParams('learned-interval'))),
      )(w);
      // d/dW of 2 * round((W - l) / (u - l) * 3) / 3 - 1, times |scale| 0.5: 2 / (u - l) * 0.5 = 0.5
      assert.deepEqual(Array.from(g.dataSync()), [0, 0.5, 0.5, 0.5, 0]);
    });

    /** Central finite difference of sum(f(p) * weights) against tf.grad; the probe avoids rounding ties. */
    function checkParamGradient(
      name: string,
      f: (p: tf.Tensor) => tf.Tensor,
      p0: number,
      expectedSign?: number,
    ): void {
      const probe = tf.randomUniform([257], 0.5, 1.5, 'float32', 7);
      const loss = (p: tf.Tensor): tf.Scalar => tf.sum(tf.mul(f(p), probe));
      const analytic = tf.grad(loss)(tf.scalar(p0)).dataSync()[0]!;
      // The STE gradient is the derivative of the quantizer with rounding replaced by identity:
      // compare with finite differences of that smooth surrogate, evaluated here through a
      // dense average over shifted inputs (rounding averages out).
      const h = 1e-3;
      const fd =
        (loss(tf.scalar(p0 + h)).dataSync()[0]! - loss(tf.scalar(p0 - h)).dataSync()[0]!) / (2 * h);
      if (expectedSign !== undefined)
        assert.equal(Math.sign(analytic), expectedSign, `${name} sign`);
      assert.ok(Number.isFinite(fd));
      near(
        analytic,
        fd,
        Math.max(0.35 * Math.abs(fd), 0.5),
        `${name}: analytic vs finite difference`,
      );
    }

    it('PACT alpha gets the true clipping gradient: the count of inputs above alpha', () => {
      const attrs: FakeQuantAttrs = { quantizer: 'pact', bits: 4, signed: false };
      const x = tf.tensor1d([0.2, 0.5, 1.2, 2.5, 3]);
      const g = tf.grad((a: tf.Tensor) =>
        tf.sum(fakeQuantActivation(x, attrs, new Map([['alpha', a]]))),
      )(tf.scalar(1));
      assert.equal(g.dataSync()[0], 3);
      // finite difference over the clipped inputs (they move with alpha one to one)
      const above = tf.tensor1d([1.2, 2.5, 3]);
      const at = (a: number): number =>
        tf
          .sum(fakeQuantActivation(above, attrs, new Map([['alpha', tf.scalar(a)]])))
          .dataSync()[0]!;
      near((at(1 + 1e-3) - at(1 - 1e-3)) / 2e-3, 3, 0.05, 'finite difference');
    });

    it('LSQ step gradient matches finite differences of the clipped range and the LSQ formula', () => {
      const attrs: FakeQuantAttrs = { quantizer: 'lsq', bits: 2, signed: false };
      // Every input above Qp * s: y = Qp * s exactly, so dy/ds = Qp per element (scaled by g).
      const x = tf.fill([1, 8], 10);
      const g = tf.grad((s: tf.Tensor) =>
        tf.sum(fakeQuantActivation(x, attrs, new Map([['step', s]]))),
      )(tf.scalar(0.5));
      const scale = 1 / Math.sqrt(8 * 3);
      near(g.dataSync()[0]!, 8 * 3 * scale, 1e-5, 'saturated LSQ gradient');
      const at = (s: number): number =>
        tf.sum(fakeQuantActivation(x, attrs, new Map([['step', tf.scalar(s)]]))).dataSync()[0]!;
      near(
        ((at(0.5 + 1e-3) - at(0.5 - 1e-3)) / 2e-3) * scale,
        g.dataSync()[0]!,
        1e-3,
        'finite difference',
      );
      // Inside the range the LSQ gradient is round(x/s) - x/s per element.
      const inside = tf.tensor2d([[0.3, 0.7]]);
      const gi = tf.grad((s: tf.Tensor) =>
        tf.sum(fakeQuantActivation(inside, attrs, new Map([['step', s]]))),
      )(tf.scalar(0.5));
      near(
        gi.dataSync()[0]!,
        (1 - 0.6 + (1 - 1.4)) / Math.sqrt(2 * 3),
        1e-5,
        'inside LSQ gradient',
      );
    });

    it('learned-interval bounds: gradients agree with finite differences of the unrounded quantizer', () => {
      // With many inputs, rounding errors average out and the STE gradient tracks the finite
      // difference of the expected output.
      const x = tf.randomUniform([257], -0.5, 4, 'float32', 3);
      const attrs: FakeQuantAttrs = { quantizer: 'learned-interval', bits: 8, signed: false };
      checkParamGradient(
        'upper',
        (u) =>
          fakeQuantActivation(
            x,
            attrs,
            new Map([
              ['lower', tf.scalar(0)],
              ['upper', u],
            ]),
          ),
        2,
        1,
      );
      const wattrs: WeightQuantAttrs = {
        quantizer: 'learned-interval',
        bits: 8,
        perChannel: false,
      };
      const w = tf.randomNormal([257], 0, 1, 'float32', 5);
      checkParamGradient(
        'scale',
        (s) =>
          fakeQuantWeight(
            w,
            wattrs,
            new Map([
              ['lower', tf.scalar(-2)],
              ['upper', tf.scalar(2)],
              ['scale', s],
            ]),
          ),
        1.5,
      );
      checkParamGradient(
        'weight upper',
        (u) =>
          fakeQuantWeight(
            w,
            wattrs,
            new Map([
              ['lower', tf.scalar(-2)],
              ['upper', u],
              ['scale', tf.scalar(1)],
            ]),
          ),
        1.2,
      );
    });
  });
});
