import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Model } from '@edgecompress/engine';
import { analyzeDependencies, removeChannels } from '../pruning';
import { tinyResNet, tinyVgg } from '../pruning/test-models.fixture';
import {
  CachedLatencyOracle,
  type LatencyMeasurement,
  type LatencyOracle,
  UnknownDeviceError,
  assertDeviceKnown,
  graphHash,
} from './latency-oracle';
import { LocalLatencyOracle } from './local-latency-oracle';
import { PredictedLatencyOracle } from './predicted-latency-oracle';

/** Counts calls; stands in for a fleet oracle (agents cannot run inside a unit test). */
class CountingOracle implements LatencyOracle {
  calls = 0;
  async devices(): Promise<readonly string[]> {
    return ['pi-5'];
  }
  async measure(model: Model, device: string): Promise<LatencyMeasurement> {
    this.calls++;
    if (this.calls === 1 && model.graph.name === 'flaky') throw new Error('agent offline');
    return { p50Ms: model.graph.nodes.length, source: 'measured', device };
  }
}

function pruneOne(model: Model): Model {
  const a = analyzeDependencies(model.graph);
  const g = a.groups.find((x) => x.prunable)!;
  return removeChannels(model, a, new Set([g.channels[0]!.id])).model;
}

describe('latency oracles', () => {
  it('graphHash follows the architecture, not the weight values', () => {
    const m = tinyResNet(1);
    const other = tinyResNet(99); // same graph, different weights
    assert.equal(graphHash(m.graph), graphHash(other.graph));
    assert.notEqual(graphHash(m.graph), graphHash(pruneOne(m).graph));
  });

  it('the cache answers a known (graph, device) without asking again and forgets failures', async () => {
    const inner = new CountingOracle();
    const cached = new CachedLatencyOracle(inner);
    await cached.measure(tinyResNet(1), 'pi-5');
    await cached.measure(tinyResNet(2), 'pi-5');
    assert.equal(inner.calls, 1);
    assert.equal(cached.hits, 1);
    await cached.measure(pruneOne(tinyResNet(1)), 'pi-5');
    assert.equal(inner.calls, 2);
    // a fresh measurement asks again, and later asks get it from the cache
    await cached.measure(tinyResNet(1), 'pi-5', { fresh: true });
    assert.equal(inner.calls, 3);
    await cached.measure(tinyResNet(1), 'pi-5');
    assert.equal(inner.calls, 3);

    const flakyInner = new CountingOracle();
    const flaky = new CachedLatencyOracle(flakyInner);
    const model = { ...tinyVgg(), graph: { ...tinyVgg().graph, name: 'flaky' } };
    await assert.rejects(flaky.measure(model, 'pi-5'), /agent offline/);
    const again = await flaky.measure(model, 'pi-5');
    assert.equal(again.p50Ms, model.graph.nodes.length);
    assert.equal(flakyInner.calls, 2);
  });

  it('local oracle: exports to ONNX and times it with onnxruntime-node', async () => {
    const oracle = new LocalLatencyOracle({ warmupRuns: 2, timedRuns: 9 });
    const m = await oracle.measure(tinyResNet(), 'local');
    assert.equal(m.source, 'local');
    assert.equal(m.samples, 9);
    assert.ok(m.p50Ms > 0 && m.p50Ms < 1000, `p50 ${m.p50Ms}`);
    assert.ok(m.p90Ms! >= m.p50Ms);
    await assert.rejects(oracle.measure(tinyResNet(), 'raspberry-pi-5'), UnknownDeviceError);
  });

  it('local oracle times the batch it is given and refuses counts that cannot be timed', async () => {
    const single = new LocalLatencyOracle({ warmupRuns: 1, timedRuns: 5 });
    const batched = new LocalLatencyOracle({ warmupRuns: 1, timedRuns: 5, batchSize: 256 });
    const one = await single.measure(tinyVgg(), 'local');
    const many = await batched.measure(tinyVgg(), 'local');
    // 256 images cost more than one, whatever the machine's load
    assert.ok(many.p50Ms > one.p50Ms, `batch 256 ${many.p50Ms} ms, batch 1 ${one.p50Ms} ms`);
    assert.throws(
      () => new LocalLatencyOracle({ batchSize: 0 }),
      /batch size must be an integer >= 1, got 0/,
    );
    assert.throws(
      () => new LocalLatencyOracle({ timedRuns: 0 }),
      /timed runs must be an integer >= 1/,
    );
    assert.throws(() => new LocalLatencyOracle({ warmupRuns: -1 }), /warm-up runs .* >= 0/);
  });

  it("local oracle with normalizeLoad rescales each figure to the reference's typical load", async () => {
    // durations, in call order: the reference alone, three blocks of four runs at 2 ms; then
    // the candidate and the reference in alternating blocks of two runs each
    const durations = Array<number>(12).fill(2);
    const alternate = (mine: number, theirs: number) => [mine, mine, theirs, theirs];
    // a machine twice as slow: the candidate 3 ms beside the reference at 4
    durations.push(...alternate(3, 4), ...alternate(3, 4));
    // the reference fast by chance (1 ms) beside a 1 ms candidate
    durations.push(...alternate(1, 1), ...alternate(1, 1));
    // the slow machine again
    durations.push(...alternate(3, 4), ...alternate(3, 4));
    const readings = durations.flatMap((d, i) => [10 * i, 10 * i + d]);
    const oracle = new LocalLatencyOracle({
      warmupRuns: 0,
      timedRuns: 4,
      blockRuns: 2,
      normalizeLoad: true,
      now: () => readings.shift()!,
    });
    try {
      assert.equal((await oracle.measure(tinyVgg(), 'local')).p50Ms, 2);
      const loaded = await oracle.measure(tinyResNet(), 'local');
      // 3 ms under a load that made the reference 4 ms instead of 2: 1.5 ms at its typical load
      assert.equal(loaded.p50Ms, 1.5);
      assert.equal(loaded.samples, 4);
      // as fast as the reference: its typical 2 ms, not 1
      assert.equal((await oracle.measure(tinyResNet(), 'local')).p50Ms, 2);
      // the fast block did not move the frame (a running minimum would say 0.75 ms here)
      assert.equal((await oracle.measure(tinyResNet(), 'local')).p50Ms, 1.5);
      assert.equal(readings.length, 0, 'the reference ran a block after each candidate block');
    } finally {
      await oracle.dispose();
    }
  });

  it('local oracle: a burst of load while the reference is first measured does not set the frame', async () => {
    // three reference blocks of two runs: 2 ms, 6 ms (the burst), 2 ms; then one candidate
    // block of 2 ms beside the reference at 2 ms
    const durations = [2, 2, 6, 6, 2, 2, 2, 2, 2, 2];
    const readings = durations.flatMap((d, i) => [10 * i, 10 * i + d]);
    const oracle = new LocalLatencyOracle({
      warmupRuns: 0,
      timedRuns: 2,
      blockRuns: 2,
      normalizeLoad: true,
      now: () => readings.shift()!,
    });
    try {
      assert.equal((await oracle.measure(tinyVgg(), 'local')).p50Ms, 2, 'the median block');
      assert.equal((await oracle.measure(tinyResNet(), 'local')).p50Ms, 2);
      assert.equal(readings.length, 0);
    } finally {
      await oracle.dispose();
    }
    assert.throws(
      () => new LocalLatencyOracle({ referenceBlocks: 0 }),
      /reference blocks must be an integer >= 1, got 0/,
    );
  });

  it('local oracle percentiles come from the injected clock', async () => {
    // start/stop readings of five timed runs lasting 5, 1, 3, 2 and 4 ms
    const readings = [0, 5, 10, 11, 20, 23, 30, 32, 40, 44];
    const oracle = new LocalLatencyOracle({
      warmupRuns: 0,
      timedRuns: 5,
      now: () => readings.shift()!,
    });
    const m = await oracle.measure(tinyVgg(), 'local');
    assert.equal(m.p50Ms, 3);
    assert.equal(m.p90Ms, 5);
    assert.equal(readings.length, 0);
  });

  it('predicted oracle passes per-layer times through and refuses unknown devices', async () => {
    const oracle = new PredictedLatencyOracle({
      deviceIds: () => ['raspberry-pi-5'],
      predict: (model) => ({
        totalMs: 2.5,
        perNodeMs: new Map(model.graph.nodes.map((n) => [n.id, 0.1])),
      }),
    });
    const m = await oracle.measure(tinyResNet(), 'raspberry-pi-5');
    assert.equal(m.p50Ms, 2.5);
    assert.equal(m.source, 'predicted');
    assert.equal(m.perNodeMs!.get('stem/conv'), 0.1);
    await assert.rejects(
      oracle.measure(tinyResNet(), 'jetson'),
      /unknown device "jetson"; known devices: raspberry-pi-5/,
    );
    await assert.rejects(assertDeviceKnown(oracle, 'nope'), UnknownDeviceError);
  });
});
