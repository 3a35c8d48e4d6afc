/**
 * A job's files under `<dataDir>/jobs/<id>/`: the AAP checkpoint (state JSON + one engine model
 * file per round it still needs), each finished stage's model, and the files of the variants
 * the job reported. Model files are immutable once written (named by round); the state JSON is
 * replaced atomically, so a process killed at any point leaves the last complete checkpoint.
 */
import type { AapCheckpoint } from '@edgecompress/compress';
import { type Model, loadModel, saveModel } from '@edgecompress/engine';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

export interface StageResult {
  /** Round whose model is the stage's result (AAP), or 1 (single-step methods). */
  round: number;
  /** Extra facts the stage's final record needs after a restart. */
  summary: Record<string, unknown>;
}

type StoredCheckpoint = Omit<AapCheckpoint, 'models'> & {
  modelRounds: number[];
  predictedMs: Record<string, number | null>;
};

export function writeFileAtomically(path: string, bytes: Uint8Array | string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path);
}

export class JobCheckpointStore {
  constructor(private readonly dir: string) {
    mkdirSync(join(dir, 'aap'), { recursive: true });
    mkdirSync(join(dir, 'variants'), { recursive: true });
  }

  variantPath(method: string, round: number, ext: string): string {
    return join(this.dir, 'variants', `${method}-${round}.${ext}`);
  }

  saveAap(checkpoint: AapCheckpoint, predictedMs: ReadonlyMap<number, number | null>): void {
    const { models, ...state } = checkpoint;
    for (const [round, model] of models) {
      const path = this.aapModelPath(round);
      if (!existsSync(path)) saveModel(path, model);
    }
    const stored: StoredCheckpoint = {
      ...state,
      modelRounds: [...models.keys()],
      predictedMs: Object.fromEntries(predictedMs),
    };
    writeFileAtomically(join(this.dir, 'aap', 'state.json'), JSON.stringify(stored));
    // Models the search can no longer return to are not needed by any later checkpoint.
    const keep = new Set(models.keys());
    for (const file of readdirSync(join(this.dir, 'aap'))) {
      const match = /^round-(\d+)\.ecm$/.exec(file);
      if (match && !keep.has(Number(match[1]))) rmSync(join(this.dir, 'aap', file));
    }
  }

  loadAap(): { checkpoint: AapCheckpoint; predictedMs: Map<number, number | null> } | null {
    const path = join(this.dir, 'aap', 'state.json');
    if (!existsSync(path)) return null;
    const { modelRounds, predictedMs, ...state } = JSON.parse(
      readFileSync(path, 'utf8'),
    ) as StoredCheckpoint;
    const models = new Map(modelRounds.map((r) => [r, loadModel(this.aapModelPath(r))]));
    return {
      checkpoint: { ...state, models },
      predictedMs: new Map(Object.entries(predictedMs).map(([r, ms]) => [Number(r), ms])),
    };
  }

  saveStage(method: string, model: Model, result: StageResult): void {
    saveModel(join(this.dir, `${method}-result.ecm`), model);
    writeFileAtomically(join(this.dir, `${method}-result.json`), JSON.stringify(result));
  }

  loadStage(method: string): { model: Model; result: StageResult } | null {
    const path = join(this.dir, `${method}-result.json`);
    if (!existsSync(path)) return null;
    return {
      model: loadModel(join(this.dir, `${method}-result.ecm`)),
      result: JSON.parse(readFileSync(path, 'utf8')) as StageResult,
    };
  }

  private aapModelPath(round: number): string {
    return join(this.dir, 'aap', `round-${round}.ecm`);
  }
}
