/**
 * `npm run bench -- onnx [--seconds S] [--models a,b] [--no-peer]`
 *
 * Inference latency of each builder's model (32x32x3 input, 10 classes) at batch 1 and 64:
 * ONNX Runtime on our export (1 thread and all threads) against the engine's own inference
 * (GraphExecutor on the engine backend) and PyTorch eager (the same graph interpreted op by op by
 * a small peer script, /usr/bin/python3 + torch, never a dependency). A second table compares the
 * calibrated int8 QDQ export with the float export in ORT: the speedup int8 gives on this CPU.
 * Writes bench-results/onnx.json.
 */
import * as tf from '@tensorflow/tfjs-core';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { InferenceSession } from 'onnxruntime-node';
import {
  GraphExecutor,
  buildModel,
  createOrtSession,
  exportOnnx,
  exportQuantizedOnnx,
  initEngineBackend,
  runOrt,
  type Model,
} from '@edgecompress/engine';

const INPUT: [number, number, number] = [32, 32, 3];
const BATCHES = [1, 64];
const DEFAULT_MODELS = ['small-cnn', 'resnet20', 'vgg8', 'mobilenetv2'];
const PYTHON = process.env.EDGEC_BENCH_PYTHON ?? '/usr/bin/python3';

/** Median milliseconds per call: warm up, then call until `seconds` pass (3..200 calls). */
async function timeIt(fn: () => Promise<unknown> | unknown, seconds: number): Promise<number> {
  for (let i = 0; i < 2; i++) await fn();
  const times: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (times.length < 3 || (performance.now() < deadline && times.length < 200)) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function randomBatch(count: number): Float32Array {
  const data = new Float32Array(count * INPUT[0] * INPUT[1] * INPUT[2]);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = s / 4294967296 - 0.5;
  }
  return data;
}

async function ortLatency(
  bytes: Uint8Array,
  threads: number,
  batch: number,
  seconds: number,
): Promise<number> {
  const session: InferenceSession = await createOrtSession(bytes, { threads });
  try {
    const x = randomBatch(batch);
    return await timeIt(() => runOrt(session, x, batch, INPUT), seconds);
  } finally {
    await session.release();
  }
}

async function engineLatency(model: Model, batch: number, seconds: number): Promise<number> {
  const executor = new GraphExecutor(model);
  const x = tf.tensor4d(randomBatch(batch), [batch, ...INPUT]);
  try {
    return await timeIt(() => {
      const logits = executor.forward(x, { training: false }).logits;
      logits.dataSync();
      logits.dispose();
    }, seconds);
  } finally {
    x.dispose();
    executor.dispose();
  }
}

/**
 * The PyTorch eager peer: builds the same graph from the IR (random weights of the same shapes;
 * BatchNorm kept, as an eager model has it) and times its forward pass under torch.no_grad().
 */
const TORCH_PEER = String.raw`
import json, sys, time
import torch
import torch.nn.functional as F

cfg = json.loads(sys.stdin.read())
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)

def pad_of(p):  # IR pads [top, bottom, left, right]
    return (p[2], p[3], p[0], p[1])

class Net(torch.nn.Module):
    def __init__(self, graph, shapes):
        super().__init__()
        self.nodes = graph["nodes"]
        self.output = graph["output"]
        self.w = {}
        for name, shape in shapes.items():
            t = torch.randn(*shape) * 0.05
            if name.endswith("/kernel") and len(shape) == 4:
                node = name.rsplit("/", 1)[0]
                op = next(n for n in self.nodes if n["id"] == node)["op"]
                if op == "depthwiseConv2d":  # [kh, kw, c, m] -> [c*m, 1, kh, kw]
                    t = t.permute(2, 3, 0, 1).reshape(shape[2] * shape[3], 1, shape[0], shape[1])
                else:  # [kh, kw, in, out] -> [out, in, kh, kw]
                    t = t.permute(3, 2, 0, 1)
            elif name.endswith("/kernel"):
                t = t.t()
            elif name.endswith("/movingVariance") or name.endswith("/gamma"):
                t = t.abs() + 0.5
            self.w[name] = t.contiguous()

    def forward(self, x):
        v = {}
        for n in self.nodes:
            op, a, ins = n["op"], n["attrs"], [v[i] for i in n["inputs"]]
            w = lambda role: self.w.get(n["id"] + "/" + role)
            if op == "input":
                y = x
            elif op in ("conv2d", "depthwiseConv2d"):
                p = a["pads"]
                h = F.pad(ins[0], pad_of(p)) if any(p) else ins[0]
                groups = a.get("groups", 1) if op == "conv2d" else ins[0].shape[1]
                y = F.conv2d(h, w("kernel"), w("bias"), tuple(a["strides"]), 0, tuple(a["dilations"]), groups)
            elif op == "batchNorm":
                y = F.batch_norm(ins[0], w("movingMean"), w("movingVariance"), w("gamma"), w("beta"), False, 0.0, a["epsilon"])
            elif op == "relu":
                y = F.relu(ins[0])
            elif op == "relu6":
                y = F.relu6(ins[0])
            elif op == "maxPool":
                p = a["pads"]
                h = F.pad(ins[0], pad_of(p), value=float("-inf")) if any(p) else ins[0]
                y = F.max_pool2d(h, tuple(a["poolSize"]), tuple(a["strides"]))
            elif op == "avgPool":
                y = F.avg_pool2d(ins[0], tuple(a["poolSize"]), tuple(a["strides"]), (a["pads"][0], a["pads"][2]), count_include_pad=False)
            elif op == "globalAvgPool":
                y = ins[0].mean((2, 3))
            elif op == "add":
                y = ins[0]
                for t in ins[1:]:
                    y = y + t
            elif op == "concat":
                y = torch.cat(ins, 1)
            elif op == "flatten":
                y = torch.flatten(ins[0], 1)
            elif op == "dense":
                y = F.linear(ins[0], w("kernel"), w("bias"))
            elif op == "softmax":
                y = F.softmax(ins[0], -1)
            else:
                raise SystemExit("peer: unsupported op " + op)
            v[n["id"]] = y
        return v[self.output]

net = Net(cfg["graph"], cfg["shapes"]).eval()
out = {"torch": torch.__version__, "threads": cfg["threads"], "ms": {}}
c, hh, ww = cfg["input"][2], cfg["input"][0], cfg["input"][1]
with torch.no_grad():
    for batch in cfg["batches"]:
        x = torch.randn(batch, c, hh, ww)
        for _ in range(2):
            net(x)
        times = []
        deadline = time.perf_counter() + cfg["seconds"]
        while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 200):
            t0 = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        out["ms"][str(batch)] = times[len(times) // 2]
print(json.dumps(out))
`;

function torchLatency(
  model: Model,
  threads: number,
  seconds: number,
): Record<string, number> | string {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const shapes = Object.fromEntries([...model.weights].map(([k, w]) => [k, w.shape]));
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
  const r = spawnSync(PYTHON, ['-c', TORCH_PEER], {
    input: JSON.stringify({
      graph: model.graph,
      shapes,
      threads,
      seconds,
      batches: BATCHES,
      input: INPUT,
    }),
    encoding: 'utf8',
    env,
    timeout: 600_000,
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0)
    return `peer failed: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
  return (JSON.parse(r.stdout) as { ms: Record<string, number> }).ms;
}

interface Row {
  model: string;
  batch: number;
  ort_1t_ms: number;
  ort_all_ms: number;
  engine_ms: number;
  torch_1t_ms: number | null;
  torch_all_ms: number | null;
}

interface Int8Row {
  model: string;
  batch: number;
  threads: number;
  float_ms: number;
  int8_ms: number;
  speedup: number;
}

const f = (v: number | null, d = 2): string => (v === null ? '-' : v.toFixed(d));
const pad = (s: string, n: number): string => s.padStart(n);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '1' },
      models: { type: 'string', default: DEFAULT_MODELS.join(',') },
      'no-peer': { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  if (!(seconds > 0)) throw new Error('--seconds must be a positive number');
  const models = values.models.split(',');
  const cores = availableParallelism();
  const backend = await initEngineBackend();
  console.log(
    `ONNX inference latency, median ms per batch; input ${INPUT.join('x')}; ${cores} cores (${cpus()[0]?.model ?? '?'}); ` +
      `engine backend ${backend.name}; load average at start ${loadavg()[0]!.toFixed(2)}`,
  );

  const rows: Row[] = [];
  const int8: Int8Row[] = [];
  const peerNotes: string[] = [];
  for (const name of models) {
    const model = buildModel(name, { inputShape: INPUT, numClasses: 10, seed: 1 });
    const bytes = exportOnnx(model);
    const calibration = { data: randomBatch(64), count: 64 };
    const quantized = (await exportQuantizedOnnx(model, { calibration })).bytes;
    const torch1 = values['no-peer'] ? 'skipped (--no-peer)' : torchLatency(model, 1, seconds);
    const torchAll = values['no-peer']
      ? 'skipped (--no-peer)'
      : torchLatency(model, cores, seconds);
    for (const t of [torch1, torchAll])
      if (typeof t === 'string') peerNotes.push(`${name}: PyTorch ${t}`);
    for (const batch of BATCHES) {
      const row: Row = {
        model: name,
        batch,
        ort_1t_ms: await ortLatency(bytes, 1, batch, seconds),
        ort_all_ms: await ortLatency(bytes, cores, batch, seconds),
        engine_ms: await engineLatency(model, batch, seconds),
        torch_1t_ms: typeof torch1 === 'string' ? null : (torch1[String(batch)] ?? null),
        torch_all_ms: typeof torchAll === 'string' ? null : (torchAll[String(batch)] ?? null),
      };
      rows.push(row);
      for (const threads of [1, cores]) {
        const floatMs = threads === 1 ? row.ort_1t_ms : row.ort_all_ms;
        const int8Ms = await ortLatency(quantized, threads, batch, seconds);
        int8.push({
          model: name,
          batch,
          threads,
          float_ms: floatMs,
          int8_ms: int8Ms,
          speedup: floatMs / int8Ms,
        });
      }
    }
  }

  console.log(
    `\nFloat: ORT on the export vs the engine and PyTorch eager (ms; ratios = peer / ORT, each side at its better thread count)`,
  );
  console.log(
    'model          batch  ORT 1t  ORT all   engine  torch 1t  torch all  engine/ORT  torch/ORT',
  );
  for (const r of rows) {
    const ortBest = Math.min(r.ort_1t_ms, r.ort_all_ms);
    const torchTimes = [r.torch_1t_ms, r.torch_all_ms].filter((t): t is number => t !== null);
    const torchBest = torchTimes.length ? Math.min(...torchTimes) : null;
    console.log(
      `${r.model.padEnd(14)} ${pad(String(r.batch), 5)} ${pad(f(r.ort_1t_ms), 7)} ${pad(f(r.ort_all_ms), 8)} ${pad(f(r.engine_ms), 8)} ` +
        `${pad(f(r.torch_1t_ms), 9)} ${pad(f(r.torch_all_ms), 10)} ${pad(f(r.engine_ms / ortBest, 1) + 'x', 11)} ` +
        `${pad(torchBest === null ? '-' : f(torchBest / ortBest, 1) + 'x', 10)}`,
    );
  }
  console.log(
    '\nInt8 (calibrated static QDQ) vs float export, both in ORT (ms; speedup = float / int8)',
  );
  console.log('model          batch  threads    float     int8  speedup');
  for (const r of int8) {
    console.log(
      `${r.model.padEnd(14)} ${pad(String(r.batch), 5)} ${pad(String(r.threads), 8)} ${pad(f(r.float_ms), 8)} ${pad(f(r.int8_ms), 8)} ${pad(f(r.speedup) + 'x', 8)}`,
    );
  }
  for (const note of peerNotes) console.log(note);
  console.log(`load average at end ${loadavg()[0]!.toFixed(2)}`);

  const outDir = join(__dirname, '..', '..', 'bench-results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    join(outDir, 'onnx.json'),
    JSON.stringify(
      {
        suite: 'onnx',
        date: new Date().toISOString(),
        cores,
        cpu: cpus()[0]?.model,
        engineBackend: backend.name,
        input: INPUT,
        seconds,
        float: rows,
        int8,
        notes: peerNotes,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`wrote ${join('bench-results', 'onnx.json')}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exitCode = 1;
});
