import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';

export interface ApiTokenRow {
  id: string;
  name: string;
  token_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

@Injectable()
export class ApiTokensRepository {
  constructor(private readonly database: SqliteDatabase) {}

  insert(row: Pick<ApiTokenRow, 'id' | 'name' | 'token_hash' | 'created_at'>): void {
    this.database.write('api_token.insert', () =>
      this.database.db
        .prepare(
          'INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES (@id, @name, @token_hash, @created_at)',
        )
        .run(row),
    );
  }

  findActiveByHash(tokenHash: string): ApiTokenRow | undefined {
    return this.database.db
      .prepare('SELECT * FROM api_tokens WHERE token_hash = ? AND revoked_at IS NULL')
      .get(tokenHash) as ApiTokenRow | undefined;
  }

  list(): ApiTokenRow[] {
    return this.database.db
      .prepare('SELECT * FROM api_tokens ORDER BY created_at')
      .all() as ApiTokenRow[];
  }

  revoke(id: string, at: number): boolean {
    return (
      this.database.write('api_token.revoke', () =>
        this.database.db
          .prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL')
          .run(at, id),
      ).changes > 0
    );
  }
}
