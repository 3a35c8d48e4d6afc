import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HotArtifactsCache } from './hot-artifacts.cache';
import { ifNoneMatch } from './if-none-match';

function files(sizes: Record<string, number>) {
  const loads: string[] = [];
  const load = (sha: string) => {
    loads.push(sha);
    return Buffer.alloc(sizes[sha]!, sha.charCodeAt(0));
  };
  return { loads, load };
}

describe('HotArtifactsCache', () => {
  it('reads a file once and hands every request the same bytes', () => {
    const f = files({ a: 10 });
    const cache = new HotArtifactsCache(f.load, { maxFileBytes: 100, maxTotalBytes: 100 });
    const first = cache.get('a', 10)!;
    const second = cache.get('a', 10)!;
    assert.equal(first, second);
    assert.ok(first.equals(Buffer.alloc(10, 'a'.charCodeAt(0))));
    assert.deepEqual(f.loads, ['a']);
  });

  it('leaves files over the per-file bound to streaming, and a size mismatch too', () => {
    const f = files({ big: 101, odd: 5 });
    const cache = new HotArtifactsCache(f.load, { maxFileBytes: 100, maxTotalBytes: 1000 });
    assert.equal(cache.get('big', 101), undefined);
    assert.deepEqual(f.loads, [], 'a large file is never read whole');
    assert.equal(cache.get('odd', 6), undefined, 'the store does not hold what the row says');
    assert.equal(cache.totalBytes, 0);
  });

  it('keeps the total under its bound, the least recently used first out', () => {
    const f = files({ a: 40, b: 40, c: 40 });
    const cache = new HotArtifactsCache(f.load, { maxFileBytes: 100, maxTotalBytes: 100 });
    cache.get('a', 40);
    cache.get('b', 40);
    cache.get('a', 40); // a is now the most recent
    cache.get('c', 40); // 120 bytes: b goes
    assert.equal(cache.totalBytes, 80);
    f.loads.length = 0;
    cache.get('a', 40);
    cache.get('c', 40);
    assert.deepEqual(f.loads, []);
    cache.get('b', 40); // back in; a, now the least recent, goes
    assert.deepEqual(f.loads, ['b']);
    assert.equal(cache.totalBytes, 80);
    cache.drop('b');
    assert.equal(cache.totalBytes, 40);
    f.loads.length = 0;
    cache.get('a', 40);
    assert.deepEqual(f.loads, ['a']);
  });
});

describe('ifNoneMatch', () => {
  const etag = `"${'ab'.repeat(32)}"`;
  it('matches the tag, a list holding it, a weak form of it and *', () => {
    assert.equal(ifNoneMatch(etag, etag), true);
    assert.equal(ifNoneMatch(`"x", ${etag}`, etag), true);
    assert.equal(ifNoneMatch(`W/${etag}`, etag), true);
    assert.equal(ifNoneMatch('*', etag), true);
    assert.equal(ifNoneMatch(['"x"', etag], etag), true);
  });
  it('does not match another tag, an unquoted hash or no header', () => {
    assert.equal(ifNoneMatch('"other"', etag), false);
    assert.equal(ifNoneMatch('ab'.repeat(32), etag), false);
    assert.equal(ifNoneMatch(undefined, etag), false);
    assert.equal(ifNoneMatch('', etag), false);
  });
});
