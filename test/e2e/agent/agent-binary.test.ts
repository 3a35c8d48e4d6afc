/**
 * The packaged agent: `npm run build:agent -- --target linux-x64` (run here if the tarball is
 * missing), unpacked into a temp dir, started against a real broker. It must connect, send its
 * hello with ORT facts (the runner loads onnxruntime-node from beside the binary), benchmark a
 * model, and stay small while idle.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
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
const DEVICE = 'dev-binary-1';

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
      if (!existsSync(TARBALL)) {
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
      agent = spawnAgent({
        deviceId: DEVICE,
        brokerUrl: broker.url,
        dataDir: join(dir.path, 'data'),
        trustedKeyPem: cp.keys.publicKeyPem,
        command: { file: binary, args: [] },
      });
    });
    after(async () => {
      await agent?.stop();
      await cp?.close();
      await broker?.stop();
      dir.cleanup();
    });

    it('connects, says hello with the ORT version and reports its size and idle RSS', async () => {
      await waitUntil(() => cp.hellos.length > 0, 30_000, 'hello from the binary');
      assert.match(cp.hellos[0]!.runtime.ort.version, /^1\./);
      assert.match(cp.hellos[0]!.runtime.node, /^22\./);
      await new Promise((r) => setTimeout(r, 2000));
      const rss = rssBytes(agent.proc.pid!);
      const size = statSync(binary).size;
      console.log(
        `# agent binary ${(size / 2 ** 20).toFixed(1)} MiB, idle RSS ${(rss / 2 ** 20).toFixed(1)} MiB`,
      );
      assert.ok(rss > 0 && rss < 100 * 2 ** 20, `idle RSS ${rss}`);
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
  },
);
