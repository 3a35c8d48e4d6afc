import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandJournalStore } from './command-journal-store';
import { ConnectionCounterStore } from './connection-counter-store';
import { DeploymentStateStore } from './deployment-state-store';
import { OutboxStore } from './outbox-store';

describe('agent stores', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ec-stores-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('outbox keeps order across reopen, drops torn entries and caps its size', () => {
    const outbox = new OutboxStore(dir, 3);
    for (let i = 0; i < 4; i++)
      outbox.enqueue({ topic: 't', payload: `m${i}`, qos: 1, retain: false });
    const reopened = new OutboxStore(dir, 3);
    assert.deepEqual(
      reopened.pending().map((m) => m.payload),
      ['m1', 'm2', 'm3'],
    );
    const next = reopened.enqueue({ topic: 't', payload: 'm4', qos: 1, retain: false });
    assert.equal(next.seq, 4, 'sequence numbers continue after a restart');
    writeFileSync(join(dir, 'outbox', '000000000099.json'), '{"topic":');
    reopened.remove(2);
    assert.deepEqual(
      reopened.pending().map((m) => m.payload),
      ['m3', 'm4'],
    );
  });

  it('command journal finds records by any id and lists unfinished ones oldest first', () => {
    const journal = new CommandJournalStore(dir);
    const base = { type: 'deploy', command: {}, nextSeq: 1, step: 0, data: {}, resultQueued: true };
    journal.save({ ...base, id: '../evil/../id', receivedAt: 2, state: 'running' });
    journal.save({ ...base, id: 'b', receivedAt: 1, state: 'queued' });
    journal.save({ ...base, id: 'c', receivedAt: 0, state: 'done' });
    assert.equal(journal.get('../evil/../id')?.state, 'running');
    assert.equal(journal.get('nope'), undefined);
    assert.deepEqual(
      journal.unfinished().map((r) => r.id),
      ['b', '../evil/../id'],
    );
  });

  it('deployment state defaults to nothing active and round-trips', () => {
    const store = new DeploymentStateStore(dir);
    assert.deepEqual(store.read(), { active: null, previous: null, updatedAt: 0 });
    const state = {
      active: { sha256: 'a'.repeat(64), variantId: 'v2' },
      previous: { sha256: 'b'.repeat(64) },
      updatedAt: 5,
    };
    store.write(state);
    assert.deepEqual(new DeploymentStateStore(dir).read(), state);
  });

  it('connection counter increases across reopen and is never reused', () => {
    assert.equal(new ConnectionCounterStore(dir).next(), 1);
    assert.equal(new ConnectionCounterStore(dir).next(), 2);
  });
});
