/**
 * Splitting an artifact into chunks and putting it back together with per-chunk verification.
 * The assembler only ever holds chunks whose sha256 matches the (already verified) manifest,
 * and refuses to produce the artifact until every chunk is present and the whole hash matches.
 */
import { createHash } from 'node:crypto';
import type { ManifestMessage, UnsignedManifest } from './schemas/manifest.schema';

/** Views (not copies) of consecutive `chunkSize`-byte slices; the last may be shorter. */
export function splitIntoChunks(data: Uint8Array, chunkSize: number): Buffer[] {
  if (!Number.isInteger(chunkSize) || chunkSize <= 0)
    throw new RangeError(`invalid chunk size ${chunkSize}`);
  const buffer = Buffer.isBuffer(data)
    ? data
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < buffer.byteLength; offset += chunkSize) {
    chunks.push(buffer.subarray(offset, Math.min(offset + chunkSize, buffer.byteLength)));
  }
  return chunks;
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

type ManifestLayout = Pick<
  UnsignedManifest,
  'sha256' | 'size' | 'chunkSize' | 'chunkCount' | 'chunks'
>;

export type ChunkCheck =
  | { ok: true }
  | {
      ok: false;
      code: 'CHUNK_OUT_OF_RANGE' | 'CHUNK_SIZE_MISMATCH' | 'CHECKSUM_MISMATCH';
      message: string;
    };

/** Expected byte length of chunk `index` under `manifest`. */
export function expectedChunkSize(manifest: ManifestLayout, index: number): number {
  const last = manifest.chunkCount - 1;
  return index < last ? manifest.chunkSize : manifest.size - manifest.chunkSize * last;
}

/** Checks one chunk against the manifest: index in range, exact length, sha256. */
export function verifyChunk(manifest: ManifestLayout, index: number, data: Uint8Array): ChunkCheck {
  if (!Number.isInteger(index) || index < 0 || index >= manifest.chunkCount) {
    return {
      ok: false,
      code: 'CHUNK_OUT_OF_RANGE',
      message: `chunk ${index} of ${manifest.chunkCount}`,
    };
  }
  const expected = expectedChunkSize(manifest, index);
  if (data.byteLength !== expected) {
    return {
      ok: false,
      code: 'CHUNK_SIZE_MISMATCH',
      message: `chunk ${index} is ${data.byteLength} bytes, expected ${expected}`,
    };
  }
  if (sha256Hex(data) !== manifest.chunks[index]) {
    return { ok: false, code: 'CHECKSUM_MISMATCH', message: `chunk ${index} sha256 mismatch` };
  }
  return { ok: true };
}

export type AssembleResult =
  | { ok: true; data: Buffer }
  | { ok: false; code: 'INCOMPLETE' | 'CHECKSUM_MISMATCH'; message: string; missing: number[] };

/** In-memory reassembly of one artifact from chunks arriving in any order, duplicates allowed. */
export class ChunkAssembler {
  private readonly received = new Map<number, Buffer>();

  constructor(readonly manifest: ManifestMessage | UnsignedManifest) {}

  /** Stores a chunk if it verifies; a duplicate of a stored chunk is accepted and ignored. */
  accept(index: number, data: Uint8Array): ChunkCheck {
    const check = verifyChunk(this.manifest, index, data);
    if (check.ok && !this.received.has(index)) this.received.set(index, Buffer.from(data));
    return check;
  }

  has(index: number): boolean {
    return this.received.has(index);
  }

  get receivedCount(): number {
    return this.received.size;
  }

  isComplete(): boolean {
    return this.received.size === this.manifest.chunkCount;
  }

  /** Indices still missing, ascending. */
  missing(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.manifest.chunkCount; i++) if (!this.received.has(i)) out.push(i);
    return out;
  }

  /** The whole artifact, once every chunk is in and the whole-file sha256 matches. */
  assemble(): AssembleResult {
    const missing = this.missing();
    if (missing.length > 0) {
      return {
        ok: false,
        code: 'INCOMPLETE',
        message: `${missing.length} chunks missing`,
        missing,
      };
    }
    const parts: Buffer[] = [];
    for (let i = 0; i < this.manifest.chunkCount; i++) parts.push(this.received.get(i) as Buffer);
    const data = Buffer.concat(parts, this.manifest.size);
    if (sha256Hex(data) !== this.manifest.sha256) {
      return {
        ok: false,
        code: 'CHECKSUM_MISMATCH',
        message: 'artifact sha256 mismatch',
        missing: [],
      };
    }
    return { ok: true, data };
  }
}
