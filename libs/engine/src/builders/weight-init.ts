/**
 * Seeded weight initialisation with the distributions PyTorch's reference implementations use,
 * so a PyTorch peer built from the same description starts from the same distribution.
 *
 * Each tensor draws from its own generator seeded by (model seed, weight name): adding or
 * removing a node never changes how the other weights start.
 */

/** Kaiming/He normal, std = sqrt(2 / fan), for ReLU networks; fan as PyTorch computes it. */
export type ConvInit = 'kaiming-normal-fan-in' | 'kaiming-normal-fan-out';
/**
 * - pytorch-default: nn.Linear's own init, kernel and bias uniform in ±1/sqrt(fanIn).
 * - kaiming-normal-fan-in: kernel He normal, bias as pytorch-default.
 * - normal-0.01: kernel N(0, 0.01²), bias 0 (torchvision MobileNetV2, RepDistiller VGG).
 */
export type DenseInit = 'pytorch-default' | 'kaiming-normal-fan-in' | 'normal-0.01';

export interface InitScheme {
  conv: ConvInit;
  /** Conv bias: zeros, or PyTorch's default uniform ±1/sqrt(fanIn). */
  convBias: 'zeros' | 'pytorch-default';
  dense: DenseInit;
}

/** A small, fast 32-bit generator (mulberry32) with Box-Muller normals. */
export class InitRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    return mix(this.state);
  }

  /**
   * Fills `out` with N(0, std²) draws. The generator state stays in a local inside the loop,
   * which keeps a 10 M-value init well under a second.
   */
  fillNormal(out: Float32Array, std: number): void {
    let state = this.state;
    for (let i = 0; i < out.length; i += 2) {
      state = (state + 0x6d2b79f5) >>> 0;
      const u1 = mix(state);
      state = (state + 0x6d2b79f5) >>> 0;
      const u2 = mix(state);
      // Box-Muller yields two independent normals per pair of uniforms; use both.
      const radius = Math.sqrt(-2 * Math.log(1 - u1)) * std;
      const angle = 2 * Math.PI * u2;
      out[i] = radius * Math.cos(angle);
      if (i + 1 < out.length) out[i + 1] = radius * Math.sin(angle);
    }
    this.state = state;
  }
}

function mix(state: number): number {
  let t = Math.imul(state ^ (state >>> 15), state | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/** FNV-1a of the name mixed with the seed: a per-tensor seed stable across runs and platforms. */
export function tensorSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export function normalTensor(size: number, std: number, random: InitRandom): Float32Array {
  const data = new Float32Array(size);
  random.fillNormal(data, std);
  return data;
}

export function uniformTensor(size: number, bound: number, random: InitRandom): Float32Array {
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = (random.uniform() * 2 - 1) * bound;
  return data;
}

export function filledTensor(size: number, value: number): Float32Array {
  return new Float32Array(size).fill(value);
}
