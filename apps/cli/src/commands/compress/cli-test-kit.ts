/**
 * What the compress CLI specs share: running the real `edgec` in a child process, and writing
 * a freshly built model file for synthetic data to start from. Imported only by *.spec.ts.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { buildModel, saveModel, syntheticDataset } from '@edgecompress/engine';

const EDGEC = join(__dirname, '../../../../../bin/edgec.js');

export interface EdgecRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function edgec(args: string[]): EdgecRun {
  const r = spawnSync(process.execPath, [EDGEC, ...args], { encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Builds `architecture` for the synthetic dataset's shapes (seed 1) and saves it at `path`. */
export function writeSyntheticModel(path: string, architecture: string): string {
  const data = syntheticDataset();
  saveModel(
    path,
    buildModel(architecture, { inputShape: data.inputShape, numClasses: data.numClasses, seed: 1 }),
  );
  return path;
}
