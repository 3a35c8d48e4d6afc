import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { getFreePort } from './free-port';
import { eventually } from './mqtt-test-client';

const REPO_ROOT = join(__dirname, '..', '..', '..');

/**
 * `edgec server` as a child process on a data dir and fixed ports, so a test can SIGKILL it and
 * start it again on the same dir and ports (what a device or an operator would reconnect to).
 */
export class ServerProcessHarness {
  readonly httpUrl: string;
  readonly mqttUrl: string;
  private readonly started: ChildProcess[] = [];

  private constructor(
    readonly dataDir: string,
    readonly httpPort: number,
    readonly mqttPort: number,
    private readonly stderr: 'pipe' | 'inherit',
  ) {
    this.httpUrl = `http://127.0.0.1:${httpPort}`;
    this.mqttUrl = `mqtt://127.0.0.1:${mqttPort}`;
  }

  /** Picks two free ports; nothing runs until start(). */
  static async create(
    dataDir: string,
    options: { stderr?: 'pipe' | 'inherit' } = {},
  ): Promise<ServerProcessHarness> {
    const [httpPort, mqttPort] = [await getFreePort(), await getFreePort()];
    return new ServerProcessHarness(dataDir, httpPort, mqttPort, options.stderr ?? 'pipe');
  }

  /** The server started last. */
  get process(): ChildProcess {
    const child = this.started.at(-1);
    if (!child) throw new Error('server not started');
    return child;
  }

  /** Spawns the server and waits until /readyz answers 200. */
  async start(readyTimeoutMs = 30_000): Promise<void> {
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'bin/edgec.js'),
        'server',
        '--data-dir',
        this.dataDir,
        '--port',
        String(this.httpPort),
        '--mqtt-port',
        String(this.mqttPort),
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'ignore', this.stderr], cwd: REPO_ROOT },
    );
    this.started.push(child);
    await eventually(
      () =>
        fetch(`${this.httpUrl}/readyz`).then(
          (r) => r.status,
          () => 0,
        ),
      (status) => status === 200 || exited(child),
      readyTimeoutMs,
    );
    if (exited(child)) throw new Error(`edgec server exited before ready (${child.exitCode})`);
  }

  /** Sends SIGKILL to the running server (at once, e.g. from a callback) and resolves on exit. */
  kill9(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** Graceful stop: SIGTERM, resolves on exit. */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** For after(): SIGKILL every server still alive. */
  killAll(): void {
    for (const child of this.started) if (!exited(child)) child.kill('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (exited(child)) return Promise.resolve();
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    return gone;
  }
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}
