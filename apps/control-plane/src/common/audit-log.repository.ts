import { Inject, Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';
import { CLOCK, type Clock } from './clock';

/** Who changed what: provisioning, revocation, uploads, deletions. Written inside the caller's transaction when there is one. */
@Injectable()
export class AuditLogRepository {
  constructor(
    private readonly database: SqliteDatabase,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  record(actor: string, action: string, subject: string | null, detail: object = {}): void {
    this.database.db
      .prepare(
        'INSERT INTO audit_log (at, actor, action, subject, detail_json) VALUES (?, ?, ?, ?, ?)',
      )
      .run(this.clock.now(), actor, action, subject, JSON.stringify(detail));
  }
}
