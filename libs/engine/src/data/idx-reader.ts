/**
 * IDX files (the MNIST family's format), optionally gzip-compressed: a 4-byte magic
 * (0, 0, dtype, ndims), ndims big-endian uint32 sizes, then the data. Only unsigned bytes
 * (dtype 0x08) are used by image datasets, so only they are accepted.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

const UBYTE = 0x08;

export class DatasetFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'DatasetFileError';
  }
}

/** Reads an IDX file from disk; `hint` says how to get the file when it is missing. */
export function readIdxFile(file: string, hint?: string): IdxArray {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'not found' : `unreadable (${code ?? String(err)})`;
    throw new DatasetFileError(file, `dataset file ${file} is ${why}${hint ? `; ${hint}` : ''}`);
  }
  return parseIdx(raw, file);
}

export function parseIdx(raw: Uint8Array, file = '<buffer>'): IdxArray {
  let bytes = raw;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new DatasetFileError(
        file,
        `dataset file ${file} is a corrupt gzip stream (${(err as Error).message})`,
      );
    }
  }
  const bad = (why: string): DatasetFileError =>
    new DatasetFileError(file, `dataset file ${file} is not a valid IDX file: ${why}`);
  if (bytes.length < 4) throw bad(`only ${bytes.length} bytes`);
  if (bytes[0] !== 0 || bytes[1] !== 0) throw bad('bad magic number');
  if (bytes[2] !== UBYTE) throw bad(`element type 0x${bytes[2]!.toString(16)} is not unsigned byte`);
  const ndims = bytes[3]!;
  if (ndims < 1 || ndims > 4) throw bad(`${ndims} dimensions`);
  const headerSize = 4 + 4 * ndims;
  if (bytes.length < headerSize) throw bad('truncated header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  for (let i = 0; i < ndims; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const expected = shape.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerSize;
  if (actual !== expected) {
    throw bad(`header promises ${expected} bytes of data (shape ${shape.join('x')}), found ${actual}`);
  }
  return { shape, data: bytes.subarray(headerSize) };
}

/** Encodes unsigned bytes as an (uncompressed) IDX file; used for fixtures and exports. */
export function encodeIdx(shape: readonly number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * shape.length + data.length);
  out[2] = UBYTE;
  out[3] = shape.length;
  const view = new DataView(out.buffer);
  shape.forEach((dim, i) => view.setUint32(4 + 4 * i, dim, false));
  out.set(data, 4 + 4 * shape.length);
  return out;
}
