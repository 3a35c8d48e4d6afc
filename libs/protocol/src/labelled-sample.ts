/**
 * The binary format of a labelled sample artifact (content type
 * `application/vnd.edgecompress.sample`), used by a benchmark's accuracy check:
 *
 *   offset 0   "ECS1"                      magic
 *   4          uint32 LE count             number of samples
 *   8          uint32 LE rank              rank of one sample's shape (1..6)
 *   12         rank x uint32 LE dims       one sample's shape, e.g. 32 32 3 (NHWC without N)
 *   ...        count*prod(dims) float32 LE inputs, sample-major
 *   ...        count int32 LE              labels
 *
 * Little-endian throughout; every byte is accounted for, so a truncated or padded file fails.
 */

const MAGIC = 'ECS1';
const MAX_RANK = 6;
const MAX_SAMPLE_ELEMENTS = 1 << 26;

export interface LabelledSample {
  /** Shape of one sample, without the batch dimension. */
  shape: number[];
  count: number;
  inputs: Float32Array;
  labels: Int32Array;
}

export function encodeLabelledSample(sample: LabelledSample): Buffer {
  const { shape, count, inputs, labels } = sample;
  if (
    shape.length < 1 ||
    shape.length > MAX_RANK ||
    shape.some((d) => !Number.isInteger(d) || d <= 0)
  ) {
    throw new RangeError(`invalid sample shape [${shape.join(', ')}]`);
  }
  const perSample = shape.reduce((a, b) => a * b, 1);
  if (inputs.length !== count * perSample) {
    throw new RangeError(`inputs hold ${inputs.length} values, expected ${count} x ${perSample}`);
  }
  if (labels.length !== count)
    throw new RangeError(`labels hold ${labels.length}, expected ${count}`);
  const header = 12 + 4 * shape.length;
  const out = Buffer.alloc(header + 4 * inputs.length + 4 * labels.length);
  out.write(MAGIC, 0, 'ascii');
  out.writeUInt32LE(count, 4);
  out.writeUInt32LE(shape.length, 8);
  shape.forEach((d, i) => out.writeUInt32LE(d, 12 + 4 * i));
  let offset = header;
  for (const value of inputs) offset = out.writeFloatLE(value, offset);
  for (const label of labels) offset = out.writeInt32LE(label, offset);
  return out;
}

export type DecodeSampleResult =
  { ok: true; sample: LabelledSample } | { ok: false; message: string };

/** Parses a labelled sample; never throws on bad bytes. */
export function decodeLabelledSample(bytes: Uint8Array): DecodeSampleResult {
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.byteLength < 12 || buf.toString('ascii', 0, 4) !== MAGIC) {
    return { ok: false, message: 'not a labelled sample (bad magic)' };
  }
  const count = buf.readUInt32LE(4);
  const rank = buf.readUInt32LE(8);
  if (rank < 1 || rank > MAX_RANK) return { ok: false, message: `invalid rank ${rank}` };
  const header = 12 + 4 * rank;
  if (buf.byteLength < header) return { ok: false, message: 'truncated header' };
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(buf.readUInt32LE(12 + 4 * i));
  const perSample = shape.reduce((a, b) => a * b, 1);
  if (perSample <= 0 || perSample > MAX_SAMPLE_ELEMENTS) {
    return { ok: false, message: `invalid sample shape [${shape.join(', ')}]` };
  }
  const expected = header + 4 * count * perSample + 4 * count;
  if (buf.byteLength !== expected) {
    return { ok: false, message: `expected ${expected} bytes, got ${buf.byteLength}` };
  }
  const inputs = new Float32Array(count * perSample);
  let offset = header;
  for (let i = 0; i < inputs.length; i++, offset += 4) inputs[i] = buf.readFloatLE(offset);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++, offset += 4) labels[i] = buf.readInt32LE(offset);
  return { ok: true, sample: { shape, count, inputs, labels } };
}
