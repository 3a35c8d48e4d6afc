import type { SqliteDatabase } from './sqlite.database';

interface Pending<T, R> {
  item: T;
  resolve: (result: R) => void;
  reject: (err: Error) => void;
}

/**
 * Group commit: work items submitted during one event-loop turn are applied in a single
 * IMMEDIATE transaction, and each submitter's promise settles only after that transaction is on
 * stable storage. A commit costs one fsync (milliseconds), so acknowledging each MQTT message
 * only after its own commit would cap ingest at a few hundred messages per second; batching
 * keeps "acknowledged means durable" and pays one fsync per batch.
 *
 * The batch commits `deferred` and the fsync runs on libuv's thread pool (`durable()`): the
 * event loop serves sockets and applies the next batch while the disk works, where a synced
 * commit held it for the whole fsync. Promises still settle only after that fsync.
 *
 * An item whose work throws is rolled back alone (a savepoint) and its promise rejects; the
 * rest of the batch still commits. If the commit or its fsync fails, every promise of the batch
 * rejects.
 */
export class GroupCommitQueue<T, R> {
  private queue: Pending<T, R>[] = [];
  private scheduled = false;

  constructor(
    private readonly database: SqliteDatabase,
    private readonly kind: string,
    private readonly apply: (item: T) => R,
    private readonly maxBatch = 1000,
  ) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length > 0) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    const settled: ({ ok: true; value: R } | { ok: false; err: Error })[] = [];
    try {
      this.database.write(
        this.kind,
        () => {
          for (const p of batch) {
            try {
              settled.push({
                ok: true,
                value: this.database.savepoint(() => this.apply(p.item)),
              });
            } catch (err) {
              settled.push({ ok: false, err: err as Error });
            }
          }
        },
        'deferred',
      );
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
      return;
    }
    this.database.durable().then(
      () =>
        batch.forEach((p, i) => {
          const s = settled[i]!;
          if (s.ok) p.resolve(s.value);
          else p.reject(s.err);
        }),
      (err: Error) => {
        for (const p of batch) p.reject(err);
      },
    );
  }
}
