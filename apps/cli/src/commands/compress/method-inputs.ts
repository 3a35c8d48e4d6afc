/**
 * What every compression method reads from the command line: the model file (engine model file
 * or ONNX), the dataset, the objective, and the latency oracle the objective needs.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { Dataset, Model } from '@edgecompress/engine';
import type { LatencyOracle, Objective } from '@edgecompress/compress';

export const int =
  (flag: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`${flag} must be an integer >= 0, got "${v}"`);
    return n;
  };
export const num =
  (flag: string) =>
  (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`${flag} must be a number, got "${v}"`);
    return n;
  };

export async function loadInputModel(path: string): Promise<Model> {
  if (!existsSync(path)) {
    throw new Error(
      `model file "${path}" not found (train one with: edgec train -m resnet20 -o ${path})`,
    );
  }
  const engine = await import('@edgecompress/engine');
  if (path.endsWith('.onnx')) return engine.importOnnx(readFileSync(path)).model;
  return engine.loadModel(path);
}

export interface DatasetFlags {
  dataset: string;
  dataDir?: string;
  limitTrain?: number;
  limitTest?: number;
}

/** Adds the flags of {@link DatasetFlags} to a method's command, alike for every method. */
export function withDatasetOptions(command: Command): Command {
  return command
    .option(
      '-d, --dataset <name>',
      'mnist, fashion-mnist, idx (with --data-dir) or synthetic',
      'mnist',
    )
    .option('--data-dir <dir>', 'directory of the IDX files (fashion-mnist, idx)')
    .option('--limit-train <n>', 'use only the first n training examples', int('--limit-train'))
    .option('--limit-test <n>', 'use only the first n test examples', int('--limit-test'));
}

export async function loadInputDataset(o: DatasetFlags, model: Model): Promise<Dataset> {
  const engine = await import('@edgecompress/engine');
  const limit = {
    ...(o.limitTrain ? { train: o.limitTrain } : {}),
    ...(o.limitTest ? { test: o.limitTest } : {}),
  };
  const dataset = engine.loadDataset(o.dataset, {
    ...(o.dataDir ? { dir: o.dataDir } : {}),
    ...(o.limitTrain || o.limitTest ? { limit } : {}),
  });
  const shape = model.graph.inputShape;
  if (
    shape.join('x') !== dataset.inputShape.join('x') ||
    model.graph.numClasses !== dataset.numClasses
  ) {
    throw new Error(
      `the model takes [${shape.join(', ')}] with ${model.graph.numClasses} classes, but ${dataset.name} ` +
        `has [${dataset.inputShape.join(', ')}] with ${dataset.numClasses} classes`,
    );
  }
  return dataset;
}

/** The oracle an objective needs: local ORT timing, or the device-profile predictor. */
/** Where latencies come from: device profiles, or how `@local` measures on this machine. */
export interface OracleInputs {
  profilesDir?: string;
  /** Images per timed run of `@local` (default 1). */
  localBatch?: number;
  /** Timed runs per `@local` measurement; the p50 of them is the figure (default 30). */
  localRuns?: number;
  /** `@local`: scale every figure to the load of the first measurement (default true). */
  localNormalizeLoad?: boolean;
}

export async function oracleFor(
  objective: Objective,
  inputs: OracleInputs = {},
): Promise<LatencyOracle | undefined> {
  if (objective.metric !== 'latency' && !objective.device) return undefined;
  const compress = await import('@edgecompress/compress');
  if (objective.latencySource === 'local') {
    return new compress.CachedLatencyOracle(
      new compress.LocalLatencyOracle({
        ...(inputs.localBatch !== undefined ? { batchSize: inputs.localBatch } : {}),
        ...(inputs.localRuns !== undefined ? { timedRuns: inputs.localRuns } : {}),
        normalizeLoad: inputs.localNormalizeLoad ?? true,
      }),
    );
  }
  if (objective.latencySource === 'measured') {
    throw new Error(
      'measured latencies come from the fleet through the control plane (compression jobs); ' +
        'on the command line use a device profile (predicted) or @local',
    );
  }
  const profiles = await import('@edgecompress/profiles');
  const dir = inputs.profilesDir ?? profiles.defaultProfilesDir();
  if (!dir) throw new Error('no device-profiles directory found; pass --profiles <dir>');
  const predictor = new profiles.ProfileLatencyPredictor(profiles.loadDeviceProfiles(dir));
  return new compress.CachedLatencyOracle(new compress.PredictedLatencyOracle(predictor));
}

/** Writes next to the target and renames, so a failed run never leaves a partial file. */
export function writeAtomically(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

/**
 * Writes a method's result, minus the model itself, as the JSON report (trajectory, history,
 * provenance) and returns the line that tells the user where it went.
 */
export function writeResultReport(path: string, result: { model: unknown }, what: string): string {
  const { model: _model, ...report } = result;
  writeAtomically(path, JSON.stringify(report, null, 2));
  return `${what} written to ${path}`;
}
