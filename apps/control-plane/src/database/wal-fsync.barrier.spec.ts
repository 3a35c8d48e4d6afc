import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { WalFsyncBarrier } from './wal-fsync.barrier';

/** An fsync the test finishes by hand, so the order of syncs and commits is fixed. */
function manualFsync() {
  const calls: { resolve: () => void; reject: (err: Error) => void }[] = [];
  const fsync = (): Promise<void> =>
    new Promise<void>((resolve, reject) => calls.push({ resolve, reject }));
  return { fsync, calls };
}

const settledYet = async (p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'pending'> => {
  let state: 'resolved' | 'rejected' | 'pending' = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((r) => setImmediate(r));
  return state;
};

describe('WalFsyncBarrier', () => {
  let dir: TempDir;
  let wal: string;
  beforeEach(() => {
    dir = makeTempDir();
    wal = join(dir.path, 'x.db-wal');
    writeFileSync(wal, 'frames');
  });
  afterEach(() => dir.cleanup());

  it('resolves at once and syncs nothing when no commit is unsynced', async () => {
    const { fsync, calls } = manualFsync();
    const barrier = new WalFsyncBarrier(wal, fsync);
    assert.equal(await settledYet(barrier.durable()), 'resolved');
    barrier.noteUnsyncedCommit();
    barrier.noteSyncedCommit(); // a FULL commit synced the WAL, the earlier frames with it
    assert.equal(await settledYet(barrier.durable()), 'resolved');
    assert.equal(calls.length, 0);
    barrier.close();
  });

  it('waits for an fsync that started after the commit, one fsync for all waiting at its start', async () => {
    const { fsync, calls } = manualFsync();
    const barrier = new WalFsyncBarrier(wal, fsync);
    barrier.noteUnsyncedCommit();
    const first = [barrier.durable(), barrier.durable()];
    assert.equal(calls.length, 1);
    // A commit made while that fsync runs may not be in it: it waits for the next one.
    barrier.noteUnsyncedCommit();
    const second = barrier.durable();
    assert.equal(calls.length, 1, 'one fsync at a time');
    assert.equal(await settledYet(first[0]!), 'pending');
    calls[0]!.resolve();
    assert.equal(await settledYet(Promise.all(first)), 'resolved');
    assert.equal(await settledYet(second), 'pending');
    assert.equal(calls.length, 2, 'the next fsync started when the first ended');
    calls[1]!.resolve();
    assert.equal(await settledYet(second), 'resolved');
    barrier.close();
  });

  it('a synced commit releases the waiters without their fsync', async () => {
    const { fsync, calls } = manualFsync();
    const barrier = new WalFsyncBarrier(wal, fsync);
    barrier.noteUnsyncedCommit();
    const waiting = barrier.durable();
    barrier.noteSyncedCommit();
    assert.equal(await settledYet(waiting), 'resolved');
    calls[0]!.resolve(); // the earlier fsync ending late changes nothing
    assert.equal(await settledYet(barrier.durable()), 'resolved');
    barrier.close();
  });

  it('after a failed fsync every waiting and later caller is refused, even if a commit syncs', async () => {
    const { fsync, calls } = manualFsync();
    const barrier = new WalFsyncBarrier(wal, fsync);
    barrier.noteUnsyncedCommit();
    const waiting = barrier.durable();
    calls[0]!.reject(new Error('EIO'));
    await assert.rejects(waiting, /WAL fsync failed.*EIO/);
    barrier.noteSyncedCommit();
    await assert.rejects(barrier.durable(), /WAL fsync failed/);
    assert.equal(calls.length, 1);
    barrier.close();
  });

  it('refuses when the WAL file cannot be opened', async () => {
    const barrier = new WalFsyncBarrier(join(dir.path, 'missing-wal'));
    barrier.noteUnsyncedCommit();
    await assert.rejects(barrier.durable(), /WAL fsync failed.*ENOENT/);
  });

  it('syncs the real file with fs.fsync by default', async () => {
    const barrier = new WalFsyncBarrier(wal);
    barrier.noteUnsyncedCommit();
    await barrier.durable();
    barrier.close();
  });
});
