/** What to quantize and how: parsed from `--bits w2a4 --quantizer lsq` or given in code. */
import { SUPPORTED_BITS, type QuantizerKind } from '@edgecompress/engine';

export const QUANTIZERS: readonly QuantizerKind[] = ['learned-interval', 'lsq', 'pact', 'dorefa'];

export interface QuantizationConfig {
  weightBits: number;
  activationBits: number;
  quantizer: QuantizerKind;
  /** One set of weight-quantizer parameters per output channel (default per tensor). */
  perChannel?: boolean;
  /** Keep the first conv in float (default true, as the published setups do). */
  keepFirstFloat?: boolean;
  /** Keep the last layer (the classifier) in float (default true). */
  keepLastFloat?: boolean;
  /** Learned-interval only: add EWGS gradient-scaling buffers (delta, 0 until updated). */
  ewgs?: boolean;
}

export function validateQuantizationConfig(config: QuantizationConfig): void {
  for (const [what, bits] of [
    ['weight', config.weightBits],
    ['activation', config.activationBits],
  ] as const) {
    if (!(SUPPORTED_BITS as readonly number[]).includes(bits)) {
      throw new RangeError(
        `${what} bit width must be one of ${SUPPORTED_BITS.join(', ')}, got ${bits}`,
      );
    }
  }
  if (!QUANTIZERS.includes(config.quantizer)) {
    throw new RangeError(
      `unknown quantizer "${String(config.quantizer)}" (one of ${QUANTIZERS.join(', ')})`,
    );
  }
  if (config.ewgs && config.quantizer !== 'learned-interval') {
    throw new RangeError('EWGS gradient scaling applies to the learned-interval quantizer only');
  }
}

/** "w2a2", "W4A8" -> bit widths; anything else is a clear error. */
export function parseBitSpec(spec: string): { weightBits: number; activationBits: number } {
  const m = /^w(\d+)a(\d+)$/i.exec(spec.trim());
  if (!m) throw new RangeError(`bits must look like w2a2 or w4a8, got "${spec}"`);
  const bits = { weightBits: Number(m[1]), activationBits: Number(m[2]) };
  validateQuantizationConfig({ ...bits, quantizer: 'lsq' });
  return bits;
}
