/**
 * One child process per running job. The TypeScript entry runs under @swc-node/register from
 * the repository; a compiled build forks the compiled entry. The parent talks to it over IPC
 * only, and kills it to cancel or on shutdown.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { ChildMessage, ParentMessage } from './worker/job-worker.protocol';

export interface JobProcessEvents {
  onMessage(message: ChildMessage): void;
  /** The process ended; `stderrTail` is the end of what it wrote to stderr. */
  onExit(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): void;
}

const STDERR_TAIL_CHARS = 4000;

export function workerEntry(): { path: string; execArgv: string[] } {
  if (__filename.endsWith('.ts')) {
    return {
      path: join(__dirname, 'worker', 'job-worker.main.ts'),
      execArgv: ['-r', require.resolve('@swc-node/register')],
    };
  }
  return { path: join(__dirname, 'worker', 'job-worker.main.js'), execArgv: [] };
}

export class JobProcess {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private stderrTail = '';

  constructor(events: JobProcessEvents) {
    const entry = workerEntry();
    this.child = fork(entry.path, [], {
      execArgv: entry.execArgv,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-STDERR_TAIL_CHARS);
    });
    this.child.on('message', (m: ChildMessage) => events.onMessage(m));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        events.onExit(code, signal, this.stderrTail);
        resolve();
      });
    });
    // A failed send (channel closed while the child exits) is reported by the exit instead.
    this.child.on('error', () => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(message: ParentMessage): void {
    if (this.child.connected) this.child.send(message);
  }

  /** SIGKILL and wait for the exit: the child holds nothing the next run cannot rebuild. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
