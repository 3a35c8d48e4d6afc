import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shouldReassertBirth, supersedesState } from '@edgecompress/protocol';

const at = (connection: number, online: boolean, sentAt = 1000) => ({ connection, online, sentAt });

describe('supersedesState (birth/will race)', () => {
  it('a late will from an older connection never overwrites a newer online', () => {
    assert.equal(supersedesState(at(8, true), at(7, false, 9999)), false);
  });
  it('a newer connection always wins, online or offline', () => {
    assert.equal(supersedesState(at(7, true), at(8, true)), true);
    assert.equal(supersedesState(at(7, false), at(8, false)), true);
  });
  it('the will of the current connection takes it offline, and offline is final for it', () => {
    assert.equal(supersedesState(at(8, true), at(8, false)), true);
    assert.equal(supersedesState(at(8, false), at(8, true, 2000)), false);
  });
  it('a re-published birth of the same connection replaces an older one only', () => {
    assert.equal(supersedesState(at(8, true, 1000), at(8, true, 2000)), true);
    assert.equal(supersedesState(at(8, true, 2000), at(8, true, 1000)), false);
  });
  it('anything replaces an unknown state', () => {
    assert.equal(supersedesState(null, at(0, false)), true);
  });
  it('after 50 shuffled deliveries the newest connection online is what remains', () => {
    // Births and wills of connections 1..25 delivered in a scrambled (deterministic) order.
    const messages = Array.from({ length: 25 }, (_, i) => [
      at(i + 1, true, i * 10),
      at(i + 1, false, i * 10 + 5),
    ]).flat();
    messages.pop(); // connection 25 is still up: its will was never published
    let seed = 7;
    for (let i = messages.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const j = seed % (i + 1);
      [messages[i], messages[j]] = [
        messages[j] as (typeof messages)[0],
        messages[i] as (typeof messages)[0],
      ];
    }
    let known: ReturnType<typeof at> | null = null;
    for (const m of messages) if (supersedesState(known, m)) known = m;
    assert.deepEqual(known, at(25, true, 240));
  });
});

describe('shouldReassertBirth', () => {
  it('re-publishes over a late will of an older connection or a stale state', () => {
    assert.equal(shouldReassertBirth(9, { connection: 8, online: false }), true);
    assert.equal(shouldReassertBirth(9, { connection: 8, online: true }), true);
    assert.equal(shouldReassertBirth(9, null), true);
  });
  it('leaves its own current birth alone, and never fights a newer connection', () => {
    assert.equal(shouldReassertBirth(9, { connection: 9, online: true }), false);
    assert.equal(shouldReassertBirth(9, { connection: 10, online: true }), false);
  });
  it('re-publishes when its own connection shows offline while it is connected', () => {
    assert.equal(shouldReassertBirth(9, { connection: 9, online: false }), true);
  });
});
