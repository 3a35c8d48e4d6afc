/**
 * A process that stores numbered items through the ingest path's group commit and prints
 * `acked <n>` for each once its promise settles, forever, until it is killed. Run by
 * group-commit.crash.spec.ts: every item printed must be in the file after SIGKILL.
 */
import { GroupCommitQueue } from './group-commit.queue';
import { SqliteDatabase } from './sqlite.database';

const database = new SqliteDatabase(process.argv[2]!, [
  { version: 1, name: 't', sql: 'CREATE TABLE t (x INTEGER PRIMARY KEY, body TEXT NOT NULL)' },
]);
const queue = new GroupCommitQueue(database, 'batch', (x: number) =>
  database.db.prepare('INSERT INTO t (x, body) VALUES (?, ?)').run(x, 'x'.repeat(200)),
);
let next = 0;
const burst = (): void => {
  for (let i = 0; i < 50; i++) {
    const x = next++;
    void queue.submit(x).then(() => process.stdout.write(`acked ${x}\n`));
  }
  setImmediate(burst);
};
burst();
