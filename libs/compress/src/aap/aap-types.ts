/** Options, progress events and results of an AAP run. */
import type { Model } from '@edgecompress/engine';
import type { LatencyMeasurement, LatencyOrigin } from '../latency';
import type { Objective } from '../objective';
import type { PolicyDecision, PolicyState, StopReason } from './adaptive-policy';
import type { FineTuneBudget } from './fine-tune';
import type { GroupPlan, ThresholdWeighting } from './threshold-plan';

export interface AapOptions {
  objective: Objective;
  fineTune: FineTuneBudget;
  /** Threshold weighting; default: latency objective -> latency (predictor) else flops; flops -> flops; otherwise params. */
  weighting?: ThresholdWeighting;
  /** λ0; default: the threshold that would prune 5% of the prunable channels of the input model. */
  lambda?: number;
  initialThreshold?: number;
  resetLimit?: number;
  /** Stop once λ < floor; default λ0 / 1024. */
  lambdaFloor?: number;
  maxRounds?: number;
  wallClockMs?: number;
  power?: number;
  calibrationBatches?: number;
  calibrationBatchSize?: number;
  /** Channels every group keeps (default 1). */
  minChannels?: number;
  /** Every group keeps a multiple of this many channels, or all it has (default 1). */
  channelMultiple?: number;
  /** The largest share of a group's channels one round may remove (default 1: no cap) [ours]. */
  maxGroupCut?: number;
  pruneStem?: boolean;
  pruneClassifier?: boolean;
  /** Examples held out from the END of the training split to judge rounds (default min(5000, 10%)). */
  validationCount?: number;
  /** Also measure test accuracy at every round (default: baseline and result only). */
  testEveryRound?: boolean;
  /**
   * Latency of a round that fails the accuracy guard (it can never be kept, so its figure only
   * fills the record): e.g. a prediction, so fleet time goes to rounds that can be kept.
   * Default: the oracle, like every other round.
   */
  rejectedLatency?: (model: Model, device: string) => Promise<LatencyMeasurement>;
  /** Milliseconds clock (injected in tests). */
  now?: () => number;
  signal?: AbortSignal;
  onProgress?: (event: AapEvent) => void;
  /**
   * Called (and awaited) after the baseline and after every round with everything a later run
   * needs to continue from there; persist it to survive a restart.
   */
  onCheckpoint?: (checkpoint: AapCheckpoint) => void | Promise<void>;
  /** Continue a search from a checkpoint instead of starting over (same input, data, options). */
  resumeFrom?: AapCheckpoint;
}

/** The search's state between rounds: the policy, the trajectory so far and the models it may still need. */
export interface AapCheckpoint {
  lambda: number;
  weighting: ThresholdWeighting;
  weightingNote?: string;
  baseline: RoundMetrics;
  state: PolicyState;
  trajectory: RoundRecord[];
  decisions: PolicyDecision[];
  bestRound: number;
  /** Search time spent so far, so a wall-clock budget spans restarts. */
  elapsedMs: number;
  startedAt: string;
  /** The rounds the policy may return to, plus the best round so far. */
  models: ReadonlyMap<number, Model>;
}

export interface RoundMetrics {
  /** Validation accuracy (fraction) used by the policy. */
  accuracy: number;
  testAccuracy?: number;
  params: number;
  flops: number;
  sizeBytes: number;
  latencyMs?: number;
  latencySource?: LatencyOrigin;
  /**
   * Every p50 taken of this model when more than one was: a round that meets a latency target
   * is measured a second time, and `latencyMs` is the slower figure.
   */
  latencyChecksMs?: number[];
}

export interface RoundRecord {
  round: number;
  /** Round whose model this round started from. */
  startFrom: number;
  threshold: number;
  lambda: number;
  /** Thresholds skipped (whole λ steps) because they would prune nothing. */
  skippedSteps: number;
  removedChannels: number;
  /** Groups that lost channels this round. */
  groups: GroupPlan[];
  metrics: RoundMetrics;
  dropPoints: number;
  reduction: number;
  feasible: boolean;
  targetReached: boolean;
  verdict: 'kept' | 'rolled-back' | 'baseline';
  decision?: PolicyDecision;
  /**
   * A rolled-back round that made exactly this cut from the same model: its verdict was reused
   * and this round was not fine-tuned (its metrics are that round's).
   */
  repeatOf?: number;
  /**
   * Set when `repeatOf` names a round that was kept from the same model and later popped from
   * the track (every step after it failed): the cut is rolled back as a dead end although its
   * accuracy held, and `feasible` still says what the metrics say.
   */
  deadEnd?: true;
  /** Groups this round's cut could not touch: their smallest cut from its parent had failed. */
  leftWhole?: string[];
  seconds: number;
}

export type AapEvent =
  | { kind: 'baseline'; record: RoundRecord; lambda: number; weighting: ThresholdWeighting }
  | {
      kind: 'round-start';
      round: number;
      threshold: number;
      lambda: number;
      removedChannels: number;
      params: number;
    }
  | { kind: 'fine-tune'; round: number; step: number; totalSteps: number; loss: number }
  | { kind: 'round'; record: RoundRecord }
  | { kind: 'done'; stopReason: StopReason | 'nothing-to-prune' | 'aborted'; bestRound: number };

export interface AapProvenance {
  method: 'aap';
  objective: Objective;
  options: Record<string, unknown>;
  lambda: number;
  weighting: ThresholdWeighting;
  /** Set when the requested weighting could not be used (e.g. no per-layer latencies). */
  weightingNote?: string;
  validation: { from: 'train-holdout'; count: number };
  decisions: PolicyDecision[];
  stopReason: StopReason | 'nothing-to-prune' | 'aborted';
  startedAt: string;
  seconds: number;
}

export interface AapResult {
  model: Model;
  round: number;
  metrics: RoundMetrics;
  baseline: RoundMetrics;
  /** null for the accuracy objective (it has no target). */
  targetMet: boolean | null;
  summary: string;
  trajectory: RoundRecord[];
  provenance: AapProvenance;
}
