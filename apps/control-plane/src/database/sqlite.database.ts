import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations';

export type Sqlite = BetterSqlite3.Database;

/** Observes how long each write transaction takes (feeds the DB timing metric). */
export type TransactionObserver = (kind: string, seconds: number) => void;

/**
 * The one SQLite connection of the process. WAL so readers never block the writer,
 * `synchronous=FULL` because better-sqlite3 builds with NORMAL-in-WAL (durable against app
 * crashes but not power loss), and every write transaction `BEGIN IMMEDIATE` so a second process
 * never hits SQLITE_BUSY on a read-to-write upgrade.
 */
export class SqliteDatabase {
  readonly db: Sqlite;
  private observer: TransactionObserver = () => {};

  constructor(path: string, migrations: readonly Migration[] = MIGRATIONS) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new BetterSqlite3(path, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate(migrations);
  }

  observeTransactions(observer: TransactionObserver): void {
    this.observer = observer;
  }

  /** Runs `work` in one IMMEDIATE transaction; it commits if `work` returns, rolls back if it throws. */
  write<T>(kind: string, work: () => T): T {
    const started = process.hrtime.bigint();
    try {
      return this.db.transaction(work).immediate();
    } finally {
      this.observer(kind, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  schemaVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
      v: number | null;
    };
    return row.v ?? 0;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private migrate(migrations: readonly Migration[]): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    migrations.forEach((m, i) => {
      if (m.version !== i + 1)
        throw new Error(`migration ${m.name} has version ${m.version}, expected ${i + 1}`);
    });
    const current = this.schemaVersion();
    if (current > migrations.length) {
      throw new Error(
        `database schema version ${current} is newer than this build knows (${migrations.length}); refusing to start`,
      );
    }
    for (const m of migrations.slice(current)) {
      // Each migration and its bookkeeping row commit together: a crash leaves the old schema.
      this.write('migration', () => {
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, Date.now());
      });
    }
  }
}
