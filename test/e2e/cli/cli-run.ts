/**
 * Runs the real `edgec` in a child process without blocking this one, so a control plane in
 * the test process keeps answering while the command talks to it.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const EDGEC = join(__dirname, '../../../bin/edgec.js');

export interface EdgecRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function edgec(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 60_000,
  cwd?: string,
): Promise<EdgecRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [EDGEC, ...args], {
      env: {
        ...process.env,
        EDGEC_URL: '',
        EDGEC_TOKEN: '',
        EC_API_URL: '',
        EC_API_TOKEN: '',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(cwd ? { cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`edgec ${args.join(' ')} still running after ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
