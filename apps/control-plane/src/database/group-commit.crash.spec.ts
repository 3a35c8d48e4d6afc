import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { SqliteDatabase } from './sqlite.database';

describe('GroupCommitQueue across a crash (real process, real SQLite file)', () => {
  let dir: TempDir;
  beforeEach(() => (dir = makeTempDir()));
  afterEach(() => dir.cleanup());

  it('every item acknowledged before SIGKILL is in the file after it', async () => {
    const path = join(dir.path, 'crash.db');
    const child = spawn(
      process.execPath,
      [
        '-r',
        require.resolve('@swc-node/register'),
        join(__dirname, 'group-commit-writer.fixture.ts'),
        path,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const acked: number[] = [];
    let buffered = '';
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(
        () => reject(new Error('writer acknowledged too little')),
        20_000,
      );
      child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) acked.push(Number(line.slice('acked '.length)));
        // Killed mid-stream: items are queued, committing and syncing at this moment.
        if (acked.length >= 2000 && child.exitCode === null) {
          clearTimeout(deadline);
          child.removeAllListeners('exit');
          child.kill('SIGKILL');
          child.once('exit', () => resolve());
        }
      });
    });
    const reopened = new SqliteDatabase(path, [
      { version: 1, name: 't', sql: 'CREATE TABLE t (x INTEGER PRIMARY KEY, body TEXT NOT NULL)' },
    ]);
    try {
      const stored = new Set(
        (reopened.db.prepare('SELECT x FROM t').all() as { x: number }[]).map((r) => r.x),
      );
      const lost = acked.filter((x) => !stored.has(x));
      assert.deepEqual(lost, [], 'acknowledged items missing after the crash');
      assert.ok(stored.size >= acked.length);
    } finally {
      reopened.close();
    }
  });
});
