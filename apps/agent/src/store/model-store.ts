/**
 * Content-addressed model files on the device.
 *
 *   models/<sha256>.onnx          complete, verified artifacts (the only files ever loaded)
 *   models/<sha256>.expanded.onnx a packed low-bit artifact's runnable form, written before the
 *                                 artifact itself, so a present artifact always has it
 *   incoming/<sha256>.part        the artifact being received: each chunk written in place at
 *                                 index * chunkSize (one pwrite, no per-chunk file or fsync)
 *                                 once its sha256 matched the signed manifest's list; kept
 *                                 across restarts, where every region whose sha256 matches the
 *                                 list counts as received (a torn write simply does not)
 *
 * With the signed list of chunk hashes, a file whose every chunk matched its entry, in order, is
 * the file the manifest describes (SHA-256 is collision resistant): it is assembled without a
 * second pass over its bytes. A layout without the list is hashed whole before it is committed.
 *
 * Disk use (complete + incoming) never exceeds the quota: room is made by evicting models that
 * are neither protected (active, previous, in use) nor being received, else QUOTA_EXCEEDED.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../agent-error';
import { fsyncDir, tempPathFor } from './atomic-file';
import {
  expandInProcess,
  fileMayHavePackedWeights,
  type ExpandOutcome,
  type ExpandPackedFile,
} from './packed-onnx';

export interface ChunkLayout {
  sha256: string;
  size: number;
  chunkSize: number;
  chunkCount: number;
  /**
   * sha256 of each chunk (the signed manifest's list): every chunk is checked against it when
   * written and when found in a partial file kept from before a restart.
   */
  chunks?: readonly string[];
  /** `application/onnx` artifacts with packed low-bit weights are expanded when committed. */
  contentType?: string;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** The layout's chunk list, when it has one entry per chunk. */
function chunkList(layout: ChunkLayout): readonly string[] | undefined {
  return layout.chunks?.length === layout.chunkCount ? layout.chunks : undefined;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function expectedChunkLength(layout: ChunkLayout, index: number): number {
  if (index < layout.chunkCount - 1) return layout.chunkSize;
  return layout.size - layout.chunkSize * (layout.chunkCount - 1);
}

export class ModelStore {
  private readonly modelsDir: string;
  private readonly incomingDir: string;
  /** Open partial files and the chunks known to be in them. */
  private readonly parts = new Map<string, PartialFile>();

  constructor(
    dataDir: string,
    readonly quotaBytes: number,
    /** How packed low-bit artifacts are expanded (the agent: in a runner child). */
    private readonly expand: ExpandPackedFile = expandInProcess,
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

  /** Bytes on disk: complete models plus partial files (sized to their artifact when opened). */
  usedBytes(): number {
    let total = 0;
    for (const sha of this.listModels()) total += this.modelBytes(sha);
    for (const f of readdirSync(this.incomingDir)) total += sizeOf(join(this.incomingDir, f));
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

  private partPath(sha256: string): string {
    assertSha(sha256);
    return join(this.incomingDir, `${sha256}.part`);
  }

  /** Bytes set aside for an artifact being received (its partial file). */
  receivedBytes(sha256: string): number {
    return sizeOf(this.partPath(sha256));
  }

  /**
   * The partial file of an artifact, opened (and sized) on first use. A file kept from before a
   * restart is scanned once: a region counts as received only if its sha256 is the manifest's.
   */
  private part(layout: ChunkLayout): PartialFile {
    const open = this.parts.get(layout.sha256);
    if (open) return open;
    const path = this.partPath(layout.sha256);
    const present = new Set<number>();
    const kept = sizeOf(path) === layout.size;
    const fd = openSync(path, kept ? 'r+' : 'w+', 0o600);
    const list = chunkList(layout);
    if (kept && list) {
      const buffer = Buffer.allocUnsafe(layout.chunkSize);
      for (let i = 0; i < layout.chunkCount; i++) {
        const length = expectedChunkLength(layout, i);
        const read = readSync(fd, buffer, 0, length, i * layout.chunkSize);
        if (read === length && sha256Hex(buffer.subarray(0, read)) === list[i]) present.add(i);
      }
    } else if (!kept) {
      // Sized up front, so the quota sees the whole reservation from the first chunk on.
      ftruncateSync(fd, layout.size);
    }
    const entry: PartialFile = { fd, present, unlisted: 0 };
    this.parts.set(layout.sha256, entry);
    return entry;
  }

  hasChunk(layout: ChunkLayout, index: number): boolean {
    return this.part(layout).present.has(index);
  }

  missingChunks(layout: ChunkLayout): number[] {
    const { present } = this.part(layout);
    const missing: number[] = [];
    for (let i = 0; i < layout.chunkCount; i++) if (!present.has(i)) missing.push(i);
    return missing;
  }

  /**
   * Writes one chunk in place once its sha256 matches the layout's list (CHECKSUM_MISMATCH and
   * nothing written otherwise; without a list it is hashed with the whole file at assembly).
   * Not fsynced: after power loss a lost or torn chunk fails its hash at the next start and is
   * fetched again. Returns false for a chunk that was already present.
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
    const part = this.part(layout);
    if (part.present.has(index)) return false;
    const list = chunkList(layout);
    if (list && sha256Hex(bytes) !== list[index]) {
      throw new AgentError(
        'CHECKSUM_MISMATCH',
        `chunk ${index} of ${layout.sha256} does not match its sha256 in the manifest`,
      );
    }
    if (!list) part.unlisted++;
    let offset = 0;
    while (offset < bytes.length) {
      offset += writeSync(
        part.fd,
        bytes,
        offset,
        bytes.length - offset,
        index * layout.chunkSize + offset,
      );
    }
    part.present.add(index);
    return true;
  }

  /** Closes the partial file of a fetch that stopped; what it holds stays for a later resume. */
  release(sha256: string): void {
    const open = this.parts.get(sha256);
    if (!open) return;
    this.parts.delete(sha256);
    closeSync(open.fd);
  }

  discardIncoming(sha256: string): void {
    this.release(sha256);
    rmSync(this.partPath(sha256), { force: true });
  }

  /**
   * Turns the complete partial file into models/<sha256>.onnx: data fsynced, then renamed (no
   * copy), so the name appears only once every byte is verified and on disk. Chunks checked
   * against the signed list need nothing more; any chunk written without it makes the whole
   * file's sha256 be checked first, and on a mismatch the partial file is discarded (it cannot
   * be trusted) and CHECKSUM_MISMATCH is thrown.
   */
  async assemble(
    layout: ChunkLayout,
    protectedShas: ReadonlySet<string> = new Set(),
  ): Promise<string> {
    const target = this.artifactPath(layout.sha256);
    if (existsSync(target)) {
      this.discardIncoming(layout.sha256);
      return this.modelPath(layout.sha256);
    }
    const missing = this.missingChunks(layout);
    if (missing.length > 0) {
      throw new AgentError('ARTIFACT_NOT_FOUND', `${missing.length} chunks still missing`);
    }
    const { fd, unlisted } = this.part(layout);
    if (chunkList(layout) && unlisted === 0) {
      fsyncSync(fd);
      this.release(layout.sha256);
      await this.commit(this.partPath(layout.sha256), layout, protectedShas);
      return this.modelPath(layout.sha256);
    }
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(Math.min(layout.size, 1 << 20));
    let position = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, position);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
      position += read;
    }
    fsyncSync(fd);
    this.release(layout.sha256);
    const actual = hash.digest('hex');
    if (position !== layout.size || actual !== layout.sha256) {
      this.discardIncoming(layout.sha256);
      throw new AgentError(
        'CHECKSUM_MISMATCH',
        `assembled artifact has sha256 ${actual} (${position} bytes), manifest says ${layout.sha256} (${layout.size} bytes)`,
      );
    }
    await this.commit(this.partPath(layout.sha256), layout, protectedShas);
    return this.modelPath(layout.sha256);
  }

  /**
   * Moves a verified temp file to models/<sha>.onnx. A packed low-bit ONNX artifact gets its
   * expanded form written first, so a present artifact is always loadable; the expanded size must
   * fit the quota like any other bytes.
   */
  private async commit(
    temp: string,
    layout: ChunkLayout,
    protectedShas: ReadonlySet<string>,
  ): Promise<void> {
    const target = this.artifactPath(layout.sha256);
    try {
      if (layout.contentType === 'application/onnx' && fileMayHavePackedWeights(temp)) {
        await this.writeExpanded(temp, layout.sha256, protectedShas);
      }
      renameSync(temp, target);
    } catch (err) {
      rmSync(temp, { force: true });
      throw err;
    }
    fsyncDir(this.modelsDir);
  }

  /**
   * Expands the packed artifact `packedPath` (verified, not yet committed) into a temp file next
   * to its final name, then renames it into place. The expander writes only into the free room;
   * when the expanded form needs more, nothing is written, room is made by evicting unprotected
   * models (or DISK_FULL, nothing changed) and the expansion runs again: the store never holds
   * more than its quota, even for a moment.
   */
  private async writeExpanded(
    packedPath: string,
    sha256: string,
    protectedShas: ReadonlySet<string>,
  ): Promise<void> {
    const path = this.expandedPath(sha256);
    const temp = tempPathFor(path);
    try {
      // The packed file itself (incoming, or a temp beside the models) holds its bytes too.
      const held = sizeOf(packedPath);
      const free = this.quotaBytes - this.otherBytes(sha256) - held;
      let outcome = await this.expandOrRefuse(packedPath, temp, sha256, Math.max(0, free));
      if (outcome.kind === 'too-large') {
        this.makeRoom(outcome.bytes, held, sha256, protectedShas);
        outcome = await this.expandOrRefuse(packedPath, temp, sha256, outcome.bytes);
      }
      if (outcome.kind !== 'written') return;
      renameSync(temp, path);
    } finally {
      rmSync(temp, { force: true });
    }
  }

  private async expandOrRefuse(
    packedPath: string,
    temp: string,
    sha256: string,
    maxBytes: number,
  ): Promise<ExpandOutcome> {
    try {
      return await this.expand(packedPath, temp, maxBytes);
    } catch (err) {
      this.discardIncoming(sha256);
      throw new AgentError(
        'MODEL_LOAD_FAILED',
        `artifact ${sha256} has packed weights that cannot be expanded: ${(err as Error).message}`,
        false,
      );
    }
  }

  /** Bytes on disk that are not this artifact's: other models and other partial files. */
  private otherBytes(sha256: string): number {
    return this.usedBytes() - this.receivedBytes(sha256);
  }

  /**
   * Room for the `expanded` form beside the `held` bytes of this artifact's packed file,
   * evicting unprotected models; DISK_FULL (nothing evicted) when that cannot be done.
   */
  private makeRoom(
    expanded: number,
    held: number,
    sha256: string,
    protectedShas: ReadonlySet<string>,
  ): void {
    const bytes = expanded + held;
    let free = this.quotaBytes - this.otherBytes(sha256);
    if (bytes <= free) return;
    const evictable = this.evictable(sha256, protectedShas);
    const reclaimable = evictable.reduce((sum, m) => sum + m.size, 0);
    if (bytes > free + reclaimable) {
      this.discardIncoming(sha256);
      throw new AgentError(
        'DISK_FULL',
        `artifact ${sha256} expands to ${expanded} bytes beside its ${held} packed; ${free} free of ${this.quotaBytes} and only ${reclaimable} reclaimable`,
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
  async importBytes(
    bytes: Uint8Array,
    expectedSha256: string,
    contentType?: string,
    protectedShas: ReadonlySet<string> = new Set(),
  ): Promise<string> {
    const actual = sha256Hex(bytes);
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
    await this.commit(temp, contentType ? { ...layout, contentType } : layout, protectedShas);
    return this.modelPath(expectedSha256);
  }

  private removeTempFiles(): void {
    for (const f of readdirSync(this.modelsDir)) {
      if (f.endsWith('.tmp')) rmSync(join(this.modelsDir, f), { force: true });
      // An expanded form whose artifact never arrived (crash in between, or evicted).
      const orphan = /^([0-9a-f]{64})\.expanded\.onnx$/.exec(f);
      if (orphan && !this.hasModel(orphan[1]!)) rmSync(join(this.modelsDir, f), { force: true });
    }
    // Anything but a partial file (temp files, older layouts) is not resumable: drop it.
    for (const f of readdirSync(this.incomingDir)) {
      if (!/^[0-9a-f]{64}\.part$/.test(f)) {
        rmSync(join(this.incomingDir, f), { recursive: true, force: true });
      }
    }
  }
}

interface PartialFile {
  fd: number;
  /** Chunks verified against the layout's list (on write, or found intact after a restart). */
  present: Set<number>;
  /** Chunks written without a list to check them: the whole file is hashed at assembly. */
  unlisted: number;
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
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
