/**
 * Runs one runner request in a fresh child process under a wall-clock limit and a resident
 * memory limit. The agent's event loop (and so its MQTT keepalive) never waits on ORT, and a
 * model that crashes, hangs or eats memory costs one child, reported with a typed code:
 * RUNNER_CRASHED, TIMEOUT or OUT_OF_MEMORY.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentError } from '../agent-error';
import { systemClock, type Clock } from '../clock';
import { isSingleExecutable } from './load-ort';
import type { RunnerRequest, RunnerResponse, RunnerStep } from './runner-protocol';
import {
  nodeOptionsArgument,
  RUNNER_RUNTIME_FLAGS,
  withoutAgentEnvironment,
} from './runtime-flags';

export interface RunnerLimits {
  timeoutMs: number;
  memoryLimitBytes: number;
}

export interface RunnerLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export const RUNNER_ROLE_ENV = 'EC_AGENT_ROLE';

/**
 * A runner from the single executable at `executable`: the same binary in runner role, with the
 * agent's lean V8 settings set back to Node's defaults for the inference it runs.
 */
export function singleExecutableRunnerLaunch(executable: string): RunnerLaunch {
  return {
    command: executable,
    args: [nodeOptionsArgument(RUNNER_RUNTIME_FLAGS)],
    env: { [RUNNER_ROLE_ENV]: 'runner' },
  };
}

/** How to start a runner: the same binary in runner role, or the TypeScript entry from the repo. */
export function defaultRunnerLaunch(): RunnerLaunch {
  const env = { [RUNNER_ROLE_ENV]: 'runner' };
  if (isSingleExecutable()) return singleExecutableRunnerLaunch(process.execPath);
  if (__filename.endsWith('.ts')) {
    return {
      command: process.execPath,
      args: ['-r', require.resolve('@swc-node/register'), join(__dirname, 'runner-main.ts')],
      env,
    };
  }
  // A bundled build: the bundle itself dispatches on the role variable.
  return { command: process.execPath, args: [__filename], env };
}

/** Resident set size of a process in bytes, from /proc; 0 when unreadable (process gone). */
export function readRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const MEMORY_POLL_MS = 25;
const STDERR_TAIL_BYTES = 2000;

export class OrtRunner {
  private readonly children = new Set<ChildProcess>();

  constructor(
    private readonly launch: RunnerLaunch = defaultRunnerLaunch(),
    private readonly clock: Clock = systemClock,
  ) {}

  run<T>(
    request: RunnerRequest,
    limits: RunnerLimits,
    onProgress?: (step: RunnerStep, fraction: number) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const child = spawn(this.launch.command, this.launch.args, {
        env: { ...withoutAgentEnvironment(process.env), ...this.launch.env },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      this.children.add(child);
      let stderrTail = '';
      let settled: 'result' | 'error' | 'timeout' | 'memory' | undefined;
      let answer: RunnerResponse | undefined;
      let peakRss = 0;

      child.stderr?.on('data', (data: Buffer) => {
        stderrTail = (stderrTail + data.toString('utf8')).slice(-STDERR_TAIL_BYTES);
      });
      child.on('message', (message: RunnerResponse) => {
        if (message.kind === 'progress') onProgress?.(message.step, message.fraction);
        else if (!answer) answer = message;
      });
      const kill = (reason: 'timeout' | 'memory') => {
        if (settled) return;
        settled = reason;
        child.kill('SIGKILL');
      };
      const timer = this.clock.setTimeout(() => kill('timeout'), limits.timeoutMs);
      const poll = this.clock.setInterval(() => {
        if (child.pid === undefined) return;
        const rss = readRssBytes(child.pid);
        peakRss = Math.max(peakRss, rss);
        if (rss > limits.memoryLimitBytes) kill('memory');
      }, MEMORY_POLL_MS);

      child.on('error', (err) => {
        settled ??= 'error';
        answer = {
          kind: 'error',
          code: 'RUNNER_CRASHED',
          message: `runner could not start: ${err.message}`,
        };
      });
      child.on('close', (code, signal) => {
        timer.cancel();
        poll.cancel();
        this.children.delete(child);
        if (settled === 'timeout') {
          return reject(
            new AgentError('TIMEOUT', `runner exceeded ${limits.timeoutMs} ms and was killed`),
          );
        }
        if (settled === 'memory') {
          return reject(
            new AgentError(
              'OUT_OF_MEMORY',
              `runner used ${peakRss} bytes, over the limit of ${limits.memoryLimitBytes}, and was killed`,
            ),
          );
        }
        if (answer?.kind === 'result') return resolve(answer.result as T);
        if (answer?.kind === 'error') return reject(new AgentError(answer.code, answer.message));
        const how = signal ? `signal ${signal}` : `exit code ${code}`;
        const detail = stderrTail.trim().split('\n').slice(-3).join(' | ');
        reject(
          new AgentError('RUNNER_CRASHED', `runner died with ${how}${detail ? `: ${detail}` : ''}`),
        );
      });
      child.send(request);
    });
  }

  /** Pids of runners alive now (tests use them to inject faults). */
  activePids(): number[] {
    return [...this.children].map((c) => c.pid).filter((p): p is number => p !== undefined);
  }

  killAll(): void {
    for (const child of this.children) child.kill('SIGKILL');
  }
}
