import assert from 'node:assert/strict';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { GroupCommitQueue } from './group-commit.queue';
import { SqliteDatabase } from './sqlite.database';

describe('GroupCommitQueue', () => {
  let dir: TempDir;
  let database: SqliteDatabase;
  const commits: string[] = [];
  beforeEach(() => {
    dir = makeTempDir();
    database = new SqliteDatabase(join(dir.path, 'q.db'), [
      { version: 1, name: 't', sql: 'CREATE TABLE t (x INTEGER PRIMARY KEY)' },
    ]);
    commits.length = 0;
    database.observeTransactions((kind) => commits.push(kind));
  });
  afterEach(() => {
    database.close();
    dir.cleanup();
  });

  it('applies items submitted in one turn in one transaction and settles after commit', async () => {
    const queue = new GroupCommitQueue(database, 'batch', (x: number) => {
      database.db.prepare('INSERT INTO t (x) VALUES (?)').run(x);
      return x * 2;
    });
    const results = await Promise.all([1, 2, 3, 4].map((x) => queue.submit(x)));
    assert.deepEqual(results, [2, 4, 6, 8]);
    assert.deepEqual(commits, ['batch']);
    assert.equal((database.db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n, 4);
  });

  it('rolls back only the failing item and rejects only its promise', async () => {
    const queue = new GroupCommitQueue(database, 'batch', (x: number) => {
      database.db.prepare('INSERT INTO t (x) VALUES (?)').run(x);
      if (x === 2) throw new Error('bad item');
      return x;
    });
    const results = await Promise.allSettled([1, 2, 3].map((x) => queue.submit(x)));
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const rows = database.db.prepare('SELECT x FROM t ORDER BY x').all() as { x: number }[];
    assert.deepEqual(
      rows.map((r) => r.x),
      [1, 3],
    );
  });

  it('settles only after the WAL fsync that follows its commit, off the event loop', async () => {
    const fsyncs: { resolve: () => void; reject: (err: Error) => void }[] = [];
    const slow = new SqliteDatabase(
      join(dir.path, 'slow.db'),
      [{ version: 1, name: 't', sql: 'CREATE TABLE t (x INTEGER PRIMARY KEY)' }],
      () => new Promise<void>((resolve, reject) => fsyncs.push({ resolve, reject })),
    );
    try {
      const queue = new GroupCommitQueue(slow, 'batch', (x: number) => {
        slow.db.prepare('INSERT INTO t (x) VALUES (?)').run(x);
        return x;
      });
      const settled: number[] = [];
      const first = [1, 2].map((x) => queue.submit(x).then((v) => settled.push(v)));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      const count = () => (slow.db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n;
      assert.equal(count(), 2, 'committed');
      assert.equal(slow.db.pragma('synchronous', { simple: true }), 2);
      assert.equal(settled.length, 0, 'not acknowledged before the fsync');
      // The next batch commits while the first one's fsync is still running.
      const second = queue.submit(3).then((v) => settled.push(v));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.equal(count(), 3);
      assert.equal(fsyncs.length, 1, 'one fsync at a time');
      fsyncs[0]!.resolve();
      await Promise.all(first);
      assert.deepEqual(settled, [1, 2]);
      fsyncs[1]!.resolve();
      await second;
      assert.deepEqual(settled, [1, 2, 3]);
      // A failed fsync refuses the batch: its messages stay unacknowledged.
      const failed = Promise.allSettled([4, 5].map((x) => queue.submit(x)));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      fsyncs[2]!.reject(new Error('EIO'));
      assert.deepEqual(
        (await failed).map((r) => r.status),
        ['rejected', 'rejected'],
      );
      await assert.rejects(queue.submit(6), /WAL fsync failed/);
    } finally {
      slow.close();
    }
  });
});
