import { Inject, Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
  type ReadStream,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fsyncDir } from '../common/atomic-file';
import { DomainError } from '../common/domain-errors';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';

export interface StoredArtifact {
  sha256: string;
  bytes: number;
}

/**
 * Content-addressed files: `artifacts/sha256/ab/abcd...`. A new file is written to `tmp/`,
 * hashed on the way, fsynced and renamed into place, so a crash never leaves a partial file
 * under a hash name, and the same content is stored once.
 */
@Injectable()
export class ArtifactStoreRepository {
  private readonly root: string;
  private readonly tmp: string;

  constructor(@Inject(CONFIG) config: ControlPlaneConfig) {
    this.root = join(config.dataDir, 'artifacts', 'sha256');
    this.tmp = join(config.dataDir, 'artifacts', 'tmp');
    mkdirSync(this.root, { recursive: true });
    // Leftovers of writes cut by a crash: never referenced, safe to drop at start.
    rmSync(this.tmp, { recursive: true, force: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  pathOf(sha256: string): string {
    return join(this.root, sha256.slice(0, 2), sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.pathOf(sha256));
  }

  /** Streams `source` into the store; rejects (and keeps nothing) past `maxBytes`. */
  async putStream(source: Readable, maxBytes: number): Promise<StoredArtifact> {
    const temp = join(this.tmp, randomBytes(12).toString('hex'));
    const fd = openSync(temp, 'wx', 0o644);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of source) {
        const buffer = chunk as Buffer;
        bytes += buffer.length;
        if (bytes > maxBytes)
          throw new DomainError('too_large', `upload exceeds ${maxBytes} bytes`);
        hash.update(buffer);
        writeSync(fd, buffer);
      }
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      rmSync(temp, { force: true });
      throw err;
    }
    closeSync(fd);
    return this.commit(temp, hash.digest('hex'), bytes);
  }

  putBuffer(data: Buffer): StoredArtifact {
    const temp = join(this.tmp, randomBytes(12).toString('hex'));
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return this.commit(temp, createHash('sha256').update(data).digest('hex'), data.length);
  }

  read(sha256: string): Buffer {
    return readFileSync(this.pathOf(sha256));
  }

  stream(sha256: string): ReadStream {
    return createReadStream(this.pathOf(sha256));
  }

  delete(sha256: string): void {
    rmSync(this.pathOf(sha256), { force: true });
  }

  /** Every hash with a file on disk (garbage collection compares it with the database). */
  list(): string[] {
    return readdirSync(this.root).flatMap((prefix) => readdirSync(join(this.root, prefix)));
  }

  private commit(temp: string, sha256: string, bytes: number): StoredArtifact {
    const final = this.pathOf(sha256);
    if (existsSync(final)) {
      rmSync(temp, { force: true });
    } else {
      mkdirSync(join(this.root, sha256.slice(0, 2)), { recursive: true });
      renameSync(temp, final);
      fsyncDir(join(this.root, sha256.slice(0, 2)));
    }
    return { sha256, bytes };
  }
}
