import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getFreePort, waitForPort } from './free-port';

export const MOSQUITTO_BINARY = process.env.MOSQUITTO_BINARY ?? '/usr/sbin/mosquitto';

export function mosquittoAvailable(): boolean {
  return existsSync(MOSQUITTO_BINARY);
}

export interface MosquittoOptions {
  /** Directory for the generated mosquitto.conf, persistence and log. */
  readonly dir: string;
  /** Extra config lines (password_file, acl_file, persistence ...). */
  readonly configLines?: readonly string[];
  /** Fixed port, e.g. to restart on the same port; a free one otherwise. */
  readonly port?: number;
}

export interface MosquittoInstance {
  readonly port: number;
  readonly url: string;
  readonly process: ChildProcess;
  /** SIGHUP: mosquitto re-reads its password and ACL files. */
  reload(): void;
  stop(): Promise<void>;
  /** Everything mosquitto printed so far (useful in assertion messages). */
  output(): string;
}

/**
 * Starts the Debian mosquitto binary on 127.0.0.1 with a config written into `dir`, and resolves
 * once it accepts TCP connections.
 */
export async function startMosquitto(options: MosquittoOptions): Promise<MosquittoInstance> {
  const port = options.port ?? (await getFreePort());
  const confPath = join(options.dir, 'mosquitto.conf');
  writeFileSync(
    confPath,
    [
      `listener ${port} 127.0.0.1`,
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      // Started as root (CI containers), mosquitto would drop to its own user and lose access
      // to the test's private temp dir; keep the caller's user instead.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      ...(options.configLines ?? []),
      '',
    ].join('\n'),
  );
  const child = spawn(MOSQUITTO_BINARY, ['-c', confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, 5000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`mosquitto did not start: ${(err as Error).message}\n${output}`);
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    process: child,
    reload: () => child.kill('SIGHUP'),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
    output: () => output,
  };
}
