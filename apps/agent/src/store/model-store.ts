/**
 * Content-addressed model files on the device.
 *
 *   models/<sha256>.onnx          complete, hash-verified artifacts (the only files ever loaded)
 *   models/<sha256>.expanded.onnx a packed low-bit artifact's runnable form, written before the
 *                                 artifact itself, so a present artifact always has it
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
import { expandPackedOnnx, mayHavePackedWeights } from './packed-onnx';

export interface ChunkLayout {
  sha256: string;
  size: number;
  chunkSize: number;
  chunkCount: number;
  /** `application/onnx` artifacts with packed low-bit weights are expanded when committed. */
  contentType?: string;
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

  /** The verified artifact bytes (what its sha256 names). */
  artifactPath(sha256: string): string {
    assertSha(sha256);
    return join(this.modelsDir, `${sha256}.onnx`);
  }

  private expandedPath(sha256: string): string {
    assertSha(sha256);
    return join(this.modelsDir, `${sha256}.expanded.onnx`);
  }

  /** The file to load: the expanded form of a packed artifact, else the artifact itself. */
  modelPath(sha256: string): string {
    const expanded = this.expandedPath(sha256);
    return existsSync(expanded) ? expanded : this.artifactPath(sha256);
  }

  hasModel(sha256: string): boolean {
    return existsSync(this.artifactPath(sha256));
  }

  /** Bytes a stored model occupies (artifact plus its expanded form). */
  private modelBytes(sha256: string): number {
    let total = statSync(this.artifactPath(sha256)).size;
    try {
      total += statSync(this.expandedPath(sha256)).size;
    } catch {
      // not a packed artifact
    }
    return total;
  }

  /** Deletes a stored model and its expanded form (the artifact first: no half-present model). */
  removeModel(sha256: string): void {
    rmSync(this.artifactPath(sha256), { force: true });
    rmSync(this.expandedPath(sha256), { force: true });
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
    for (const sha of this.listModels()) total += this.modelBytes(sha);
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
    const evictable = this.evictable(layout.sha256, protectedShas);
    const reclaimable = evictable.reduce((sum, m) => sum + m.size, 0);
    if (needed > free + reclaimable) {
      throw new AgentError(
        'DISK_FULL',
        `artifact ${layout.sha256} needs ${needed} more bytes; ${free} free of ${this.quotaBytes} and only ${reclaimable} reclaimable`,
      );
    }
    for (const m of evictable) {
      if (needed <= free) break;
      this.removeModel(m.sha);
      free += m.size;
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
  assemble(layout: ChunkLayout, protectedShas: ReadonlySet<string> = new Set()): string {
    const target = this.artifactPath(layout.sha256);
    if (existsSync(target)) {
      this.discardIncoming(layout.sha256);
      return this.modelPath(layout.sha256);
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
    this.commit(temp, layout, protectedShas);
    this.discardIncoming(layout.sha256);
    return this.modelPath(layout.sha256);
  }

  /**
   * Moves a verified temp file to models/<sha>.onnx. A packed low-bit ONNX artifact gets its
   * expanded form written first, so a present artifact is always loadable; the expanded size must
   * fit the quota like any other bytes.
   */
  private commit(temp: string, layout: ChunkLayout, protectedShas: ReadonlySet<string>): void {
    const target = this.artifactPath(layout.sha256);
    try {
      if (layout.contentType === 'application/onnx') {
        const bytes = readFileSync(temp);
        if (mayHavePackedWeights(bytes)) this.writeExpanded(bytes, layout.sha256, protectedShas);
      }
      renameSync(temp, target);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    fsyncDir(this.modelsDir);
  }

  private writeExpanded(
    bytes: Uint8Array,
    sha256: string,
    protectedShas: ReadonlySet<string>,
  ): void {
    let expanded: Uint8Array;
    try {
      expanded = expandPackedOnnx(bytes);
    } catch (err) {
      this.discardIncoming(sha256);
      throw new AgentError(
        'MODEL_LOAD_FAILED',
        `artifact ${sha256} has packed weights that cannot be expanded: ${(err as Error).message}`,
        false,
      );
    }
    if (expanded === bytes) return;
    this.makeRoom(expanded.length, sha256, protectedShas);
    const path = this.expandedPath(sha256);
    const temp = tempPathFor(path);
    try {
      writeSynced(temp, expanded);
      renameSync(temp, path);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
  }

  /** Room for `bytes` more (beyond this artifact's own chunks), evicting unprotected models. */
  private makeRoom(bytes: number, sha256: string, protectedShas: ReadonlySet<string>): void {
    const used = this.usedBytes() - this.receivedBytes(sha256);
    let free = this.quotaBytes - used;
    if (bytes <= free) return;
    const evictable = this.evictable(sha256, protectedShas);
    const reclaimable = evictable.reduce((sum, m) => sum + m.size, 0);
    if (bytes > free + reclaimable) {
      this.discardIncoming(sha256);
      throw new AgentError(
        'DISK_FULL',
        `artifact ${sha256} expands to ${bytes} bytes; ${free} free of ${this.quotaBytes} and only ${reclaimable} reclaimable`,
      );
    }
    for (const m of evictable) {
      if (bytes <= free) break;
      this.removeModel(m.sha);
      free += m.size;
    }
  }

  private evictable(
    sha256: string,
    protectedShas: ReadonlySet<string>,
  ): { sha: string; size: number; mtimeMs: number }[] {
    return this.listModels()
      .filter((sha) => sha !== sha256 && !protectedShas.has(sha))
      .map((sha) => ({
        sha,
        size: this.modelBytes(sha),
        mtimeMs: statSync(this.artifactPath(sha)).mtimeMs,
      }))
      .sort((a, b) => a.mtimeMs - b.mtimeMs);
  }

  /** Adds a complete file whose bytes are already in memory (HTTP download, tests). */
  importBytes(
    bytes: Uint8Array,
    expectedSha256: string,
    contentType?: string,
    protectedShas: ReadonlySet<string> = new Set(),
  ): string {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== expectedSha256) {
      throw new AgentError('CHECKSUM_MISMATCH', `sha256 ${actual}, expected ${expectedSha256}`);
    }
    const temp = tempPathFor(this.artifactPath(expectedSha256));
    writeSynced(temp, bytes);
    const layout = {
      sha256: expectedSha256,
      size: bytes.length,
      chunkSize: bytes.length,
      chunkCount: 1,
    };
    this.commit(temp, contentType ? { ...layout, contentType } : layout, protectedShas);
    return this.modelPath(expectedSha256);
  }

  private removeTempFiles(): void {
    for (const f of readdirSync(this.modelsDir)) {
      if (f.endsWith('.tmp')) rmSync(join(this.modelsDir, f), { force: true });
      // An expanded form whose artifact never arrived (crash in between, or evicted).
      const orphan = /^([0-9a-f]{64})\.expanded\.onnx$/.exec(f);
      if (orphan && !this.hasModel(orphan[1]!)) rmSync(join(this.modelsDir, f), { force: true });
    }
    for (const sha of readdirSync(this.incomingDir)) {
      const dir = join(this.incomingDir, sha);
      for (const f of safeReaddir(dir))
        if (f.endsWith('.tmp')) rmSync(join(dir, f), { force: true });
    }
  }
}

function writeSynced(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w', 0o600);
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
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
