/**
 * `npm run bench -- engine [--seconds N] [--replicas 1,2] [--models small-cnn,resnet20]`
 *
 * Trains the same models with our engine and with PyTorch in one run (identical architecture,
 * batch 64, 28x28x1 input, SGD with momentum) and prints images/s for each and the ratio; also
 * the 3x3 conv forward and filter-gradient GFLOP/s on a 64x32x32x32 input, 32 -> 64 channels.
 * Writes bench-results/engine.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initEngineBackend } from '@edgecompress/engine';
import {
  BENCH_MODELS,
  measureEngineTraining,
  type BenchModel,
} from './engine/engine-training.throughput';
import { measureConv, type ConvProblem } from './engine/conv.throughput';
import { runPytorchPeer } from './engine/pytorch.peer';
import { profileTrainingStep } from './engine/step.profile';

const CONV_PROBLEM: ConvProblem = [64, 32, 32, 32, 64];
const BATCH = 64;

interface CaseRow {
  name: string;
  ours_imgs_per_s: number;
  pytorch_imgs_per_s: number | null;
  ratio: number | null;
}

function parseOptions() {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      replicas: { type: 'string', default: '1,2' },
      models: { type: 'string', default: BENCH_MODELS.join(',') },
      'no-peer': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error('--seconds must be a positive number');
  const replicas = values.replicas.split(',').map(Number);
  if (replicas.some((r) => !Number.isInteger(r) || r < 1)) {
    throw new Error('--replicas takes positive integers, e.g. 1,2');
  }
  const models = values.models.split(',') as BenchModel[];
  for (const m of models) {
    if (!BENCH_MODELS.includes(m))
      throw new Error(`unknown model "${m}" (${BENCH_MODELS.join(', ')})`);
  }
  return { seconds, replicas, models, peer: !values['no-peer'], profile: values.profile };
}

const fmt = (v: number | null, digits = 1) => (v === null ? '-' : v.toFixed(digits));

async function main(): Promise<void> {
  const opts = parseOptions();
  const cores = availableParallelism();
  const backend = await initEngineBackend();
  console.log(
    `engine: tfjs ${backend.name}` +
      (backend.name === 'wasm'
        ? ` (simd ${backend.simd}, conv kernels ${backend.convKernels})`
        : '') +
      ', ' +
      `${cores} cores, load average at start ${loadavg()[0]!.toFixed(2)}`,
  );

  const convKernels = backend.convKernels ?? 'wasm';
  if (opts.profile) {
    const providers = backend.name === 'wasm' ? (['wasm', 'ort'] as const) : (['wasm'] as const);
    for (const model of opts.models) {
      for (const provider of providers) {
        const p = await profileTrainingStep(model, BATCH, provider);
        const top = p.kernels
          .slice(0, 8)
          .map((k) => `${k.kernel} ${(k.share * 100).toFixed(0)}%`)
          .join(', ');
        console.log(
          `  profile ${model} (conv kernels ${provider}): ${p.totalMs.toFixed(0)} ms/step; ${top}`,
        );
      }
    }
  }
  // Data-parallel replicas each take one core; a single replica may instead give its conv
  // kernels every core (onnxruntime intra-op threads), which is listed as its own case.
  const variants = opts.replicas.map((replicas) => ({ replicas, kernelThreads: 1 }));
  if (convKernels === 'ort' && cores > 1 && opts.replicas.includes(1)) {
    variants.push({ replicas: 1, kernelThreads: cores });
  }
  const label = (v: { replicas: number; kernelThreads: number }) =>
    `${v.replicas}w${v.kernelThreads > 1 ? ` ${v.kernelThreads}t` : ''}`;
  const ours = new Map<string, number>();
  for (const model of opts.models) {
    for (const v of variants) {
      const r = await measureEngineTraining(
        {
          model,
          batch: BATCH,
          replicas: v.replicas,
          kernelThreads: v.kernelThreads,
          seconds: opts.seconds,
          minSteps: 3,
          maxSteps: 500,
          warmupSteps: 2,
        },
        convKernels,
      );
      ours.set(`${model}/${label(v)}`, r.imgsPerS);
      console.log(`  ours ${model} ${label(v)}: ${fmt(r.imgsPerS)} img/s (${r.steps} steps)`);
    }
  }
  const oursConv = measureConv(CONV_PROBLEM, opts.seconds);

  let peerNote = '';
  let peer: ReturnType<typeof runPytorchPeer> | undefined;
  if (opts.peer) {
    peer = runPytorchPeer({
      threads: cores,
      batch: BATCH,
      seconds: opts.seconds,
      min_steps: 3,
      max_steps: 500,
      models: opts.models,
      conv: CONV_PROBLEM,
    });
    if (!peer.ok) peerNote = `PyTorch peer unavailable: ${peer.reason}`;
  }
  const peerResult = peer?.ok ? peer.result : undefined;

  const rows: CaseRow[] = [];
  for (const model of opts.models) {
    const theirs = peerResult?.cases.find((c) => c.name === model)?.imgs_per_s ?? null;
    for (const v of variants) {
      const mine = ours.get(`${model}/${label(v)}`)!;
      rows.push({
        name: `${model} train b${BATCH} ${label(v)}`,
        ours_imgs_per_s: mine,
        pytorch_imgs_per_s: theirs,
        ratio: theirs ? mine / theirs : null,
      });
    }
  }
  const peerThreads = peerResult
    ? `PyTorch ${peerResult.torch}, ${peerResult.threads} threads`
    : 'PyTorch -';
  console.log(`\nEngine training throughput (ours vs ${peerThreads})`);
  console.log('case                              ours img/s  pytorch img/s   ratio');
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(34)}${fmt(r.ours_imgs_per_s).padStart(10)}${fmt(r.pytorch_imgs_per_s).padStart(15)}${fmt(r.ratio, 2).padStart(8)}`,
    );
  }
  const theirsConv = peerResult?.conv_gflops;
  console.log(
    `\nConv 3x3 ${CONV_PROBLEM.slice(0, 4).join('x')} -> ${CONV_PROBLEM[4]} GFLOP/s (ours / pytorch / ratio)`,
  );
  for (const key of ['forward', 'filter_grad'] as const) {
    const t = theirsConv?.[key] ?? null;
    console.log(
      `  ${key.padEnd(12)} ${fmt(oursConv[key])} / ${fmt(t)} / ${fmt(t ? oursConv[key] / t : null, 2)}`,
    );
  }
  if (peerNote) console.log(`\n${peerNote}`);
  console.log(`load average at end ${loadavg()[0]!.toFixed(2)}`);

  const outDir = join(__dirname, '..', '..', 'bench-results');
  mkdirSync(outDir, { recursive: true });
  const convRows = (['forward', 'filter_grad'] as const).map((key) => ({
    name: `conv3x3 ${CONV_PROBLEM.join('x')} ${key}`,
    ours_gflops: oursConv[key],
    pytorch_gflops: theirsConv?.[key] ?? null,
    ratio: theirsConv ? oursConv[key] / theirsConv[key] : null,
  }));
  writeFileSync(
    join(outDir, 'engine.json'),
    JSON.stringify(
      {
        backend: backend.name,
        convKernels: backend.convKernels ?? null,
        cores,
        loadavg: loadavg(),
        peer: peerResult ? { torch: peerResult.torch, threads: peerResult.threads } : peerNote,
        cases: rows,
        conv: convRows,
      },
      null,
      2,
    ) + '\n',
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
