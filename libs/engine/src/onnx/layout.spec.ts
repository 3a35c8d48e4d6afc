import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  convKernelToOihw,
  denseRowsChwToHwc,
  denseRowsHwcToChw,
  depthwiseKernelToOihw,
  nchwToNhwc,
  nhwcToNchw,
  oihwToConvKernel,
} from './layout';

const iota = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => i);

describe('layout conversions', () => {
  it('conv kernel [kh, kw, in, out] -> OIHW puts element (y, x, i, o) at [o, i, y, x], and back', () => {
    const shape = [2, 3, 4, 5];
    const k = iota(2 * 3 * 4 * 5);
    const oihw = convKernelToOihw(k, shape);
    const [y, x, i, o] = [1, 2, 3, 4];
    assert.equal(oihw[((o * 4 + i) * 2 + y) * 3 + x], k[((y * 3 + x) * 4 + i) * 5 + o]);
    const back = oihwToConvKernel(oihw, [5, 4, 2, 3]);
    assert.deepEqual(back.shape, shape);
    assert.deepEqual(back.data, k);
  });

  it('depthwise kernel [kh, kw, c, m] -> [c * m, 1, kh, kw] with output channel c * m + j', () => {
    const k = iota(3 * 3 * 4 * 2);
    const w = depthwiseKernelToOihw(k, [3, 3, 4, 2]);
    const [y, x, c, j] = [2, 1, 3, 1];
    assert.equal(w[((c * 2 + j) * 3 + y) * 3 + x], k[((y * 3 + x) * 4 + c) * 2 + j]);
  });

  it('dense rows HWC <-> CHW are inverse permutations matching the two flatten orders', () => {
    const [h, w, c, units] = [2, 3, 4, 2];
    const rows = iota(h * w * c * units);
    const chw = denseRowsHwcToChw(rows, [h, w, c], units);
    assert.deepEqual(denseRowsChwToHwc(chw, [h, w, c], units), rows);
    // feature (y, x, ch) is row (y*w + x)*c + ch in HWC and (ch*h + y)*w + x in CHW
    const [y, x, ch] = [1, 2, 3];
    assert.equal(chw[((ch * h + y) * w + x) * units + 1], rows[((y * w + x) * c + ch) * units + 1]);
  });

  it('NHWC <-> NCHW batches are inverse', () => {
    const data = iota(2 * 3 * 4 * 5);
    const nchw = nhwcToNchw(data, 2, 3, 4, 5);
    assert.equal(nchw[((1 * 5 + 4) * 3 + 2) * 4 + 3], data[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
    assert.deepEqual(nchwToNhwc(nchw, 2, 5, 3, 4), data);
  });
});
