import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from '../wasm-gradient-kernels';
import { useConvKernels, type ConvKernelProvider } from '../conv-kernel-provider';
import { ensureTfjsGradients } from '../tfjs-gradients-loader';

// Every registered wasm gradient kernel is checked two ways on random shapes: against the
// reference kernels of tfjs's cpu backend (whole tensors) and against central finite
// differences of the wasm forward op (sampled coordinates). The loss is sum(op(x, w) * R) with
// a fixed random R, so dLoss/dOutput = R reaches the kernels unchanged.

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;

interface Case {
  batch: number;
  size: [number, number];
  inC: number;
  outC: number; // filters (conv) or channel multiplier (depthwise)
  k: number;
  stride: number;
  dilation: number;
  pad: Pad;
}

let seed = 12345;
function random(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out[i] = seed / 1073741824 - 1;
  }
  return out;
}

type Op = (x: tf.Tensor4D, w: tf.Tensor4D, c: Case) => tf.Tensor4D;
const conv: Op = (x, w, c) => tf.conv2d(x, w, c.stride, c.pad);
const depthwise: Op = (x, w, c) => tf.depthwiseConv2d(x, w, c.stride, c.pad, 'NHWC', c.dilation);

interface Problem {
  x: Float32Array;
  w: Float32Array;
  r: Float32Array;
  xShape: [number, number, number, number];
  wShape: [number, number, number, number];
  yShape: number[];
}

function problem(op: Op, c: Case): Problem {
  const xShape: [number, number, number, number] = [c.batch, c.size[0], c.size[1], c.inC];
  const wShape: [number, number, number, number] = [c.k, c.k, c.inC, c.outC];
  const x = random(xShape.reduce((a, b) => a * b));
  const w = random(wShape.reduce((a, b) => a * b));
  const yShape = tf.tidy(() => op(tf.zeros(xShape), tf.zeros(wShape), c).shape);
  return { x, w, r: random(yShape.reduce((a, b) => a * b)), xShape, wShape, yShape };
}

async function gradsOn(backend: string, op: Op, c: Case, p: Problem) {
  await tf.setBackend(backend);
  if (c.dilation > 1) return depthwiseKernelsOn(c, p); // tfjs's depthwise gradient refuses dilation
  return tf.tidy(() => {
    const r = tf.tensor(p.r, p.yShape);
    const loss = (x: tf.Tensor, w: tf.Tensor) =>
      tf.sum(tf.mul(op(x as tf.Tensor4D, w as tf.Tensor4D, c), r));
    const [dx, dw] = tf.grads(loss)([tf.tensor4d(p.x, p.xShape), tf.tensor4d(p.w, p.wShape)]);
    return { dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

/** Runs the two depthwise gradient kernels directly, as the gradient of the op would. */
function depthwiseKernelsOn(c: Case, p: Problem) {
  return tf.tidy(() => {
    const common = { strides: c.stride, dilations: c.dilation, pad: c.pad };
    const r = tf.tensor4d(p.r, p.yShape as [number, number, number, number]);
    const dw = tf
      .engine()
      .runKernel(
        tf.DepthwiseConv2dNativeBackpropFilter,
        { x: tf.tensor4d(p.x, p.xShape), dy: r },
        { ...common, filterShape: p.wShape },
      ) as tf.Tensor;
    const dx = tf
      .engine()
      .runKernel(
        tf.DepthwiseConv2dNativeBackpropInput,
        { dy: r, filter: tf.tensor4d(p.w, p.wShape) },
        { ...common, inputShape: p.xShape },
      ) as tf.Tensor;
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function lossOn(op: Op, c: Case, p: Problem, x: Float32Array, w: Float32Array): number {
  return tf.tidy(
    () =>
      tf
        .sum(
          tf.mul(
            op(tf.tensor4d(x, p.xShape), tf.tensor4d(w, p.wShape), c),
            tf.tensor(p.r, p.yShape),
          ),
        )
        .dataSync()[0]!,
  );
}

function assertAllClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < actual.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    assert.ok(
      diff <= 1e-4 * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (scale ${scale})`,
    );
  }
}

/** Central differences; the loss is linear in x and in w, so the only error is float32 rounding. */
function assertFiniteDifferences(
  op: Op,
  c: Case,
  p: Problem,
  dx: Float32Array,
  dw: Float32Array,
  samples = 4,
) {
  const eps = 0.25;
  for (const [name, values, grad] of [
    ['dw', p.w, dw],
    ['dx', p.x, dx],
  ] as const) {
    const count = Math.min(samples, values.length);
    for (let s = 0; s < count; s++) {
      const idx = Math.floor(((s + 0.5) / count) * values.length);
      const plus = Float32Array.from(values);
      const minus = Float32Array.from(values);
      plus[idx]! += eps;
      minus[idx]! -= eps;
      const [xp, wp] = name === 'dw' ? [p.x, plus] : [plus, p.w];
      const [xm, wm] = name === 'dw' ? [p.x, minus] : [minus, p.w];
      const numeric = (lossOn(op, c, p, xp, wp) - lossOn(op, c, p, xm, wm)) / (2 * eps);
      assert.ok(
        Math.abs(numeric - grad[idx]!) <= 2e-3 * Math.max(1, Math.abs(numeric)),
        `${name}[${idx}]: analytic ${grad[idx]} vs numeric ${numeric}`,
      );
    }
  }
}

function describeCase(c: Case): string {
  const pad = typeof c.pad === 'string' ? c.pad : `explicit${JSON.stringify(c.pad.slice(1, 3))}`;
  return `${c.k}x${c.k} stride ${c.stride} dilation ${c.dilation} ${pad} in ${c.batch}x${c.size.join('x')}x${c.inC} out ${c.outC}`;
}

const explicitPads: tf.backend_util.ExplicitPadding = [
  [0, 0],
  [1, 0],
  [2, 1],
  [0, 0],
];

const convCases: Case[] = [];
for (const k of [1, 3, 5]) {
  for (const stride of [1, 2]) {
    for (const pad of ['same', 'valid', explicitPads] as Pad[]) {
      if (pad === 'valid' && k === 5 && stride === 2) continue; // covered by the 3x3 case
      convCases.push({
        batch: 2,
        size: [7 + k, 6 + stride],
        inC: 3,
        outC: 4,
        k,
        stride,
        dilation: 1,
        pad,
      });
    }
  }
}

const depthwiseCases: Case[] = [];
for (const k of [1, 3, 5]) {
  for (const [stride, dilation] of [
    [1, 1],
    [2, 1],
    [1, 2],
  ] as const) {
    for (const pad of ['same', 'valid', explicitPads] as Pad[]) {
      const multiplier = k === 3 ? 2 : 1;
      const reach = (k - 1) * dilation;
      depthwiseCases.push({
        batch: 2,
        size: [7 + reach, 6 + reach],
        inC: 3,
        outC: multiplier,
        k,
        stride,
        dilation,
        pad,
      });
    }
  }
}

before(async () => {
  ensureTfjsGradients();
  registerWasmGradientKernels('wasm');
  await tf.setBackend('wasm');
  await tf.ready();
});

for (const provider of ['wasm', 'ort'] as ConvKernelProvider[]) {
  describe(`conv2d forward and gradients on wasm, conv kernels by ${provider}`, () => {
    before(() => {
      useConvKernels(provider);
    });
    for (const c of convCases) {
      it(`match the cpu backend and finite differences: ${describeCase(c)}`, async () => {
        const p = problem(conv, c);
        const reference = await gradsOn('cpu', conv, c, p);
        const ours = await gradsOn('wasm', conv, c, p);
        assertAllClose(ours.dw, reference.dw, 'dw');
        assertAllClose(ours.dx, reference.dx, 'dx');
        assertFiniteDifferences(conv, c, p, ours.dx, ours.dw);
      });
    }
  });
}

describe('wasm depthwise gradients (DepthwiseConv2dNativeBackpropFilter/Input)', () => {
  for (const c of depthwiseCases) {
    it(`match the references: ${describeCase(c)}`, async () => {
      const p = problem(depthwise, c);
      const ours = await gradsOn('wasm', depthwise, c, p);
      if (c.dilation === 1) {
        const reference = await gradsOn('cpu', depthwise, c, p);
        assertAllClose(ours.dw, reference.dw, 'dw');
        assertAllClose(ours.dx, reference.dx, 'dx');
        assertFiniteDifferences(depthwise, c, p, ours.dx, ours.dw);
      } else {
        // tfjs's cpu kernel ignores dilation in this gradient, so finite differences are the
        // only reference: every filter coordinate and a spread of input coordinates.
        assertFiniteDifferences(depthwise, c, p, ours.dx, ours.dw, p.w.length);
      }
    });
  }
});

describe('wasm gradient kernels are registered', () => {
  it('routes gradients through the registered kernels, not a cpu fallback', async () => {
    await tf.setBackend('wasm');
    for (const name of [
      tf.Conv2DBackpropFilter,
      tf.Conv2DBackpropInput,
      tf.DepthwiseConv2dNativeBackpropFilter,
      tf.DepthwiseConv2dNativeBackpropInput,
      tf.Identity,
    ]) {
      assert.ok(tf.getKernel(name, 'wasm'), `${name} registered for wasm`);
    }
    const registered = registerWasmGradientKernels('wasm');
    assert.equal(registered.length, 5, 'registering twice is harmless');
  });
});
