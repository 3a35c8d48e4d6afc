/**
 * `edgec compress aap`: Automatic Attention Pruning towards an objective, with a live progress
 * display, a closing table of every round, and optionally the L1-norm and one-shot baselines at
 * the same parameter and training budget.
 *
 *   edgec compress aap -m model.ecm -d fashion-mnist --objective accuracy --max-drop 0.3
 *   edgec compress aap -m model.ecm -d mnist --objective params=0.8
 *   edgec compress aap -m model.onnx -d mnist --objective latency=2ms@local
 */
import type { Command } from 'commander';
import type {
  AapEvent,
  AapResult,
  BudgetPruningOptions,
  FineTuneBudget,
  RoundRecord,
} from '@edgecompress/compress';
import type { Dataset, Model } from '@edgecompress/engine';
import { createProgress } from '../../ui/progress';
import {
  int,
  loadInputDataset,
  loadInputModel,
  num,
  oracleFor,
  withDatasetOptions,
  writeAtomically,
  writeResultReport,
  type DatasetFlags,
} from './method-inputs';

interface AapCliOptions extends DatasetFlags {
  model: string;
  objective: string;
  maxDrop: number;
  latencySource?: 'predicted' | 'measured' | 'local';
  profiles?: string;
  latencyBatch?: number;
  latencyRuns?: number;
  latencyNormalize: boolean;
  rounds: number;
  timeBudget?: number;
  epochs?: number;
  steps?: number;
  workers: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  lambda?: number;
  power: number;
  weighting?: 'params' | 'flops' | 'latency';
  minChannels: number;
  channelMultiple: number;
  maxGroupCut: number;
  pruneStem: boolean;
  pruneClassifier: boolean;
  calibrationBatches: number;
  validation?: number;
  seed: number;
  out?: string;
  onnx?: string;
  report?: string;
  baselines: boolean;
}

const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
const short = (n: number): string =>
  n >= 1e9
    ? `${(n / 1e9).toFixed(2)}G`
    : n >= 1e6
      ? `${(n / 1e6).toFixed(2)}M`
      : n >= 1e3
        ? `${(n / 1e3).toFixed(1)}k`
        : `${n}`;

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function trajectoryTable(trajectory: readonly RoundRecord[], chosen: number): string {
  return table(
    [
      'round',
      'from',
      'T',
      'lambda',
      'removed',
      'params',
      'FLOPs',
      'val acc',
      'drop pt',
      'p50 ms',
      'verdict',
    ],
    trajectory.map((r) => [
      `${r.round}${r.round === chosen ? '*' : ''}`,
      r.round === 0 ? '-' : String(r.startFrom),
      r.threshold.toPrecision(4),
      r.lambda.toPrecision(3),
      String(r.removedChannels),
      short(r.metrics.params),
      short(r.metrics.flops),
      pct(r.metrics.accuracy),
      r.dropPoints.toFixed(2),
      r.metrics.latencyMs?.toFixed(3) ?? '-',
      r.repeatOf !== undefined
        ? `${r.verdict} (=${r.repeatOf}${r.deadEnd ? ', dead end' : ''})`
        : r.verdict,
    ]),
  );
}

async function runCommand(o: AapCliOptions): Promise<void> {
  const compress = await import('@edgecompress/compress');
  const engine = await import('@edgecompress/engine');
  const objective = compress.parseObjective(o.objective, {
    maxAccuracyDrop: o.maxDrop,
    ...(o.latencySource ? { latencySource: o.latencySource } : {}),
  });
  if (o.epochs !== undefined && o.steps !== undefined) {
    throw new Error('give the per-round fine-tuning budget as --epochs or --steps, not both');
  }
  const model = await loadInputModel(o.model);
  const dataset = await loadInputDataset(o, model);
  const oracle = await oracleFor(objective, {
    ...(o.profiles ? { profilesDir: o.profiles } : {}),
    ...(o.latencyBatch !== undefined ? { localBatch: o.latencyBatch } : {}),
    ...(o.latencyRuns !== undefined ? { localRuns: o.latencyRuns } : {}),
    localNormalizeLoad: o.latencyNormalize,
  });
  const backend = await engine.initEngineBackend();
  const fineTune: FineTuneBudget = {
    ...(o.steps !== undefined ? { steps: o.steps } : { epochs: o.epochs ?? 1 }),
    batchSize: o.batchSize,
    lr: o.lr,
    weightDecay: o.weightDecay,
    seed: o.seed,
    workers: o.workers,
  };
  process.stderr.write(
    `AAP on ${model.graph.architecture} (${dataset.name}, ${dataset.train.count} train / ${dataset.test.count} test): ` +
      `${compress.describeObjective(objective)}; up to ${o.rounds} rounds, fine-tune ` +
      `${o.steps !== undefined ? `${o.steps} steps` : `${fineTune.epochs} epoch(s)`} per round on ${o.workers} worker${o.workers > 1 ? 's' : ''}; backend ${backend.name}\n`,
  );
  const progress = createProgress('aap', o.rounds, ['T', 'params', 'acc', 'p50', 'fine-tune']);
  const fields = { T: '-', params: '-', acc: '-', p50: '-', 'fine-tune': '-' };
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  let result: AapResult;
  try {
    result = await compress.runAap(
      model,
      dataset,
      {
        objective,
        fineTune,
        maxRounds: o.rounds,
        ...(o.timeBudget !== undefined ? { wallClockMs: o.timeBudget * 60_000 } : {}),
        ...(o.lambda !== undefined ? { lambda: o.lambda } : {}),
        ...(o.weighting ? { weighting: o.weighting } : {}),
        ...(o.validation !== undefined ? { validationCount: o.validation } : {}),
        power: o.power,
        minChannels: o.minChannels,
        channelMultiple: o.channelMultiple,
        maxGroupCut: o.maxGroupCut,
        pruneStem: o.pruneStem,
        pruneClassifier: o.pruneClassifier,
        calibrationBatches: o.calibrationBatches,
        signal: abort.signal,
        onProgress: (e: AapEvent) => {
          if (e.kind === 'baseline') {
            progress.log(
              `round 0 (unpruned): params ${short(e.record.metrics.params)}, FLOPs ${short(e.record.metrics.flops)}, ` +
                `val acc ${pct(e.record.metrics.accuracy)}, test acc ${pct(e.record.metrics.testAccuracy)}` +
                (e.record.metrics.latencyMs !== undefined
                  ? `, p50 ${e.record.metrics.latencyMs.toFixed(3)} ms`
                  : '') +
                `; lambda ${e.lambda.toPrecision(3)}, weighting ${e.weighting}`,
            );
          } else if (e.kind === 'round-start') {
            fields.T = e.threshold.toPrecision(3);
            fields.params = short(e.params);
            progress.update(e.round - 1, fields);
          } else if (e.kind === 'fine-tune') {
            fields['fine-tune'] = `${e.step + 1}/${e.totalSteps} loss ${e.loss.toFixed(3)}`;
            progress.update(e.round - 1, fields);
          } else if (e.kind === 'round') {
            const r = e.record;
            fields.acc = pct(r.metrics.accuracy);
            fields.p50 = r.metrics.latencyMs?.toFixed(3) ?? '-';
            progress.update(r.round, fields);
            progress.log(
              `round ${r.round}: T ${r.threshold.toPrecision(4)} lambda ${r.lambda.toPrecision(3)}, -${r.removedChannels} ch, ` +
                `params ${short(r.metrics.params)}, FLOPs ${short(r.metrics.flops)}, val acc ${pct(r.metrics.accuracy)} ` +
                `(drop ${r.dropPoints.toFixed(2)} pt)` +
                (r.metrics.latencyMs !== undefined
                  ? `, p50 ${r.metrics.latencyMs.toFixed(3)} ms`
                  : '') +
                (r.metrics.latencyChecksMs
                  ? ` (the slower of ${r.metrics.latencyChecksMs.map((v) => v.toFixed(3)).join(' and ')})`
                  : '') +
                (r.leftWhole ? ` (left whole: ${r.leftWhole.join(', ')})` : '') +
                ` -> ${r.verdict}` +
                (r.repeatOf !== undefined
                  ? r.deadEnd
                    ? ` (the cut of round ${r.repeatOf}, popped as a dead end: not kept again)`
                    : ` (the cut of round ${r.repeatOf}: its verdict, not fine-tuned again)`
                  : '') +
                `${r.decision?.stop ? ` (stop: ${r.decision.stop})` : ''} [${r.seconds.toFixed(1)} s]`,
            );
          }
        },
      },
      oracle,
    );
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
  }

  const out: string[] = [trajectoryTable(result.trajectory, result.round), '', result.summary];
  out.push(
    `test accuracy: ${pct(result.baseline.testAccuracy)} -> ${pct(result.metrics.testAccuracy)} ` +
      `(round ${result.round}; * in the table)`,
  );
  if (o.out) {
    engine.saveModel(o.out, result.model);
    out.push(`model written to ${o.out}`);
  }
  if (o.onnx) {
    const { options: recordedOptions, ...provenance } = result.provenance;
    writeAtomically(
      o.onnx,
      engine.exportOnnx(result.model, {
        metadata: {
          parent: o.model,
          method: 'aap',
          options: recordedOptions,
          provenance: {
            ...provenance,
            round: result.round,
            metrics: result.metrics,
            baseline: result.baseline,
          },
        },
      }),
    );
    out.push(`ONNX written to ${o.onnx}`);
  }
  if (o.report) out.push(writeResultReport(o.report, result, 'trajectory and provenance'));
  // Written before the baselines run: they fine-tune as long as the delivered model's lineage
  // did, and an interrupted baseline must not cost the search's result.
  process.stdout.write(out.join('\n') + '\n');
  if (o.baselines) await runBaselines(o, result, fineTune, compress, model, dataset);
}

type OnStep = NonNullable<BudgetPruningOptions['onStep']>;

/**
 * L1-norm and one-shot attention pruning at the delivered model's parameter count, each
 * fine-tuned as long as the delivered model's lineage was; printed, and added to the report.
 */
async function runBaselines(
  o: AapCliOptions,
  result: AapResult,
  fineTune: FineTuneBudget,
  compress: typeof import('@edgecompress/compress'),
  model: Model,
  dataset: Dataset,
): Promise<void> {
  // Same training budget as the delivered model received: the fine-tuning of every round on
  // its lineage (the rounds it was pruned and fine-tuned through, from the unpruned model).
  const byRound = new Map(result.trajectory.map((r) => [r.round, r]));
  let trained = 0;
  for (let r = byRound.get(result.round); r && r.round > 0; r = byRound.get(r.startFrom)) trained++;
  const { epochs: _e, steps: _s, ...rest } = fineTune;
  const budget: FineTuneBudget =
    o.steps !== undefined
      ? { ...rest, steps: o.steps * Math.max(1, trained) }
      : { ...rest, epochs: (fineTune.epochs ?? 1) * Math.max(1, trained) };
  const searched = result.trajectory.length - 1;
  process.stderr.write(
    `baselines at ${short(result.metrics.params)} params, fine-tuned for ` +
      `${budget.steps !== undefined ? `${budget.steps} steps` : `${budget.epochs} epochs`} ` +
      `(the delivered model's ${trained} fine-tuning round(s); the search ran ${searched})\n`,
  );
  const common = {
    targetParams: result.metrics.params,
    fineTune: budget,
    pruneStem: o.pruneStem,
    pruneClassifier: o.pruneClassifier,
    minChannels: o.minChannels,
    channelMultiple: o.channelMultiple,
    ...(o.validation !== undefined ? { validationCount: o.validation } : {}),
  };
  const withProgress = async <T>(name: string, run: (onStep: OnStep) => Promise<T>) => {
    const bar = createProgress(name, 1, ['fine-tune']);
    try {
      return await run((p) => {
        bar.setTotal(p.totalSteps);
        bar.update(p.step + 1, { 'fine-tune': `loss ${p.loss.toFixed(3)}` });
      });
    } finally {
      bar.stop();
    }
  };
  const l1 = await withProgress('l1-norm', (onStep) =>
    compress.l1NormPruning(model, dataset, { ...common, onStep }),
  );
  const oneShot = await withProgress('one-shot', (onStep) =>
    compress.oneShotAttentionPruning(model, dataset, { ...common, onStep }),
  );
  const lines = [
    '',
    table(
      ['method', 'params', 'FLOPs', 'test acc', 'vs unpruned'],
      [
        [
          'unpruned',
          short(result.baseline.params),
          short(result.baseline.flops),
          pct(result.baseline.testAccuracy),
          '-',
        ],
        [
          'AAP',
          short(result.metrics.params),
          short(result.metrics.flops),
          pct(result.metrics.testAccuracy),
          `${(100 * ((result.metrics.testAccuracy ?? 0) - (result.baseline.testAccuracy ?? 0))).toFixed(2)} pt`,
        ],
        ...[l1, oneShot].map((b) => [
          b.method,
          short(b.params),
          short(b.flops),
          pct(b.testAccuracy),
          `${(100 * (b.testAccuracy - (result.baseline.testAccuracy ?? 0))).toFixed(2)} pt`,
        ]),
      ],
    ),
  ];
  if (o.report) {
    const baselines = [l1, oneShot].map(({ model: _model, ...figures }) => ({
      ...figures,
      fineTune: budget,
    }));
    const withBaselines: AapResult & { baselines: typeof baselines } = { ...result, baselines };
    lines.push(writeResultReport(o.report, withBaselines, 'report with the baselines'));
  }
  process.stdout.write(lines.join('\n') + '\n');
}

export function register(compress: Command): void {
  const command = compress
    .command('aap')
    .description(
      'Automatic Attention Pruning: prune channels round by round until the objective says stop',
    )
    .requiredOption('-m, --model <file>', 'model file (edgec train -o) or ONNX file');
  withDatasetOptions(command)
    .option(
      '--objective <spec>',
      'accuracy | params=<fraction> | flops=<fraction> | size=<fraction> | latency=<ms>ms@<device|local>',
      'accuracy',
    )
    .option(
      '--max-drop <points>',
      'allowed top-1 accuracy drop in percentage points',
      num('--max-drop'),
      0.3,
    )
    .option(
      '--latency-source <source>',
      'predicted (device profiles), local, or measured (control plane only)',
    )
    .option('--profiles <dir>', 'device-profiles directory for predicted latencies')
    .option(
      '--latency-batch <n>',
      '@local: images per timed ORT run (default 1)',
      int('--latency-batch'),
    )
    .option(
      '--latency-runs <n>',
      '@local: timed runs per measurement, p50 taken (default 30)',
      int('--latency-runs'),
    )
    .option(
      '--no-latency-normalize',
      '@local: report raw p50s instead of alternating with the unpruned model and scaling to its typical load',
    )
    .option('--rounds <n>', 'pruning rounds at most', int('--rounds'), 100)
    .option('--time-budget <minutes>', 'wall-clock budget for the search', num('--time-budget'))
    .option('--epochs <n>', 'fine-tuning epochs per round (default 1)', int('--epochs'))
    .option('--steps <n>', 'fine-tuning steps per round (instead of epochs)', int('--steps'))
    .option('-b, --batch-size <n>', 'fine-tuning batch size', int('--batch-size'), 128)
    .option(
      '-w, --workers <n>',
      'data-parallel fine-tuning threads (1 = this thread only)',
      int('--workers'),
      1,
    )
    .option(
      '--lr <rate>',
      'fine-tuning learning rate (cosine, restarted each round)',
      num('--lr'),
      0.01,
    )
    .option('--weight-decay <wd>', 'fine-tuning weight decay', num('--weight-decay'), 5e-4)
    .option(
      '--lambda <step>',
      'first threshold step (default: the median group score)',
      num('--lambda'),
    )
    .option('--power <p>', 'attention power p', num('--power'), 1)
    .option('--weighting <kind>', 'threshold weighting: params, flops or latency')
    .option('--min-channels <n>', 'channels every group keeps', int('--min-channels'), 1)
    .option(
      '--channel-multiple <n>',
      'every group keeps a multiple of n channels or all it has (8: blocks CPU kernels vectorise over)',
      int('--channel-multiple'),
      1,
    )
    .option(
      '--max-group-cut <fraction>',
      'largest share of a layer group one round may remove (1: no cap)',
      num('--max-group-cut'),
      1,
    )
    .option('--no-prune-stem', 'never prune the stem conv')
    .option('--prune-classifier', 'also prune hidden dense layers of the classifier head', false)
    .option(
      '--calibration-batches <n>',
      'training batches the attention is averaged over',
      int('--calibration-batches'),
      8,
    )
    .option(
      '--validation <n>',
      'training examples held out to judge rounds (default min(5000, 10%))',
      int('--validation'),
    )
    .option('--seed <n>', 'seed of the fine-tuning order', int('--seed'), 0)
    .option('-o, --out <file>', 'write the pruned model file')
    .option('--onnx <file>', 'export the pruned model to ONNX')
    .option('--report <file>', 'write the trajectory and provenance as JSON')
    .option(
      '--baselines',
      'also run L1-norm and one-shot attention pruning at the same budgets',
      false,
    )
    .action(async (o: AapCliOptions) => runCommand(o));
}
