/** The benchmark's side of the agent-swarm processes: fork, start, sum their stats, stop. */
import { fork, type ChildProcess } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { join } from 'node:path';
import { emptyCounters, type SwarmCounters, type TransferMode } from './simulated-agent';
import type { SwarmDevice, SwarmReply, SwarmRequest } from './swarm-messages';

export interface SwarmStats {
  counters: SwarmCounters;
  connected: number;
  rssBytes: number;
  /** CPU time of all swarm processes so far. */
  cpuSeconds: number;
}

export interface SwarmStartResult {
  connected: number;
  failed: number;
  firstError: string | null;
}

const STATS_TIMEOUT_MS = 30_000;

export class AgentSwarm {
  private readonly children: ChildProcess[] = [];

  /**
   * `cpuProfDir`: each swarm process writes its V8 CPU profile there (node --cpu-prof).
   * `niceIncrement`: the swarm processes run this much nicer than the benchmark (and the
   * control plane it starts), so the devices' simulated work, which a real fleet does on the
   * devices, does not preempt the control plane; it still gets every cycle the control plane
   * leaves.
   */
  constructor(
    private readonly processes: number,
    private readonly cpuProfDir?: string,
    private readonly niceIncrement = 0,
  ) {}

  /** Forks the processes and waits until each has loaded its modules. */
  async launch(): Promise<void> {
    await Promise.all(
      Array.from({ length: this.processes }, () => {
        const child = fork(join(__dirname, 'agent-swarm.process.ts'), [], {
          execArgv: [
            '-r',
            '@swc-node/register',
            '--max-old-space-size=2048',
            ...(this.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', this.cpuProfDir] : []),
          ],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        this.children.push(child);
        if (this.niceIncrement > 0 && child.pid !== undefined)
          setPriority(child.pid, Math.min(19, getPriority() + this.niceIncrement));
        return this.reply(child, 'ready', 120_000);
      }),
    );
  }

  /** Splits the devices over the processes and connects them all. */
  async start(
    devices: SwarmDevice[],
    settings: {
      brokerUrl: string;
      controlPlaneUrl: string;
      publicKeyPem: string;
      transfer: TransferMode;
    },
    concurrencyPerProcess = 50,
  ): Promise<SwarmStartResult & { slowestProcessMs: number }> {
    const slices: SwarmDevice[][] = this.children.map(() => []);
    devices.forEach((d, i) => slices[i % slices.length]!.push(d));
    const results = (await Promise.all(
      this.children.map((child, i) =>
        this.request(
          child,
          {
            type: 'start',
            ...settings,
            devices: slices[i]!,
            concurrency: concurrencyPerProcess,
          },
          'connected',
          600_000,
        ),
      ),
    )) as Extract<SwarmReply, { type: 'connected' }>[];
    return results.reduce<SwarmStartResult & { slowestProcessMs: number }>(
      (sum, c) => ({
        connected: sum.connected + c.connected,
        failed: sum.failed + c.failed,
        firstError: sum.firstError ?? c.firstError,
        slowestProcessMs: Math.max(sum.slowestProcessMs, c.ms),
      }),
      { connected: 0, failed: 0, firstError: null, slowestProcessMs: 0 },
    );
  }

  async stats(): Promise<SwarmStats> {
    const replies = await Promise.all(
      this.children.map((c) => this.request(c, { type: 'stats' }, 'stats', STATS_TIMEOUT_MS)),
    );
    const total: SwarmStats = {
      counters: emptyCounters(),
      connected: 0,
      rssBytes: 0,
      cpuSeconds: 0,
    };
    for (const r of replies as Extract<SwarmReply, { type: 'stats' }>[]) {
      total.connected += r.connected;
      total.rssBytes += r.rssBytes;
      total.cpuSeconds += r.cpuSeconds;
      for (const [key, value] of Object.entries(r.counters)) {
        if (key === 'httpErrors') {
          for (const [why, n] of Object.entries(value as Record<string, number>)) {
            total.counters.httpErrors[why] = (total.counters.httpErrors[why] ?? 0) + n;
          }
        } else if (key === 'timingsMs') {
          for (const [kind, list] of Object.entries(value as Record<string, number[]>)) {
            (total.counters.timingsMs[kind] ??= []).push(...list);
          }
        } else if (key === 'commandsByType') {
          for (const [type, n] of Object.entries(value as Record<string, number>)) {
            total.counters.commandsByType[type] = (total.counters.commandsByType[type] ?? 0) + n;
          }
        } else {
          (total.counters as unknown as Record<string, number>)[key]! += value as number;
        }
      }
    }
    return total;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (child.connected) child.send({ type: 'stop' } satisfies SwarmRequest);
            else child.kill('SIGTERM');
          }),
      ),
    );
  }

  private request(
    child: ChildProcess,
    message: SwarmRequest,
    expect: SwarmReply['type'],
    timeoutMs: number,
  ): Promise<SwarmReply> {
    const answer = this.reply(child, expect, timeoutMs, message.type);
    child.send(message);
    return answer;
  }

  private reply(
    child: ChildProcess,
    expect: SwarmReply['type'],
    timeoutMs: number,
    what: string = expect,
  ): Promise<SwarmReply> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`agent swarm did not answer ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (reply: SwarmReply) => {
        if (reply.type === 'fatal') {
          cleanup();
          reject(new Error(`agent swarm failed: ${reply.message}`));
        } else if (reply.type === expect) {
          cleanup();
          resolve(reply);
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`agent swarm exited with ${code}`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }
}
