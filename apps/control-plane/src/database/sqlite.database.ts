import BetterSqlite3 from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS, type Migration } from './migrations';
import { WalFsyncBarrier, type FsyncFile } from './wal-fsync.barrier';

export type Sqlite = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement;

/**
 * Distinct SQL texts kept compiled. The repositories' texts are a few hundred at most (some are
 * built per call, e.g. an UPDATE of the columns a patch names); beyond this the least recently
 * used is dropped.
 */
const STATEMENT_CACHE_SIZE = 512;

/** Observes how long each write transaction takes (feeds the DB timing metric). */
export type TransactionObserver = (kind: string, seconds: number) => void;

/**
 * When a write transaction's commit reaches stable storage. `synced`: inside the commit (SQLite
 * fsyncs the WAL on the calling thread, which blocks the event loop for the fsync). `deferred`:
 * the commit only writes the WAL (safe against a process crash at once), and the caller must
 * `await durable()` before it tells anyone the write happened (an MQTT ack, a reply); the fsync
 * then runs on libuv's thread pool and is shared by every commit made meanwhile. What deferring
 * costs: until that fsync, readers already see the commit, and a power loss (not a process
 * crash) in those milliseconds takes it back; nothing acknowledged or published depends on it.
 */
export type CommitDurability = 'synced' | 'deferred';

/**
 * The one SQLite connection of the process. WAL so readers never block the writer,
 * `synchronous=FULL` because better-sqlite3 builds with NORMAL-in-WAL (durable against app
 * crashes but not power loss), and every write transaction `BEGIN IMMEDIATE` so a second process
 * never hits SQLITE_BUSY on a read-to-write upgrade. A `deferred` write commits under NORMAL
 * and is made durable by `durable()` (see WalFsyncBarrier) before anyone is told of it.
 */
export class SqliteDatabase {
  readonly db: Sqlite;
  private observer: TransactionObserver = () => {};
  /** One transaction wrapper for every write: better-sqlite3 builds a new one per `transaction()` call. */
  private readonly inTransaction: BetterSqlite3.Transaction<<T>(work: () => T) => T>;
  /** Null in memory, where there is nothing to sync. */
  private readonly walSync: WalFsyncBarrier | null;

  constructor(path: string, migrations: readonly Migration[] = MIGRATIONS, fsyncFile?: FsyncFile) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.walSync = path === ':memory:' ? null : new WalFsyncBarrier(`${path}-wal`, fsyncFile);
    this.db = new BetterSqlite3(path, { timeout: 5000 });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.cacheStatements();
    this.inTransaction = this.db.transaction(<T>(work: () => T): T => work());
    this.migrate(migrations);
  }

  observeTransactions(observer: TransactionObserver): void {
    this.observer = observer;
  }

  /**
   * Runs `work` in one IMMEDIATE transaction; it commits if `work` returns, rolls back if it
   * throws. Inside another write it is a savepoint: a throw undoes only its own changes (and
   * the outer write's durability applies). A `deferred` commit is durable only once a later
   * `durable()` resolves.
   */
  write<T>(kind: string, work: () => T, durability: CommitDurability = 'synced'): T {
    const started = process.hrtime.bigint();
    const outermost = !this.db.inTransaction;
    const deferred = durability === 'deferred' && outermost && this.walSync !== null;
    if (deferred) this.db.prepare('PRAGMA synchronous = NORMAL').run();
    try {
      const result = this.inTransaction.immediate(work) as T;
      if (deferred) this.walSync!.noteUnsyncedCommit();
      else if (outermost) this.walSync?.noteSyncedCommit();
      return result;
    } finally {
      if (deferred) this.db.prepare('PRAGMA synchronous = FULL').run();
      this.observer(kind, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /**
   * Resolves when every write committed so far is on stable storage: at once if none was
   * deferred since the last sync, else after an fsync of the WAL off the event loop. Rejects for
   * good once an fsync has failed.
   */
  durable(): Promise<void> {
    return this.walSync ? this.walSync.durable() : Promise.resolve();
  }

  /**
   * Runs `work` inside the current write transaction as a savepoint (a throw undoes only its
   * changes and propagates), unobserved: for the items of a batch the caller already times.
   */
  savepoint<T>(work: () => T): T {
    if (!this.db.inTransaction) throw new Error('savepoint() needs an open write transaction');
    return this.inTransaction(work) as T;
  }

  schemaVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
      v: number | null;
    };
    return row.v ?? 0;
  }

  close(): void {
    this.walSync?.close();
    if (this.db.open) this.db.close();
  }

  /**
   * `db.prepare` answers from a cache of compiled statements keyed by SQL text. Compiling was the
   * largest single CPU cost of the ingest path (the repositories prepare their SQL on every
   * call: about 11 of the control plane's 73 busy CPU-seconds in a 1,000-device rollout). A
   * statement runs to completion synchronously (nothing here iterates one lazily or rebinds it),
   * so sharing one per text is safe as long as no caller switches a statement's mode (`pluck`,
   * `raw`, `expand`, `safeIntegers` would leak to every user of that text: do not use them on
   * `db.prepare` results); SQLite recompiles a cached statement itself after a
   * schema change.
   */
  private cacheStatements(): void {
    const compile = this.db.prepare.bind(this.db);
    const cache = new Map<string, Statement>();
    const prepare = (source: string): Statement => {
      let statement = cache.get(source);
      if (statement) {
        cache.delete(source); // re-inserted below: Map order is recency order
      } else {
        statement = compile(source);
        if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      }
      cache.set(source, statement);
      return statement;
    };
    this.db.prepare = prepare as Sqlite['prepare'];
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
