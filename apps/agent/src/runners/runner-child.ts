/**
 * The runner child process: loads one model with onnxruntime-node, answers one request over
 * IPC and exits. Inference blocks this process's event loop (ORT's run is synchronous
 * underneath), which is why it lives here and not in the agent.
 */
import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { AgentError, toAgentError } from '../agent-error';
import { expandPackedFileSync } from '../store/packed-onnx';
import { collectStableFacts, fallbackStableFacts } from '../facts/hardware-facts';
import { summarizeLatencies } from './latency-stats';
import { loadOrt, type OrtModule } from './load-ort';
import { AGENT_ENVIRONMENT } from './runtime-flags';
import type {
  BenchmarkResult,
  BenchmarkSpec,
  ProbeResult,
  RunnerRequest,
  RunnerResponse,
  RunSpec,
  RuntimeResult,
  SelfTestResult,
} from './runner-protocol';

type Session = Awaited<ReturnType<OrtModule['InferenceSession']['create']>>;
type Tensor = InstanceType<OrtModule['Tensor']>;

const PROGRESS_INTERVAL_MS = 500;

function send(message: RunnerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function probe(ort: OrtModule): Promise<ProbeResult> {
  // Providers that need libraries installed separately (CUDA, TensorRT) are not claimed.
  const backends = ort
    .listSupportedBackends()
    .filter((b) => b.bundled)
    .map((b) => b.name);
  // Best first: any accelerator the build offers ahead of the CPU provider.
  const ordered = [
    ...backends.filter((b) => b !== 'cpu'),
    ...(backends.includes('cpu') ? ['cpu'] : []),
  ];
  return {
    ortVersion: ort.env.versions.common ?? 'unknown',
    executionProviders: ordered.length ? ordered : ['cpu'],
    hardware: await collectStableFacts().catch(() => fallbackStableFacts()),
  };
}

async function openSession(
  ort: OrtModule,
  spec: RunSpec,
): Promise<{ session: Session; loadMs: number }> {
  const started = performance.now();
  try {
    const session = await ort.InferenceSession.create(spec.modelPath, {
      executionProviders: spec.executionProviders,
      intraOpNumThreads: spec.intraOpThreads,
      interOpNumThreads: spec.interOpThreads,
      graphOptimizationLevel: 'all',
    });
    return { session, loadMs: performance.now() - started };
  } catch (err) {
    throw new AgentError('MODEL_LOAD_FAILED', `the model could not be loaded: ${firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 500);
}

/** The shape fed to one input: the requested one if it fits the model, symbolic dims as 1. */
export function resolveInputShape(
  declared: ReadonlyArray<number | string>,
  requested: number[] | undefined,
  inputName: string,
): number[] {
  if (!requested) return declared.map((d) => (typeof d === 'number' && d > 0 ? d : 1));
  if (declared.length > 0 && declared.length !== requested.length) {
    throw new AgentError(
      'MODEL_LOAD_FAILED',
      `input ${inputName} has rank ${declared.length} [${declared.join(', ')}]; requested shape [${requested.join(', ')}]`,
    );
  }
  declared.forEach((d, i) => {
    if (typeof d === 'number' && d > 0 && d !== requested[i]) {
      throw new AgentError(
        'MODEL_LOAD_FAILED',
        `input ${inputName} is [${declared.join(', ')}]; requested shape [${requested.join(', ')}] differs in dimension ${i}`,
      );
    }
  });
  return requested;
}

/** Deterministic input values in [-1, 1), so repeated benchmarks feed identical data. */
function syntheticData(count: number): Float32Array {
  const data = new Float32Array(count);
  let state = 0x9e3779b9;
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    data[i] = state / 2 ** 31 - 1;
  }
  return data;
}

function buildFeeds(
  ort: OrtModule,
  session: Session,
  spec: RunSpec,
): { feeds: Record<string, Tensor>; shape: number[] } {
  const metas = session.inputMetadata;
  const target = spec.inputName ?? session.inputNames[0];
  if (target === undefined || !session.inputNames.includes(target)) {
    throw new AgentError('MODEL_LOAD_FAILED', `the model has no input named ${String(target)}`);
  }
  const feeds: Record<string, Tensor> = {};
  let usedShape: number[] = [];
  for (const meta of metas) {
    if (!meta.isTensor)
      throw new AgentError('MODEL_LOAD_FAILED', `input ${meta.name} is not a tensor`);
    if (meta.type !== 'float32') {
      throw new AgentError(
        'MODEL_LOAD_FAILED',
        `input ${meta.name} is ${meta.type}; only float32 inputs are supported`,
      );
    }
    const shape = resolveInputShape(
      meta.shape,
      meta.name === target ? spec.inputShape : undefined,
      meta.name,
    );
    const count = shape.reduce((a, b) => a * b, 1);
    feeds[meta.name] = new ort.Tensor('float32', syntheticData(count), shape);
    if (meta.name === target) usedShape = shape;
  }
  return { feeds, shape: usedShape };
}

async function runOnce(
  session: Session,
  feeds: Record<string, Tensor>,
): Promise<Record<string, Tensor>> {
  try {
    return (await session.run(feeds)) as Record<string, Tensor>;
  } catch (err) {
    throw new AgentError('INFERENCE_FAILED', `inference failed: ${firstLine(err)}`);
  }
}

function allFinite(tensor: Tensor): boolean {
  const data = tensor.data;
  if (!(data instanceof Float32Array || data instanceof Float64Array)) return true;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) return false;
  return true;
}

async function selfTest(ort: OrtModule, spec: RunSpec): Promise<SelfTestResult> {
  const { session, loadMs } = await openSession(ort, spec);
  await send({ kind: 'progress', step: 'self-test', fraction: 0 });
  const { feeds, shape } = buildFeeds(ort, session, spec);
  const outputs = await runOnce(session, feeds);
  const summary = Object.entries(outputs).map(([name, t]) => ({
    name,
    shape: [...t.dims],
    finite: allFinite(t),
  }));
  await session.release();
  return { loadMs, inputShape: shape, outputs: summary };
}

/** A labelled sample file: `count` float32 inputs of the benchmark's per-item shape, then `count` int32 labels. */
function readSample(
  path: string,
  count: number,
  itemSize: number,
): { inputs: Float32Array; labels: Int32Array } {
  const bytes = readFileSync(path);
  const expected = count * itemSize * 4 + count * 4;
  if (bytes.length !== expected) {
    throw new AgentError(
      'SCHEMA_INVALID',
      `labelled sample has ${bytes.length} bytes; ${count} items of ${itemSize} floats need ${expected}`,
    );
  }
  const copy = new Uint8Array(bytes).buffer;
  return {
    inputs: new Float32Array(copy, 0, count * itemSize),
    labels: new Int32Array(copy, count * itemSize * 4, count),
  };
}

function argmax(data: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (data[offset + i]! > data[offset + best]!) best = i;
  return best;
}

async function accuracy(
  ort: OrtModule,
  session: Session,
  inputName: string,
  shape: number[],
  sample: { path: string; count: number },
): Promise<{ correct: number; total: number }> {
  const itemShape = shape.slice(1);
  const itemSize = itemShape.reduce((a, b) => a * b, 1);
  const { inputs, labels } = readSample(sample.path, sample.count, itemSize);
  let correct = 0;
  for (let i = 0; i < sample.count; i++) {
    const item = inputs.subarray(i * itemSize, (i + 1) * itemSize);
    const out = await runOnce(session, {
      [inputName]: new ort.Tensor('float32', item, [1, ...itemShape]),
    });
    const logits = Object.values(out)[0]!;
    const classes = logits.dims[logits.dims.length - 1] ?? 1;
    if (argmax(logits.data as Float32Array, 0, classes) === labels[i]) correct++;
  }
  return { correct, total: sample.count };
}

async function benchmark(ort: OrtModule, spec: BenchmarkSpec): Promise<BenchmarkResult> {
  await send({ kind: 'progress', step: 'load', fraction: 0 });
  const { session, loadMs } = await openSession(ort, spec);
  const { feeds, shape } = buildFeeds(ort, session, spec);
  let lastProgress = performance.now();
  const progressDue = () => {
    const now = performance.now();
    if (now - lastProgress < PROGRESS_INTERVAL_MS) return false;
    lastProgress = now;
    return true;
  };
  for (let i = 0; i < spec.warmup; i++) {
    await runOnce(session, feeds);
    if (progressDue())
      await send({ kind: 'progress', step: 'warmup', fraction: (i + 1) / spec.warmup });
  }
  const maxRuns = spec.runs ?? Number.MAX_SAFE_INTEGER;
  const budget = spec.timeBudgetMs ?? Number.POSITIVE_INFINITY;
  const samples: number[] = [];
  const started = performance.now();
  // The timed region is the bare `session.run` call, as in a plain ORT loop: no wrapper
  // promise, no progress bookkeeping inside it.
  try {
    while (samples.length < maxRuns) {
      const t0 = performance.now();
      await session.run(feeds);
      const t1 = performance.now();
      samples.push(t1 - t0);
      if (t1 - started >= budget) break;
      if (progressDue()) {
        const fraction = spec.runs ? samples.length / spec.runs : (t1 - started) / budget;
        await send({ kind: 'progress', step: 'benchmark', fraction: Math.min(1, fraction) });
      }
    }
  } catch (err) {
    throw new AgentError('INFERENCE_FAILED', `inference failed: ${firstLine(err)}`);
  }
  const totalSeconds = samples.reduce((a, b) => a + b, 0) / 1000;
  const batch = shape[0] ?? 1;
  const target = spec.inputName ?? session.inputNames[0]!;
  const acc = spec.sample ? await accuracy(ort, session, target, shape, spec.sample) : undefined;
  await session.release();
  return {
    loadMs,
    inputShape: shape,
    warmup: spec.warmup,
    runs: samples.length,
    latencyMs: summarizeLatencies(samples),
    throughputPerSec: totalSeconds > 0 ? (samples.length * batch) / totalSeconds : 0,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
    sessionOptions: {
      executionProviders: spec.executionProviders,
      intraOpThreads: spec.intraOpThreads,
      interOpThreads: spec.interOpThreads,
      graphOptimizationLevel: 'all',
    },
    ...(acc ? { accuracy: acc } : {}),
  };
}

function runtime(): RuntimeResult {
  return {
    execArgv: process.execArgv,
    heapSizeLimitBytes: getHeapStatistics().heap_size_limit,
    agentEnvironment: Object.fromEntries(
      Object.keys(AGENT_ENVIRONMENT)
        .filter((key) => process.env[key] !== undefined)
        .map((key) => [key, process.env[key]!]),
    ),
  };
}

async function handle(request: RunnerRequest): Promise<RunnerResponse> {
  try {
    if (request.kind === 'runtime') return { kind: 'result', result: runtime() };
    if (request.kind === 'expand') {
      const outcome = expandPackedFileSync(request.packedPath, request.outPath, request.maxBytes);
      return { kind: 'result', result: { outcome } };
    }
    const ort = loadOrt();
    switch (request.kind) {
      case 'probe':
        return { kind: 'result', result: await probe(ort) };
      case 'self-test':
        return { kind: 'result', result: await selfTest(ort, request.spec) };
      case 'benchmark':
        return { kind: 'result', result: await benchmark(ort, request.spec) };
    }
  } catch (err) {
    const e = toAgentError(err);
    return { kind: 'error', code: e.code, message: e.message };
  }
}

/** Entry point of the child: wait for one request, answer it, exit. */
export function runRunnerChild(): void {
  if (!process.send) {
    process.stderr.write('the runner must be started by the agent (no IPC channel)\n');
    process.exit(2);
  }
  process.once('message', (request: RunnerRequest) => {
    void handle(request).then(async (response) => {
      await send(response);
      process.disconnect?.();
      process.exit(0);
    });
  });
}
