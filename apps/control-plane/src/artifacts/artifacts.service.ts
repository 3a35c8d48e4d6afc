import { Inject, Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import {
  buildManifest,
  encodeMessage,
  signManifest,
  splitIntoChunks,
  topics,
  type ArtifactContentType,
} from '@edgecompress/protocol';
import { CLOCK, type Clock } from '../common/clock';
import { LOGGER, type Logger } from '../common/logger';
import { notFound } from '../common/domain-errors';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { SqliteDatabase } from '../database/sqlite.database';
import { MetricsService } from '../health/metrics.service';
import { MQTT_TRANSPORT, type MqttTransport } from '../mqtt/mqtt-transport';
import { ArtifactStoreRepository, type StoredArtifact } from './artifact-store.repository';
import { ArtifactsRepository, type ArtifactRow } from './artifacts.repository';
import { SigningKeyRepository } from './signing-key.repository';

const EMPTY = Buffer.alloc(0);

/**
 * Artifacts: content-addressed files, their rows, and their publication to
 * `ec/v1/artifacts/{sha256}/…` as retained chunks plus a signed manifest. Chunks go out before
 * the manifest, so an agent that sees a manifest finds every chunk already retained.
 */
@Injectable()
export class ArtifactsService {
  /** Artifacts in use by this process, with how many users each (see pin). */
  private readonly pins = new Map<string, number>();

  constructor(
    private readonly store: ArtifactStoreRepository,
    private readonly artifacts: ArtifactsRepository,
    private readonly key: SigningKeyRepository,
    private readonly database: SqliteDatabase,
    private readonly metrics: MetricsService,
    @Inject(MQTT_TRANSPORT) private readonly transport: MqttTransport,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  storeStream(source: Readable): Promise<StoredArtifact> {
    return this.store.putStream(source, this.config.limits.maxUploadBytes);
  }

  storeBuffer(data: Buffer): StoredArtifact {
    return this.store.putBuffer(data);
  }

  /** Records the row for a stored file (inside the caller's transaction). */
  record(stored: StoredArtifact, mediaType: ArtifactContentType): void {
    this.artifacts.upsert({
      sha256: stored.sha256,
      bytes: stored.bytes,
      media_type: mediaType,
      created_at: this.clock.now(),
    });
  }

  get(sha256: string): ArtifactRow {
    const row = this.artifacts.get(sha256);
    if (!row) throw notFound('artifact', sha256);
    return row;
  }

  read(sha256: string): Buffer {
    this.get(sha256);
    return this.store.read(sha256);
  }

  /** Drops a just-stored file that failed validation, unless a row (an earlier upload) owns it. */
  discardIfUnrecorded(sha256: string): void {
    if (!this.artifacts.get(sha256)) this.store.delete(sha256);
  }

  /** A stored file's bytes, before its row exists (validation of a fresh upload). */
  readStored(sha256: string): Buffer {
    return this.store.read(sha256);
  }

  stream(sha256: string) {
    this.get(sha256);
    return this.store.stream(sha256);
  }

  publicKey() {
    return { algorithm: 'ed25519', keyId: this.key.keyId, publicKeyPem: this.key.publicKeyPem };
  }

  /** Publishes (or re-publishes) an artifact's chunks and signed manifest, retained. */
  async publish(
    sha256: string,
  ): Promise<{ sha256: string; chunkCount: number; chunkBytes: number }> {
    const row = this.get(sha256);
    const data = this.store.read(sha256);
    const chunkBytes = row.chunk_bytes ?? this.config.artifacts.chunkBytes;
    const manifest = signManifest(
      buildManifest(data, {
        contentType: row.media_type as ArtifactContentType,
        createdAt: row.created_at,
        chunkSize: chunkBytes,
      }),
      this.key.privateKey,
    );
    const chunks = splitIntoChunks(data, chunkBytes);
    for (const [index, chunk] of chunks.entries()) {
      await this.transport.publish(topics.artifactChunk(sha256, index), chunk, {
        qos: 1,
        retain: true,
      });
      this.metrics.mqttMessagesOut.inc({ kind: 'chunk' });
    }
    await this.transport.publish(
      topics.artifactManifest(sha256),
      encodeMessage('manifest', manifest),
      { qos: 1, retain: true },
    );
    this.metrics.mqttMessagesOut.inc({ kind: 'manifest' });
    this.database.write('artifact.published', () =>
      this.artifacts.markPublished(sha256, this.clock.now(), chunkBytes, chunks.length),
    );
    return { sha256, chunkCount: chunks.length, chunkBytes };
  }

  /** Clears the retained manifest first (agents stop starting fetches), then the chunks. */
  async unpublish(row: ArtifactRow): Promise<void> {
    if (row.published_at === null || row.chunk_count === null) return;
    await this.transport.publish(topics.artifactManifest(row.sha256), EMPTY, {
      qos: 1,
      retain: true,
    });
    for (let i = 0; i < row.chunk_count; i++) {
      await this.transport.publish(topics.artifactChunk(row.sha256, i), EMPTY, {
        qos: 1,
        retain: true,
      });
    }
  }

  /** The embedded broker keeps retained messages in memory: restore them after a restart. */
  async republishAll(): Promise<number> {
    const rows = this.artifacts.published();
    for (const row of rows) {
      if (this.store.has(row.sha256)) await this.publish(row.sha256);
    }
    return rows.length;
  }

  /**
   * Keeps an artifact out of garbage collection until the returned function is called: for a
   * file in use that no row refers to yet or at all (a latency candidate while devices fetch
   * and benchmark it). Pins live in this process; nothing is in use after a restart.
   */
  pin(sha256: string): () => void {
    this.pins.set(sha256, (this.pins.get(sha256) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.pins.get(sha256) ?? 1) - 1;
      if (left > 0) this.pins.set(sha256, left);
      else this.pins.delete(sha256);
    };
  }

  /**
   * Deletes artifacts nothing refers to (no variant, no running or paused rollout, no pin):
   * database row, retained messages and file. Also removes files that never got a row (a crash
   * between writing the file and committing).
   */
  async collectGarbage(): Promise<{ deleted: string[]; orphanFiles: string[] }> {
    const deleted: string[] = [];
    for (const row of this.artifacts.unreferenced()) {
      if (this.pins.has(row.sha256)) continue;
      if (
        !this.database.write('artifact.gc', () => this.artifacts.deleteIfUnreferenced(row.sha256))
      )
        continue;
      try {
        await this.unpublish(row);
      } catch (err) {
        this.logger.warn(
          { sha256: row.sha256, err: (err as Error).message },
          'clearing retained artifact failed',
        );
      }
      this.store.delete(row.sha256);
      deleted.push(row.sha256);
    }
    const known = new Set(this.artifacts.all().map((a) => a.sha256));
    const orphanFiles = this.store.list().filter((sha) => !known.has(sha) && !this.pins.has(sha));
    for (const sha of orphanFiles) this.store.delete(sha);
    return { deleted, orphanFiles };
  }
}
