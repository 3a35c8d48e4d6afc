/**
 * Runs the PyTorch peer (test/bench/peers/pytorch_engine_peer.py) with the Debian torch build at
 * /usr/bin/python3 and parses its JSON. PyTorch is a benchmark peer only, never a dependency.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ConvThroughput, ConvProblem } from './conv.throughput';

export const PEER_PYTHON = process.env.EDGEC_BENCH_PYTHON ?? '/usr/bin/python3';
const PEER_SCRIPT = join(__dirname, '..', 'peers', 'pytorch_engine_peer.py');

export interface PeerConfig {
  threads: number;
  batch: number;
  seconds: number;
  min_steps: number;
  max_steps: number;
  models: string[];
  conv: ConvProblem | null;
}

export interface PeerResult {
  torch: string;
  threads: number;
  cases: Array<{ name: string; imgs_per_s: number; steps: number }>;
  conv_gflops?: ConvThroughput;
}

export type PeerOutcome = { ok: true; result: PeerResult } | { ok: false; reason: string };

export function runPytorchPeer(config: PeerConfig): PeerOutcome {
  if (!existsSync(PEER_PYTHON)) {
    return { ok: false, reason: `${PEER_PYTHON} not found` };
  }
  // The peer gets exactly `threads` threads, whatever OMP/MKL/OpenBLAS variables the shell set.
  const threads = String(config.threads);
  const env = {
    ...process.env,
    OMP_NUM_THREADS: threads,
    MKL_NUM_THREADS: threads,
    OPENBLAS_NUM_THREADS: threads,
  };
  const run = spawnSync(PEER_PYTHON, [PEER_SCRIPT, JSON.stringify(config)], {
    env,
    encoding: 'utf8',
    timeout: 30 * 60 * 1000,
    maxBuffer: 1 << 20,
  });
  if (run.error) return { ok: false, reason: run.error.message };
  if (run.status !== 0) {
    const stderr = run.stderr.trim();
    if (/No module named ['"]?torch/.test(stderr)) {
      return {
        ok: false,
        reason: 'PyTorch is not installed; install it with `apt-get install python3-torch`',
      };
    }
    return { ok: false, reason: `peer exited with ${run.status}: ${stderr.slice(-400)}` };
  }
  try {
    const lastLine = run.stdout.trim().split('\n').pop() ?? '';
    const parsed = JSON.parse(lastLine) as PeerResult;
    if (!Array.isArray(parsed.cases)) throw new Error('no "cases" array');
    return { ok: true, result: parsed };
  } catch (err) {
    return { ok: false, reason: `unreadable peer output: ${(err as Error).message}` };
  }
}
