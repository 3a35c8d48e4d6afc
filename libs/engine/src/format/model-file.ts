import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  fstatSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { endianness } from 'node:os';
import { z } from 'zod';
import { parseGraph, validateModel, type Model, type Weights } from '../graph';

/**
 * The model file: one self-describing binary file holding a graph and its weights.
 *
 *   offset  size  field
 *   0       8     magic "ECMODEL\0"
 *   8       4     container version, u32 LE (1)
 *   12      4     header length H, u32 LE
 *   16      8     blob length B, u64 LE
 *   24      32    SHA-256 of every byte from offset 56 to the end
 *   56      H     header: UTF-8 JSON { format, graph, tensors: [{ name, shape, dtype, offset, length }] }
 *   ...           zero padding to a multiple of 64
 *   ...     B     blob: float32 LE tensors, each at a 64-byte aligned offset into the blob
 *
 * The file is exactly prefix + padded header + blob bytes long. docs/model-format.md is the
 * full description.
 */
export const MODEL_FILE_MAGIC = Buffer.from('ECMODEL\0', 'latin1');
export const MODEL_FILE_VERSION = 1;
const PREFIX_BYTES = 56;
const ALIGN = 64;
const HEADER_FORMAT = 'edgecompress.model';

export interface ModelFileLimits {
  /** Largest file accepted; default 2 GiB. */
  maxFileBytes?: number;
  /** Largest JSON header accepted; default 64 MiB. */
  maxHeaderBytes?: number;
}

const DEFAULT_MAX_FILE = 2 * 1024 ** 3;
const DEFAULT_MAX_HEADER = 64 * 1024 ** 2;

export class ModelFileError extends Error {
  override readonly name = 'ModelFileError';
}

const tensorEntry = z.strictObject({
  name: z.string().min(1).max(1024),
  shape: z.array(z.number().int().nonnegative()).max(8),
  dtype: z.literal('float32'),
  offset: z.number().int().nonnegative(),
  length: z.number().int().nonnegative(),
});
const headerSchema = z.strictObject({
  format: z.literal(HEADER_FORMAT),
  graph: z.unknown(),
  tensors: z.array(tensorEntry).max(1_000_000),
});
type TensorEntry = z.infer<typeof tensorEntry>;

const align = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;
const littleEndianHost = endianness() === 'LE';

/** Serialises a model (validated first) into the model file bytes. */
export function serializeModel(model: Model): Buffer {
  validateModel(model);
  // A model the reader would refuse (e.g. a node with a key the schema does not know) must not
  // be written in the first place.
  parseGraph(JSON.parse(JSON.stringify(model.graph)));
  const tensors: TensorEntry[] = [];
  let blobLength = 0;
  for (const [name, weight] of model.weights) {
    const length = weight.data.length * 4;
    tensors.push({ name, shape: [...weight.shape], dtype: 'float32', offset: blobLength, length });
    blobLength = align(blobLength + length);
  }
  const header = Buffer.from(
    JSON.stringify({ format: HEADER_FORMAT, graph: model.graph, tensors }),
    'utf8',
  );
  const blobStart = align(PREFIX_BYTES + header.length);
  const file = Buffer.alloc(blobStart + blobLength);
  MODEL_FILE_MAGIC.copy(file, 0);
  file.writeUInt32LE(MODEL_FILE_VERSION, 8);
  file.writeUInt32LE(header.length, 12);
  file.writeBigUInt64LE(BigInt(blobLength), 16);
  header.copy(file, PREFIX_BYTES);
  for (const entry of tensors) {
    writeFloats(file, blobStart + entry.offset, model.weights.get(entry.name)!.data);
  }
  createHash('sha256').update(file.subarray(PREFIX_BYTES)).digest().copy(file, 24);
  return file;
}

/**
 * Parses model file bytes. Rejects, with a ModelFileError saying what is wrong, a foreign or
 * truncated file, an unsupported version, a size over the limits, a checksum mismatch, a
 * malformed header or tensor table, and a graph or weights that do not validate.
 */
export function deserializeModel(file: Buffer, limits: ModelFileLimits = {}): Model {
  const { blobStart, blobLength } = checkPrefix(
    file.subarray(0, PREFIX_BYTES),
    file.length,
    limits,
  );
  const digest = createHash('sha256').update(file.subarray(PREFIX_BYTES)).digest();
  if (!digest.equals(file.subarray(24, PREFIX_BYTES))) {
    throw new ModelFileError('model file checksum mismatch: the file is corrupt');
  }
  const headerLength = file.readUInt32LE(12);
  let headerJson: unknown;
  try {
    headerJson = JSON.parse(
      file.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength).toString('utf8'),
    );
  } catch (err) {
    throw new ModelFileError(`model file header is not valid JSON: ${(err as Error).message}`);
  }
  const header = headerSchema.safeParse(headerJson);
  if (!header.success) {
    const issue = header.error.issues[0];
    throw new ModelFileError(
      `model file header is invalid at ${issue.path.join('.') || 'root'}: ${issue.message}`,
    );
  }
  const weights = readTensors(file, blobStart, blobLength, header.data.tensors);
  try {
    const model: Model = { graph: parseGraph(header.data.graph), weights };
    validateModel(model);
    return model;
  } catch (err) {
    throw new ModelFileError(`model file holds an invalid model: ${(err as Error).message}`);
  }
}

/**
 * Writes the model file atomically: a temporary file in the same directory, fsync, rename over
 * the target, fsync of the directory. A crash leaves either the old file or the new one.
 */
export function saveModel(path: string, model: Model): void {
  const bytes = serializeModel(model);
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o644);
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(temp);
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (err) {
    unlinkSync(temp);
    throw err;
  }
  syncDirectory(dirname(path));
}

/** Reads and validates a model file; the size is checked before the file is read into memory. */
export function loadModel(path: string, limits: ModelFileLimits = {}): Model {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const prefix = Buffer.alloc(PREFIX_BYTES);
    const got = readSync(fd, prefix, 0, PREFIX_BYTES, 0);
    checkPrefix(prefix.subarray(0, got), size, limits);
    const file = Buffer.allocUnsafe(size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, file, read, size - read, read);
      if (n === 0) throw new ModelFileError(`model file ${path} shrank while being read`);
      read += n;
    }
    return deserializeModel(file, limits);
  } finally {
    closeSync(fd);
  }
}

/** Validates the fixed prefix against the real file size, before anything large is allocated. */
function checkPrefix(
  prefix: Buffer,
  fileSize: number,
  limits: ModelFileLimits,
): { blobStart: number; blobLength: number } {
  const maxFile = limits.maxFileBytes ?? DEFAULT_MAX_FILE;
  const maxHeader = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  if (prefix.length < 8 || !prefix.subarray(0, 8).equals(MODEL_FILE_MAGIC)) {
    throw new ModelFileError('not an edgecompress model file (bad magic)');
  }
  if (prefix.length < PREFIX_BYTES) {
    throw new ModelFileError(
      `model file truncated: ${fileSize} bytes is shorter than its ${PREFIX_BYTES}-byte prefix`,
    );
  }
  const version = prefix.readUInt32LE(8);
  if (version !== MODEL_FILE_VERSION) {
    throw new ModelFileError(
      `model file version ${version} is not supported (this build reads version ${MODEL_FILE_VERSION})`,
    );
  }
  if (fileSize > maxFile) {
    throw new ModelFileError(`model file is ${fileSize} bytes, over the ${maxFile}-byte limit`);
  }
  const headerLength = prefix.readUInt32LE(12);
  if (headerLength === 0 || headerLength > maxHeader) {
    throw new ModelFileError(`model file header length ${headerLength} is outside 1..${maxHeader}`);
  }
  const blobLength = prefix.readBigUInt64LE(16);
  const blobStart = align(PREFIX_BYTES + headerLength);
  const expected = BigInt(blobStart) + blobLength;
  if (expected !== BigInt(fileSize)) {
    throw new ModelFileError(
      fileSize < expected
        ? `model file truncated: ${fileSize} bytes, its prefix declares ${expected}`
        : `model file has ${BigInt(fileSize) - expected} trailing bytes beyond the declared ${expected}`,
    );
  }
  return { blobStart, blobLength: Number(blobLength) };
}

function readTensors(
  file: Buffer,
  blobStart: number,
  blobLength: number,
  entries: TensorEntry[],
): Weights {
  const weights: Weights = new Map();
  const byOffset = [...entries].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const entry of byOffset) {
    const size = entry.shape.reduce((a, b) => a * b, 1);
    if (entry.length !== size * 4) {
      throw new ModelFileError(
        `tensor "${entry.name}" has ${entry.length} bytes for shape [${entry.shape.join(', ')}]`,
      );
    }
    if (entry.offset % ALIGN !== 0)
      throw new ModelFileError(`tensor "${entry.name}" is not 64-byte aligned`);
    if (entry.offset < end)
      throw new ModelFileError(`tensor "${entry.name}" overlaps another tensor`);
    if (entry.offset + entry.length > blobLength) {
      throw new ModelFileError(`tensor "${entry.name}" extends past the end of the weights blob`);
    }
    if (weights.has(entry.name)) throw new ModelFileError(`tensor "${entry.name}" appears twice`);
    end = entry.offset + entry.length;
    weights.set(entry.name, {
      shape: entry.shape,
      data: readFloats(file, blobStart + entry.offset, size),
    });
  }
  // Keep the writer's order (graph order), which the byte offsets already follow.
  return new Map(entries.map((e) => [e.name, weights.get(e.name)!]));
}

function writeFloats(file: Buffer, at: number, data: Float32Array): void {
  if (littleEndianHost) {
    Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(file, at);
    return;
  }
  for (let i = 0; i < data.length; i++) file.writeFloatLE(data[i], at + 4 * i);
}

function readFloats(file: Buffer, at: number, count: number): Float32Array {
  const out = new Float32Array(count);
  if (littleEndianHost) {
    Buffer.from(out.buffer).set(file.subarray(at, at + count * 4));
    return out;
  }
  for (let i = 0; i < count; i++) out[i] = file.readFloatLE(at + 4 * i);
  return out;
}

function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
