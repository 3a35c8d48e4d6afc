/**
 * `npm run bench -- ort-files <baseline.onnx> <file.onnx>... [--batch 1,64] [--rounds 40]
 * [--threads 1]`
 *
 * ONNX Runtime latency of exported files against the first one (the peer, e.g. the float
 * teacher's export), measured in the same run: the files are timed in interleaved rounds, so a
 * change of machine load hits them alike, and each file's p50 / p90 per batch size is reported
 * with its ratio to the baseline's. Also lists the ops of ORT's optimized graph for each file
 * (QLinearConv means the int8 path was taken; Conv behind DequantizeLinear means the weights are
 * dequantized and the convolution runs in float). Bit-packed 2/3-bit files are expanded first,
 * as the agent does. Writes bench-results/ort-files.json.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InferenceSession } from 'onnxruntime-node';
import { Tensor } from 'onnxruntime-node';
import { createOrtSession, decodeOnnxModel } from '@edgecompress/engine';

interface Timed {
  file: string;
  bytes: number;
  ops: Record<string, number>;
  session: InferenceSession;
  inputName: string;
  /** Input shape with the batch dimension left out (NCHW as exported: [C, H, W]). */
  sampleShape: number[];
  times: Map<number, number[]>;
}

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function sampleShapeOf(bytes: Uint8Array): number[] {
  const dims = decodeOnnxModel(bytes).graph?.input?.[0]?.type?.tensorType?.shape?.dim ?? [];
  if (dims.length < 2) throw new Error('the model input has no batch and sample dimensions');
  return dims.slice(1).map((d) => {
    const value = Number(d.dimValue ?? 0);
    if (!(value > 0)) throw new Error('only the batch dimension of the input may be symbolic');
    return value;
  });
}

function opHistogram(optimizedPath: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of decodeOnnxModel(readFileSync(optimizedPath)).graph?.node ?? []) {
    const op = node.opType ?? '?';
    counts[op] = (counts[op] ?? 0) + 1;
  }
  return counts;
}

async function open(file: string, threads: number, scratch: string): Promise<Timed> {
  const bytes = new Uint8Array(readFileSync(file));
  const optimizedPath = join(scratch, `${basename(file)}.optimized.onnx`);
  const session = await createOrtSession(bytes, { threads, optimizedModelFilePath: optimizedPath });
  return {
    file,
    bytes: bytes.length,
    ops: opHistogram(optimizedPath),
    session,
    inputName: session.inputNames[0]!,
    // Packing touches only initializers: the input's shape reads from the file as it is.
    sampleShape: sampleShapeOf(bytes),
    times: new Map(),
  };
}

function input(t: Timed, batch: number): Tensor {
  const perSample = t.sampleShape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(batch * perSample);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s / 4294967296;
  }
  return new Tensor('float32', data, [batch, ...t.sampleShape]);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      batch: { type: 'string', default: '1,64' },
      rounds: { type: 'string', default: '40' },
      threads: { type: 'string', default: '1' },
    },
  });
  if (positionals.length < 2) {
    console.error(
      'usage: npm run bench -- ort-files <baseline.onnx> <file.onnx>... [--batch 1,64]',
    );
    process.exit(2);
  }
  const batches = values.batch.split(',').map(Number);
  const rounds = Number(values.rounds);
  const threads = Number(values.threads);
  const scratch = mkdtempSync(join(tmpdir(), 'ec-ort-files-'));
  const load = [loadavg()[0]!];
  const files: Timed[] = [];
  try {
    for (const f of positionals) files.push(await open(f, threads, scratch));
    for (const batch of batches) {
      const feeds = files.map((t) => ({ [t.inputName]: input(t, batch) }));
      // Calls per round scale down with the batch so a round stays short.
      const calls = Math.max(3, Math.round(50 / batch));
      for (let i = 0; i < 5; i++)
        for (const [k, t] of files.entries()) await t.session.run(feeds[k]!);
      for (let r = 0; r < rounds; r++) {
        for (const [k, t] of files.entries()) {
          const list = t.times.get(batch) ?? [];
          for (let c = 0; c < calls; c++) {
            const t0 = performance.now();
            await t.session.run(feeds[k]!);
            list.push(performance.now() - t0);
          }
          t.times.set(batch, list);
        }
      }
      load.push(loadavg()[0]!);
    }
  } finally {
    for (const t of files) await t.session.release();
    rmSync(scratch, { recursive: true, force: true });
  }

  console.log(
    `ORT ${threads} thread(s), ${rounds} interleaved rounds; load average ${Math.min(...load).toFixed(1)}-${Math.max(...load).toFixed(1)}`,
  );
  const rows: Record<string, unknown>[] = [];
  const base = files[0]!;
  for (const batch of batches) {
    const baseP50 = percentile(
      [...base.times.get(batch)!].sort((a, b) => a - b),
      0.5,
    );
    console.log(`\nbatch ${batch}`);
    console.log(
      'file'.padEnd(34),
      'bytes'.padStart(10),
      'p50 ms'.padStart(9),
      'p90 ms'.padStart(9),
      'vs base'.padStart(8),
    );
    for (const t of files) {
      const sorted = [...t.times.get(batch)!].sort((a, b) => a - b);
      const p50 = percentile(sorted, 0.5);
      const p90 = percentile(sorted, 0.9);
      // "x1.50" = 1.5 times as fast as the baseline (its p50 over this file's).
      const speedup = baseP50 / p50;
      console.log(
        basename(t.file).padEnd(34),
        String(t.bytes).padStart(10),
        p50.toFixed(4).padStart(9),
        p90.toFixed(4).padStart(9),
        `x${speedup.toFixed(2)}`.padStart(8),
      );
      rows.push({
        file: t.file,
        batch,
        bytes: t.bytes,
        p50Ms: p50,
        p90Ms: p90,
        speedupVsBaseline: speedup,
        samples: sorted.length,
      });
    }
  }
  console.log('\nops of ORT optimized graphs');
  for (const t of files) {
    const ops = Object.entries(t.ops)
      .sort((a, b) => b[1] - a[1])
      .map(([op, n]) => `${op} ${n}`)
      .join(', ');
    console.log(`${basename(t.file)}: ${ops}`);
  }
  const dir = join(process.cwd(), 'bench-results');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'ort-files.json'),
    JSON.stringify(
      {
        threads,
        rounds,
        loadAverage: load,
        rows,
        ops: files.map((t) => ({ file: t.file, ops: t.ops })),
      },
      null,
      2,
    ),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
