/**
 * Convolution throughput on the engine backend: the forward Conv2D and the filter gradient
 * (Conv2DBackpropFilter, a large share of training time) for one NHWC problem, in GFLOP/s.
 * Both go through kernel dispatch, so they measure whichever conv kernels the backend uses.
 */
import * as tf from '@tensorflow/tfjs-core';

/** [batch, height, width, inChannels, outChannels] with a 3x3 'same' filter. */
export type ConvProblem = [number, number, number, number, number];

export interface ConvThroughput {
  forward: number;
  filter_grad: number;
}

function gflops(problem: ConvProblem, seconds: number, run: () => tf.Tensor): number {
  const [n, h, w, cin, cout] = problem;
  const flops = 2 * n * h * w * cin * cout * 9;
  // The callbacks return nothing: tidy walks a returned container element by element.
  for (let i = 0; i < 2; i++) tf.tidy(() => void run().dataSync());
  const start = performance.now();
  let steps = 0;
  while (steps < 3 || (performance.now() - start < seconds * 1000 && steps < 50)) {
    tf.tidy(() => void run().dataSync());
    steps++;
  }
  return (flops * steps) / ((performance.now() - start) / 1000) / 1e9;
}

export function measureConv(problem: ConvProblem, seconds: number): ConvThroughput {
  const [n, h, w, cin, cout] = problem;
  const x = tf.randomNormal<tf.Rank.R4>([n, h, w, cin]);
  const filter = tf.randomNormal<tf.Rank.R4>([3, 3, cin, cout]);
  const dy = tf.randomNormal<tf.Rank.R4>([n, h, w, cout]);
  try {
    return {
      forward: gflops(problem, seconds / 2, () => tf.conv2d(x, filter, 1, 'same')),
      filter_grad: gflops(
        problem,
        seconds / 2,
        () =>
          tf
            .engine()
            .runKernel(
              tf.Conv2DBackpropFilter,
              { x, dy },
              { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, cin, cout] },
            ) as tf.Tensor,
      ),
    };
  } finally {
    tf.dispose([x, filter, dy]);
  }
}
