/**
 * Messages between the agent and its runner child process (over the IPC channel). One
 * request per child: the child exits after answering, so nothing a model did survives it.
 */
import type { ErrorCode } from '@edgecompress/protocol';
import type { StableHardwareFacts } from '../facts/hardware-facts';
import type { ExpandOutcome } from '../store/packed-onnx';
import type { LatencySummary } from './latency-stats';

export interface LabelledSampleFile {
  path: string;
  count: number;
}

export interface RunSpec {
  modelPath: string;
  /** Input to feed with `inputShape`; the model's first input when absent. */
  inputName?: string;
  /** Shape for that input; symbolic dims of the model become 1 when absent. */
  inputShape?: number[];
  intraOpThreads: number;
  interOpThreads: number;
  executionProviders: string[];
}

export interface BenchmarkSpec extends RunSpec {
  warmup: number;
  runs?: number;
  timeBudgetMs?: number;
  sample?: LabelledSampleFile;
}

export type RunnerRequest =
  | { kind: 'probe' }
  | { kind: 'runtime' }
  | { kind: 'self-test'; spec: RunSpec }
  | { kind: 'benchmark'; spec: BenchmarkSpec }
  /** Write the expanded form of a packed low-bit model file to `outPath`, if it fits `maxBytes`. */
  | { kind: 'expand'; packedPath: string; outPath: string; maxBytes: number };

export interface ProbeResult {
  ortVersion: string;
  executionProviders: string[];
  /** Collected here rather than in the agent, which stays small. */
  hardware: StableHardwareFacts;
}

/** The V8/Node settings the runner runs under (the agent's lean flags must not reach it). */
export interface RuntimeResult {
  execArgv: string[];
  /** v8.getHeapStatistics().heap_size_limit: old generation plus young generation. */
  heapSizeLimitBytes: number;
  /** The runner's values of the variables the agent's unit sets (absent: not set). */
  agentEnvironment: Record<string, string>;
}

export interface ExpandResult {
  outcome: ExpandOutcome;
}

export interface SelfTestResult {
  loadMs: number;
  inputShape: number[];
  outputs: { name: string; shape: number[]; finite: boolean }[];
}

export interface BenchmarkResult {
  loadMs: number;
  inputShape: number[];
  warmup: number;
  runs: number;
  latencyMs: LatencySummary;
  throughputPerSec: number;
  peakRssBytes: number;
  sessionOptions: {
    executionProviders: string[];
    intraOpThreads: number;
    interOpThreads: number;
    graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all';
  };
  accuracy?: { correct: number; total: number };
}

export type RunnerStep = 'load' | 'self-test' | 'warmup' | 'benchmark' | 'accuracy';

export type RunnerResponse =
  | { kind: 'progress'; step: RunnerStep; fraction: number }
  | {
      kind: 'result';
      result: ProbeResult | RuntimeResult | ExpandResult | SelfTestResult | BenchmarkResult;
    }
  | { kind: 'error'; code: ErrorCode; message: string };
