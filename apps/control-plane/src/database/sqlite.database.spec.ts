import assert from 'node:assert/strict';
import { fstatSync, fsyncSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { MIGRATIONS } from './migrations';
import { SqliteDatabase } from './sqlite.database';

describe('SqliteDatabase', () => {
  let dir: TempDir;
  beforeEach(() => (dir = makeTempDir()));
  afterEach(() => dir.cleanup());

  it('opens in WAL with synchronous=FULL and a busy timeout', () => {
    const database = new SqliteDatabase(join(dir.path, 'cp.db'));
    assert.equal(database.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(database.db.pragma('synchronous', { simple: true }), 2);
    assert.equal(database.db.pragma('busy_timeout', { simple: true }), 5000);
    assert.equal(database.schemaVersion(), MIGRATIONS.length);
    database.close();
  });

  it('runs migrations once: reopening keeps the data and the version', () => {
    const path = join(dir.path, 'cp.db');
    const first = new SqliteDatabase(path);
    first.write('test', () =>
      first.db
        .prepare('INSERT INTO api_tokens (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)')
        .run('t1', 'admin', 'h', 1),
    );
    first.close();
    const second = new SqliteDatabase(path);
    assert.equal(second.schemaVersion(), MIGRATIONS.length);
    assert.equal(
      (second.db.prepare('SELECT COUNT(*) AS n FROM api_tokens').get() as { n: number }).n,
      1,
    );
    second.close();
  });

  it('rolls a failed migration back whole and refuses to start', () => {
    const path = join(dir.path, 'cp.db');
    const broken = [
      ...MIGRATIONS,
      {
        version: MIGRATIONS.length + 1,
        name: 'broken',
        sql: 'CREATE TABLE half (x INT); SELECT nope FROM missing;',
      },
    ];
    assert.throws(() => new SqliteDatabase(path, broken), /no such table: missing/);
    const reopened = new SqliteDatabase(path);
    assert.equal(reopened.schemaVersion(), MIGRATIONS.length);
    const half = reopened.db.prepare("SELECT name FROM sqlite_master WHERE name = 'half'").get();
    assert.equal(half, undefined);
    reopened.close();
  });

  it('refuses a database written by a newer build', () => {
    const path = join(dir.path, 'cp.db');
    const newer = [
      ...MIGRATIONS,
      { version: MIGRATIONS.length + 1, name: 'future', sql: 'CREATE TABLE f (x INT);' },
    ];
    new SqliteDatabase(path, newer).close();
    assert.throws(() => new SqliteDatabase(path), /newer than this build knows/);
  });
  it('compiles each SQL text once and keeps cached statements working across a schema change', () => {
    const database = new SqliteDatabase(join(dir.path, 'cp.db'), [
      { version: 1, name: 't', sql: 'CREATE TABLE t (x INTEGER PRIMARY KEY)' },
    ]);
    const insert = database.db.prepare('INSERT INTO t (x) VALUES (?)');
    assert.equal(database.db.prepare('INSERT INTO t (x) VALUES (?)'), insert);
    const count = () => (database.db.prepare('SELECT * FROM t').all() as object[]).length;
    database.write('test', () => insert.run(1));
    assert.equal(count(), 1);
    database.db.exec('ALTER TABLE t ADD COLUMN y TEXT');
    assert.deepEqual(database.db.prepare('SELECT * FROM t').get(), { x: 1, y: null });
    // Beyond the cache's size the least recently used text is compiled afresh, still correct.
    for (let i = 0; i < 600; i++) database.db.prepare(`SELECT ${i} AS v`).get();
    const again = database.db.prepare('INSERT INTO t (x) VALUES (?)');
    assert.notEqual(again, insert);
    database.write('test', () => again.run(2));
    assert.equal(count(), 2);
    database.close();
  });

  it('savepoint: needs an open write; a throw inside undoes only its own rows', () => {
    const database = new SqliteDatabase(join(dir.path, 'cp.db'), [
      { version: 1, name: 't', sql: 'CREATE TABLE t (x INTEGER PRIMARY KEY)' },
    ]);
    const insert = (x: number) => database.db.prepare('INSERT INTO t (x) VALUES (?)').run(x);
    assert.throws(() => database.savepoint(() => insert(0)), /needs an open write transaction/);
    const kinds: string[] = [];
    database.observeTransactions((kind) => kinds.push(kind));
    database.write('outer', () => {
      database.savepoint(() => insert(1));
      assert.throws(() =>
        database.savepoint(() => {
          insert(2);
          throw new Error('bad item');
        }),
      );
      database.savepoint(() => insert(3));
    });
    const rows = database.db.prepare('SELECT x FROM t ORDER BY x').all() as { x: number }[];
    assert.deepEqual(
      rows.map((r) => r.x),
      [1, 3],
    );
    assert.deepEqual(kinds, ['outer'], 'savepoints are not observed as transactions');
    database.close();
  });

  it('a deferred write commits without syncing, then durable() fsyncs the WAL file off the loop', async () => {
    const synced: number[] = [];
    const path = join(dir.path, 'cp.db');
    const database = new SqliteDatabase(
      path,
      [{ version: 1, name: 't', sql: 'CREATE TABLE t (x INTEGER PRIMARY KEY)' }],
      async (fd) => {
        synced.push(fstatSync(fd).ino);
        fsyncSync(fd);
      },
    );
    const insert = (x: number) => database.db.prepare('INSERT INTO t (x) VALUES (?)').run(x);
    await database.durable();
    assert.equal(synced.length, 0, 'migrations commit synced: nothing to do');
    database.write('test', () => insert(1), 'deferred');
    assert.equal(database.db.pragma('synchronous', { simple: true }), 2, 'FULL again after it');
    database.write('test', () => insert(2), 'deferred');
    await Promise.all([database.durable(), database.durable()]);
    assert.deepEqual(synced, [statSync(`${path}-wal`).ino], 'one fsync, of the WAL, for both');
    // A synced write covers the deferred one before it: no fsync of ours.
    database.write('test', () => insert(3), 'deferred');
    database.write('test', () => insert(4));
    await database.durable();
    assert.equal(synced.length, 1);
    // Nested in a synced write, 'deferred' is the outer write's durability.
    database.write('outer', () => database.write('inner', () => insert(5), 'deferred'));
    await database.durable();
    assert.equal(synced.length, 1);
    // A deferred write that throws commits nothing and leaves FULL in place.
    assert.throws(() =>
      database.write(
        'test',
        () => {
          insert(6);
          throw new Error('bad');
        },
        'deferred',
      ),
    );
    assert.equal(database.db.pragma('synchronous', { simple: true }), 2);
    await database.durable();
    assert.equal(synced.length, 1);
    const rows = database.db.prepare('SELECT x FROM t ORDER BY x').all() as { x: number }[];
    assert.deepEqual(
      rows.map((r) => r.x),
      [1, 2, 3, 4, 5],
    );
    database.close();
  });
});
