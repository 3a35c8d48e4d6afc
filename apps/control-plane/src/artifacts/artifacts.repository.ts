import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';

export interface ArtifactRow {
  sha256: string;
  bytes: number;
  media_type: string;
  created_at: number;
  published_at: number | null;
  chunk_bytes: number | null;
  chunk_count: number | null;
}

@Injectable()
export class ArtifactsRepository {
  constructor(private readonly database: SqliteDatabase) {}

  /** Records an artifact once; storing the same content again is a no-op. */
  upsert(row: Pick<ArtifactRow, 'sha256' | 'bytes' | 'media_type' | 'created_at'>): void {
    this.database.db
      .prepare(
        `INSERT INTO artifacts (sha256, bytes, media_type, created_at) VALUES (@sha256, @bytes, @media_type, @created_at)
         ON CONFLICT(sha256) DO NOTHING`,
      )
      .run(row);
  }

  get(sha256: string): ArtifactRow | undefined {
    return this.database.db.prepare('SELECT * FROM artifacts WHERE sha256 = ?').get(sha256) as
      ArtifactRow | undefined;
  }

  all(): ArtifactRow[] {
    return this.database.db.prepare('SELECT * FROM artifacts').all() as ArtifactRow[];
  }

  published(): ArtifactRow[] {
    return this.database.db
      .prepare('SELECT * FROM artifacts WHERE published_at IS NOT NULL')
      .all() as ArtifactRow[];
  }

  markPublished(sha256: string, at: number, chunkBytes: number, chunkCount: number): void {
    this.database.db
      .prepare(
        'UPDATE artifacts SET published_at = ?, chunk_bytes = ?, chunk_count = ? WHERE sha256 = ?',
      )
      .run(at, chunkBytes, chunkCount, sha256);
  }

  /**
   * Artifacts nothing refers to: no variant, and no rollout still running or paused (its
   * variant's file, and the drift-probe sample its devices fetch).
   */
  unreferenced(): ArtifactRow[] {
    return this.database.db
      .prepare(`SELECT a.* FROM artifacts a WHERE ${unreferenced('a.sha256')}`)
      .all() as ArtifactRow[];
  }

  /** Deletes the row if still unreferenced (checked in the same statement). */
  deleteIfUnreferenced(sha256: string): boolean {
    return (
      this.database.db
        .prepare(`DELETE FROM artifacts WHERE sha256 = @sha AND ${unreferenced('@sha')}`)
        .run({ sha: sha256 }).changes > 0
    );
  }
}

/** SQL that holds when the artifact named by the expression `sha` is referenced by nothing. */
function unreferenced(sha: string): string {
  return `NOT EXISTS (SELECT 1 FROM variants v WHERE v.artifact_sha256 = ${sha})
    AND NOT EXISTS (SELECT 1 FROM rollouts r
                    WHERE r.state IN ('running', 'paused') AND r.artifact_sha256 = ${sha})
    AND NOT EXISTS (SELECT 1 FROM rollout_probes p JOIN rollouts r ON r.id = p.rollout_id
                    WHERE r.state IN ('running', 'paused') AND p.sample_sha256 = ${sha})`;
}
