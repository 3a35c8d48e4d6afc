import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VerifiedCredentialsCache } from './verified-credentials.cache';

/** A registry of device secrets standing in for PBKDF2; counts the slow checks it is asked. */
function registry(secrets: Record<string, string>) {
  const calls: string[] = [];
  let gate: Promise<void> = Promise.resolve();
  return {
    secrets,
    calls,
    hold(): () => void {
      let release!: () => void;
      gate = new Promise((r) => (release = r));
      return release;
    },
    verify: async (username: string, password: string) => {
      calls.push(username);
      const secret = secrets[username];
      await gate;
      return secret !== undefined && secret === password;
    },
  };
}

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('VerifiedCredentialsCache', () => {
  it('checks the right secret the slow way once, and a wrong one every time', async () => {
    const reg = registry({ d1: 's1' });
    const cache = new VerifiedCredentialsCache(reg.verify, clock(), {
      maxEntries: 10,
      ttlMs: 60_000,
    });
    assert.equal(await cache.verify('d1', 's1'), true);
    assert.equal(await cache.verify('d1', 's1'), true);
    assert.equal(await cache.verify('d1', 's1'), true);
    assert.equal(await cache.verify('d1', 'wrong'), false);
    assert.equal(await cache.verify('d1', 'wrong'), false);
    assert.deepEqual(reg.calls, ['d1', 'd1', 'd1']);
    assert.equal(cache.size, 1);
  });

  it('a revoked or rotated device is checked the slow way again and refused with the old secret', async () => {
    const reg = registry({ d1: 's1', d2: 's2' });
    const cache = new VerifiedCredentialsCache(reg.verify, clock(), {
      maxEntries: 10,
      ttlMs: 60_000,
    });
    assert.equal(await cache.verify('d1', 's1'), true);
    assert.equal(await cache.verify('d2', 's2'), true);
    reg.secrets.d1 = 'rotated';
    cache.invalidate('d1');
    assert.equal(await cache.verify('d1', 's1'), false);
    assert.equal(await cache.verify('d1', 'rotated'), true);
    assert.equal(await cache.verify('d2', 's2'), true, 'another device keeps its entry');
    assert.deepEqual(reg.calls, ['d1', 'd2', 'd1', 'd1']);
  });

  it('a check that was running when the credentials changed is not remembered', async () => {
    const reg = registry({ d1: 's1' });
    const cache = new VerifiedCredentialsCache(reg.verify, clock(), {
      maxEntries: 10,
      ttlMs: 60_000,
    });
    const release = reg.hold();
    const racing = cache.verify('d1', 's1');
    // The registry read the old secret; the rotation lands before PBKDF2 answers.
    cache.invalidate('d1');
    reg.secrets.d1 = 'rotated';
    release();
    assert.equal(await racing, true, 'the request that raced the rotation was checked before it');
    assert.equal(cache.size, 0);
    assert.equal(await cache.verify('d1', 's1'), false);
    assert.deepEqual(reg.calls, ['d1', 'd1']);
  });

  it('concurrent requests with the same credentials share one slow check', async () => {
    const reg = registry({ d1: 's1' });
    const cache = new VerifiedCredentialsCache(reg.verify, clock(), {
      maxEntries: 10,
      ttlMs: 60_000,
    });
    const release = reg.hold();
    const answers = Promise.all(Array.from({ length: 5 }, () => cache.verify('d1', 's1')));
    release();
    assert.deepEqual(await answers, [true, true, true, true, true]);
    assert.deepEqual(reg.calls, ['d1']);
  });

  it('entries expire after the TTL and the least recently used goes first', async () => {
    const reg = registry({ d1: 's1', d2: 's2', d3: 's3' });
    const time = clock();
    const cache = new VerifiedCredentialsCache(reg.verify, time, { maxEntries: 2, ttlMs: 1_000 });
    await cache.verify('d1', 's1');
    await cache.verify('d2', 's2');
    await cache.verify('d1', 's1'); // d1 is now the most recently used
    await cache.verify('d3', 's3'); // evicts d2
    assert.equal(cache.size, 2);
    reg.calls.length = 0;
    await cache.verify('d1', 's1');
    await cache.verify('d2', 's2');
    assert.deepEqual(reg.calls, ['d2']);
    time.advance(1_000);
    reg.calls.length = 0;
    await cache.verify('d2', 's2');
    assert.deepEqual(reg.calls, ['d2'], 'expired at its TTL');
  });
});
