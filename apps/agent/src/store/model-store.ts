/**
 * Content-addressed model files on the device.
 *
 *   models/<sha256>.onnx          complete, hash-verified artifacts (the only files ever loaded)
 *   incoming/<sha256>/<n>.chunk   chunks received so far, kept across restarts to resume
 *
 * Disk use (complete + incoming) never exceeds the quota: room is made by evicting models that
 * are neither protected (active, previous, in use) nor being received, else QUOTA_EXCEEDED.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../agent-error';
import { fsyncDir, tempPathFor } from './atomic-file';

export interface ChunkLayout {
  sha256: string;
  size: number;
  chunkSize: number;
  chunkCount: number;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function expectedChunkLength(layout: ChunkLayout, index: number): number {
  if (index < layout.chunkCount - 1) return layout.chunkSize;
  return layout.size - layout.chunkSize * (layout.chunkCount - 1);
}

export class ModelStore {
  private readonly modelsDir: string;
  private readonly incomingDir: string;

  constructor(
    dataDir: string,
    readonly quotaBytes: number,
  ) {
    this.modelsDir = join(dataDir, 'models');
    this.incomingDir = join(dataDir, 'incoming');
    mkdirSync(this.modelsDir, { recursive: true });
    mkdirSync(this.incomingDir, { recursive: true });
    this.removeTempFiles();
  }

  modelPath(sha256: string): string {
    assertSha(sha256);
    return join(this.modelsDir, `${sha256}.onnx`);
  }

  hasModel(sha256: string): boolean {
    return existsSync(this.modelPath(sha256));
  }

  listModels(): string[] {
    return readdirSync(this.modelsDir)
      .filter((f) => f.endsWith('.onnx'))
      .map((f) => f.slice(0, -'.onnx'.length))
      .filter((sha) => SHA256_HEX.test(sha));
  }

  /** Bytes on disk: complete models plus received chunks. */
  usedBytes(): number {
    let total = 0;
    for (const sha of this.listModels()) total += statSync(this.modelPath(sha)).size;
    for (const sha of readdirSync(this.incomingDir)) {
      const dir = join(this.incomingDir, sha);
      for (const f of safeReaddir(dir)) total += statSync(join(dir, f)).size;
    }
    return total;
  }

  /**
   * Makes sure `layout.size` more bytes fit for this artifact, evicting unprotected complete
   * models (oldest first) if needed. Throws QUOTA_EXCEEDED (nothing deleted) when they cannot.
   */
  reserve(layout: ChunkLayout, protectedShas: ReadonlySet<string>): void {
    if (layout.size > this.quotaBytes) {
      throw new AgentError(
        'DISK_FULL',
        `artifact ${layout.sha256} is ${layout.size} bytes, more than the model store quota of ${this.quotaBytes}`,
      );
    }
    const alreadyHere = this.receivedBytes(layout.sha256);
    const needed = layout.size - alreadyHere;
    let free = this.quotaBytes - this.usedBytes();
    if (needed <= free) return;
    const evictable = this.listModels()
      .filter((sha) => sha !== layout.sha256 && !protectedShas.has(sha))
      .map((sha) => ({ sha, path: this.modelPath(sha), stat: statSync(this.modelPath(sha)) }))
      .sort((a, b) => a.stat.mtimeMs - b.stat.mtimeMs);
    const reclaimable = evictable.reduce((sum, m) => sum + m.stat.size, 0);
    if (needed > free + reclaimable) {
      throw new AgentError(
        'DISK_FULL',
        `artifact ${layout.sha256} needs ${needed} more bytes; ${free} free of ${this.quotaBytes} and only ${reclaimable} reclaimable`,
      );
    }
    for (const m of evictable) {
      if (needed <= free) break;
      rmSync(m.path, { force: true });
      free += m.stat.size;
    }
  }

  private chunkDir(sha256: string): string {
    assertSha(sha256);
    return join(this.incomingDir, sha256);
  }

  private chunkPath(sha256: string, index: number): string {
    return join(this.chunkDir(sha256), `${index}.chunk`);
  }

  receivedBytes(sha256: string): number {
    const dir = this.chunkDir(sha256);
    return safeReaddir(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
  }

  /** A chunk counts as present only when its file has exactly the expected length. */
  hasChunk(layout: ChunkLayout, index: number): boolean {
    try {
      return (
        statSync(this.chunkPath(layout.sha256, index)).size === expectedChunkLength(layout, index)
      );
    } catch {
      return false;
    }
  }

  missingChunks(layout: ChunkLayout): number[] {
    const missing: number[] = [];
    for (let i = 0; i < layout.chunkCount; i++) if (!this.hasChunk(layout, i)) missing.push(i);
    return missing;
  }

  /**
   * Stores one chunk (temp file + rename; a torn chunk after power loss has the wrong length
   * and is fetched again). Returns false for a chunk that was already present.
   */
  writeChunk(layout: ChunkLayout, index: number, bytes: Uint8Array): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= layout.chunkCount) {
      throw new AgentError(
        'CHECKSUM_MISMATCH',
        `chunk ${index} is outside 0..${layout.chunkCount - 1}`,
      );
    }
    const expected = expectedChunkLength(layout, index);
    if (bytes.length !== expected) {
      throw new AgentError(
        'CHECKSUM_MISMATCH',
        `chunk ${index} of ${layout.sha256} has ${bytes.length} bytes, expected ${expected}`,
      );
    }
    if (this.hasChunk(layout, index)) return false;
    const target = this.chunkPath(layout.sha256, index);
    mkdirSync(this.chunkDir(layout.sha256), { recursive: true });
    const temp = tempPathFor(target);
    writeFileSync(temp, bytes);
    renameSync(temp, target);
    return true;
  }

  discardChunk(sha256: string, index: number): void {
    rmSync(this.chunkPath(sha256, index), { force: true });
  }

  discardIncoming(sha256: string): void {
    rmSync(this.chunkDir(sha256), { recursive: true, force: true });
  }

  /**
   * Joins all chunks into models/<sha256>.onnx, checking length and sha256 on the way.
   * The file appears under its final name only after the hash matched and the data is on disk.
   * On a mismatch the chunks are discarded (they cannot be trusted) and ARTIFACT_HASH_MISMATCH
   * is thrown.
   */
  assemble(layout: ChunkLayout): string {
    const target = this.modelPath(layout.sha256);
    if (existsSync(target)) {
      this.discardIncoming(layout.sha256);
      return target;
    }
    const missing = this.missingChunks(layout);
    if (missing.length > 0) {
      throw new AgentError('ARTIFACT_NOT_FOUND', `${missing.length} chunks still missing`);
    }
    const temp = tempPathFor(target);
    const hash = createHash('sha256');
    const fd = openSync(temp, 'w', 0o600);
    let written = 0;
    try {
      for (let i = 0; i < layout.chunkCount; i++) {
        const bytes = readFileSync(this.chunkPath(layout.sha256, i));
        hash.update(bytes);
        let offset = 0;
        while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
        written += bytes.length;
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const actual = hash.digest('hex');
    if (written !== layout.size || actual !== layout.sha256) {
      rmSync(temp, { force: true });
      this.discardIncoming(layout.sha256);
      throw new AgentError(
        'CHECKSUM_MISMATCH',
        `assembled artifact has sha256 ${actual} (${written} bytes), manifest says ${layout.sha256} (${layout.size} bytes)`,
      );
    }
    renameSync(temp, target);
    fsyncDir(this.modelsDir);
    this.discardIncoming(layout.sha256);
    return target;
  }

  /** Adds a complete file whose bytes are already in memory (HTTP fallback, tests). */
  importBytes(bytes: Uint8Array, expectedSha256: string): string {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expectedSha256) {
      throw new AgentError('CHECKSUM_MISMATCH', `sha256 ${actual}, expected ${expectedSha256}`);
    }
    const target = this.modelPath(expectedSha256);
    const temp = tempPathFor(target);
    const fd = openSync(temp, 'w', 0o600);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
    fsyncDir(this.modelsDir);
    return target;
  }

  private removeTempFiles(): void {
    for (const f of readdirSync(this.modelsDir)) {
      if (f.endsWith('.tmp')) rmSync(join(this.modelsDir, f), { force: true });
    }
    for (const sha of readdirSync(this.incomingDir)) {
      const dir = join(this.incomingDir, sha);
      for (const f of safeReaddir(dir))
        if (f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
    }
  }
}

function assertSha(sha256: string): void {
  // The hash becomes a path component: anything but 64 hex digits could escape the store.
  if (!SHA256_HEX.test(sha256)) throw new AgentError('SCHEMA_INVALID', `not a sha256: ${sha256}`);
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
