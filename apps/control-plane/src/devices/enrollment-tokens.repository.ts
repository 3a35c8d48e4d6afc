import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';

export interface EnrollmentTokenRow {
  id: string;
  name: string;
  token_hash: string;
  max_uses: number;
  uses: number;
  expires_at: number;
  tags_json: string;
  groups_json: string;
  created_at: number;
  revoked_at: number | null;
}

@Injectable()
export class EnrollmentTokensRepository {
  constructor(private readonly database: SqliteDatabase) {}

  insert(row: Omit<EnrollmentTokenRow, 'uses' | 'revoked_at'>): void {
    this.database.db
      .prepare(
        `INSERT INTO enrollment_tokens (id, name, token_hash, max_uses, expires_at, tags_json, groups_json, created_at)
         VALUES (@id, @name, @token_hash, @max_uses, @expires_at, @tags_json, @groups_json, @created_at)`,
      )
      .run(row);
  }

  findByHash(tokenHash: string): EnrollmentTokenRow | undefined {
    return this.database.db
      .prepare('SELECT * FROM enrollment_tokens WHERE token_hash = ?')
      .get(tokenHash) as EnrollmentTokenRow | undefined;
  }

  /** Counts one use if the token still has one left; false when it is used up. */
  consume(id: string): boolean {
    return (
      this.database.db
        .prepare('UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ? AND uses < max_uses')
        .run(id).changes > 0
    );
  }
}
