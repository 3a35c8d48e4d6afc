/**
 * Bit widths and integer grids shared by the quantizers and the ONNX export.
 *
 * Every grid is chosen so the exporter (onnx/qdq-export.ts) reproduces it exactly:
 * - weights at 4 and 8 bits: symmetric narrow range s * k, |k| <= 2^(b-1) - 1 (int4/int8 QDQ
 *   with zero point 0 and no -2^(b-1) code);
 * - weights at 2 and 3 bits: any uniform grid of 2^b levels (stored bit-packed as scale * k +
 *   offset), so the learned-interval "half-offset" grid without zero is kept as published;
 * - activations: an affine grid of 2^b levels that holds zero exactly, s * (k - z) with integer
 *   z in [0, 2^b - 1] (uint8/int8 QDQ with a zero point).
 */
import { GraphError } from '../graph/graph-error';

export const SUPPORTED_BITS = [2, 3, 4, 8] as const;
export type QuantBits = (typeof SUPPORTED_BITS)[number];

export function assertBits(bits: number, what: string, nodeId?: string): asserts bits is QuantBits {
  if (!(SUPPORTED_BITS as readonly number[]).includes(bits)) {
    throw new GraphError(
      `${what} bit width must be one of ${SUPPORTED_BITS.join(', ')}, got ${bits}`,
      nodeId,
    );
  }
}

/** Number of steps between the lowest and highest level: 2^b - 1. */
export const levelCount = (bits: number): number => 2 ** bits - 1;

/** Largest code of a symmetric narrow-range grid: 2^(b-1) - 1. */
export const symmetricMax = (bits: number): number => 2 ** (bits - 1) - 1;

/** Weight grids of 2-3 bits keep all 2^b levels; from 4 bits they are symmetric around zero. */
export const weightGridIsSymmetric = (bits: number): boolean => bits >= 4;

/** Integer code range [qn, qp] of a signed (weights, signed activations) or unsigned grid. */
export function codeRange(bits: number, signed: boolean, forWeights: boolean): [number, number] {
  if (!signed) return [0, levelCount(bits)];
  if (forWeights && weightGridIsSymmetric(bits)) return [-symmetricMax(bits), symmetricMax(bits)];
  return [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1];
}
