import { closeSync, fsync, openSync } from 'node:fs';

/** Flushes one open file to stable storage; the default is `fs.fsync` on libuv's thread pool. */
export type FsyncFile = (fd: number) => Promise<void>;

const fsyncOnThreadPool: FsyncFile = (fd) =>
  new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));

/**
 * Makes commits that SQLite wrote to its WAL without syncing them (`synchronous = NORMAL`)
 * durable, off the event loop: `durable()` resolves once an fsync of the WAL file that started
 * after the caller's commit has finished. Concurrent callers share fsyncs: at most one runs at a
 * time, and every caller that committed while it ran is served by the next one (group commit).
 *
 * Why this is as durable as `synchronous = FULL`: in WAL mode FULL differs from NORMAL only in
 * the fsync of the WAL at each commit; the WAL is appended in commit order and fsync flushes the
 * whole file, so one fsync after a commit covers it and every commit before it. Checkpoints sync
 * the WAL and the database themselves in both modes.
 *
 * A failed fsync is final: after one, the kernel may have dropped the dirty pages it could not
 * write, so a later fsync that succeeds proves nothing. Every waiting and later `durable()`
 * rejects, and nothing more is acknowledged as durable until the process restarts (SQLite
 * recovers from the WAL on disk at open).
 */
export class WalFsyncBarrier {
  private fd: number | null = null;
  /** Commits noted so far, and the number already covered by a finished fsync. */
  private committed = 0;
  private synced = 0;
  private syncing = false;
  private failure: Error | null = null;
  private waiters: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];

  constructor(
    private readonly walPath: string,
    private readonly fsyncFile: FsyncFile = fsyncOnThreadPool,
  ) {}

  /** A commit went to the WAL unsynced; a later `durable()` covers it. */
  noteUnsyncedCommit(): void {
    this.committed++;
  }

  /** A commit synced the WAL itself (`synchronous = FULL`): everything before it is durable. */
  noteSyncedCommit(): void {
    this.synced = this.committed;
    this.release();
  }

  /** Resolves when every commit noted so far is on stable storage. */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.synced >= this.committed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ upTo: this.committed, resolve, reject });
      this.startSync();
    });
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private startSync(): void {
    if (this.syncing || this.failure || this.waiters.length === 0) return;
    this.syncing = true;
    const upTo = this.committed;
    let fd: number;
    try {
      // Opened at the first sync: SQLite creates the WAL with the first write, and keeps the
      // same file (rewritten from its start after a checkpoint) while a connection is open.
      fd = this.fd ??= openSync(this.walPath, 'r');
    } catch (err) {
      return this.fail(err as Error);
    }
    this.fsyncFile(fd).then(
      () => {
        this.syncing = false;
        this.synced = Math.max(this.synced, upTo);
        this.release();
        this.startSync();
      },
      (err: Error) => this.fail(err),
    );
  }

  private release(): void {
    const pending = this.waiters;
    this.waiters = [];
    for (const w of pending) {
      if (w.upTo <= this.synced) w.resolve();
      else this.waiters.push(w);
    }
  }

  private fail(err: Error): void {
    this.syncing = false;
    this.failure = new Error(`WAL fsync failed; no further commit is acknowledged: ${err.message}`);
    const pending = this.waiters;
    this.waiters = [];
    for (const w of pending) w.reject(this.failure);
  }
}
