/**
 * `edgec compress ckdf`: Contrastive Knowledge Distillation Framework. A student (an architecture
 * name built fresh, or a model file) learns from a frozen teacher through CE, optional KD and
 * contrastive terms on the stem, every stage and the penultimate features.
 *
 *   edgec compress ckdf --teacher t.ecm --student resnet8 -d mnist --nce-k 4096 -o s.ecm
 *   edgec compress ckdf --teacher t.ecm --student resnet8 --alpha 1            (CKDF+KD)
 *   edgec compress ckdf --teacher t.ecm --student resnet8 --beta 0 --theta 0   (student alone)
 */
import type { Command } from 'commander';
import type { BankInit, BlockMatch, CkdfResult } from '@edgecompress/compress';
import { createProgress, showEpochStep } from '../../ui/progress';
import { int, num, withDatasetOptions, type DatasetFlags } from './method-inputs';
import { loadDistillationInputs, pct, writeStudentOutputs } from './student-input';

interface CkdfCliOptions extends DatasetFlags {
  teacher: string;
  student: string;
  epochs: number;
  stepsPerEpoch?: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  gamma: number;
  alpha: number;
  beta: number;
  theta: number;
  temperature: number;
  nceT: number;
  nceK: number;
  match: string;
  bankInit: string;
  memoryLimitMb: number;
  evalLimit?: number;
  seed: number;
  out?: string;
  report?: string;
}

const MATCHES: readonly BlockMatch[] = ['last', 'most-similar', 'least-similar'];

async function runCommand(o: CkdfCliOptions): Promise<void> {
  if (!MATCHES.includes(o.match as BlockMatch))
    throw new Error(`unknown --match "${o.match}" (one of ${MATCHES.join(', ')})`);
  const { BANK_INITS } = await import('@edgecompress/compress');
  if (!(BANK_INITS as readonly string[]).includes(o.bankInit))
    throw new Error(`unknown --bank-init "${o.bankInit}" (one of ${BANK_INITS.join(', ')})`);
  const compress = await import('@edgecompress/compress');
  const { teacher, student, dataset, backendName } = await loadDistillationInputs(o);
  const batchSize = Math.min(o.batchSize, dataset.train.count);
  const perEpoch = Math.min(
    Math.floor(dataset.train.count / batchSize),
    o.stepsPerEpoch ?? Number.POSITIVE_INFINITY,
  );
  process.stderr.write(
    `CKDF ${teacher.graph.architecture} -> ${student.graph.architecture} on ${dataset.name} ` +
      `(${dataset.train.count} train / ${dataset.test.count} test), gamma ${o.gamma} alpha ${o.alpha} ` +
      `beta ${o.beta} theta ${o.theta}, ${o.epochs} epoch(s) x ${perEpoch} steps; backend ${backendName}\n`,
  );
  // The bank warm-up pass gets its own bar, started on its first batch and stopped on its last.
  let warmUp = null as ReturnType<typeof createProgress> | null;
  let progress = null as ReturnType<typeof createProgress> | null;
  const fields = { epoch: '-', loss: '-', acc: '-' };
  let result: CkdfResult;
  try {
    result = compress.runCkdf(dataset, {
      teacher,
      student,
      epochs: o.epochs,
      ...(o.stepsPerEpoch !== undefined ? { stepsPerEpoch: o.stepsPerEpoch } : {}),
      batchSize,
      lr: o.lr,
      weightDecay: o.weightDecay,
      gamma: o.gamma,
      alpha: o.alpha,
      beta: o.beta,
      theta: o.theta,
      temperature: o.temperature,
      nceTemperature: o.nceT,
      nceK: o.nceK,
      match: o.match as BlockMatch,
      bankInit: o.bankInit as BankInit,
      memoryLimitBytes: o.memoryLimitMb * 2 ** 20,
      seed: o.seed,
      ...(o.evalLimit !== undefined ? { evalLimit: o.evalLimit } : {}),
      onProgress: (p) => {
        if (p.phase === 'warm-up') {
          warmUp ??= createProgress('banks', p.stepsPerEpoch);
          warmUp.update(p.step + 1);
          if (p.step + 1 === p.stepsPerEpoch) warmUp.stop();
          return;
        }
        progress ??= createProgress('ckdf', o.epochs * perEpoch, ['epoch', 'loss', 'acc']);
        showEpochStep(progress, fields, p);
      },
    });
  } finally {
    progress?.stop();
  }
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
  const summary = [
    `teacher test accuracy ${pct(result.teacherAccuracy)}; student best ${pct(result.bestAccuracy)}`,
    `memory banks ${mib(result.memory.bankBytes)}, per-step negatives ${mib(result.memory.stepBytes)}`,
  ];
  await writeStudentOutputs(o, result, summary, 'history and provenance');
}

export function register(compress: Command): void {
  const command = compress
    .command('ckdf')
    .description(
      'distil a teacher into a student with contrastive terms on stem, stages and features',
    )
    .requiredOption('-t, --teacher <file>', 'the trained teacher (model file or ONNX)')
    .requiredOption(
      '-s, --student <arch|file>',
      'student architecture (e.g. resnet8) or model file',
    );
  withDatasetOptions(command)
    .option('--epochs <n>', 'training epochs', int('--epochs'), 10)
    .option(
      '--steps-per-epoch <n>',
      'cap on steps per epoch (short runs)',
      int('--steps-per-epoch'),
    )
    .option('-b, --batch-size <n>', 'batch size', int('--batch-size'), 64)
    .option(
      '--lr <rate>',
      'SGD learning rate (x0.1 at 62.5/75/87.5 % of training)',
      num('--lr'),
      0.05,
    )
    .option('--weight-decay <wd>', 'weight decay', num('--weight-decay'), 5e-4)
    .option('--gamma <w>', 'weight of cross-entropy on labels', num('--gamma'), 1)
    .option('--alpha <w>', 'weight of T^2 KL (1 = CKDF+KD)', num('--alpha'), 0)
    .option('--beta <w>', 'weight of CRD on the penultimate features', num('--beta'), 0.8)
    .option('--theta <w>', 'weight of CRD summed over stem and stage pairs', num('--theta'), 0.1)
    .option('--temperature <T>', 'KD temperature', num('--temperature'), 4)
    .option('--nce-t <tau>', 'contrastive temperature', num('--nce-t'), 0.1)
    .option(
      '--nce-k <k>',
      'negatives per anchor (capped at the training-set size)',
      int('--nce-k'),
      16384,
    )
    .option('--match <how>', 'teacher block per stage: last, most-similar, least-similar', 'last')
    .option(
      '--bank-init <how>',
      'memory-bank rows at the start: random (as CRD) or embed (one pass of the initial heads)',
      'random',
    )
    .option(
      '--memory-limit-mb <mb>',
      'refuse banks + negatives above this',
      int('--memory-limit-mb'),
      1024,
    )
    .option(
      '--eval-limit <n>',
      'evaluate on the first n test examples each epoch',
      int('--eval-limit'),
    )
    .option('--seed <n>', 'seed of the student init and training order', int('--seed'), 0)
    .option('-o, --out <file>', 'write the student model file')
    .option('--report <file>', 'write the history, memory and provenance as JSON')
    .action(async (o: CkdfCliOptions) => runCommand(o));
}
