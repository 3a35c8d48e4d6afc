/**
 * `edgec compress lcmr`: Log-Curriculum Module Replacing. Each teacher stage is swapped for the
 * matching stage of a smaller student with a rising probability p(t); afterwards the student's
 * stages alone are fine-tuned briefly.
 *
 *   edgec compress lcmr --teacher t.ecm --student resnet8 -d mnist --replace-steps 2000 -o s.ecm
 *   edgec compress lcmr --teacher t.ecm --student resnet8 --curriculum linear   (Theseus)
 */
import type { Command } from 'commander';
import type { CurriculumKind, LcmrResult } from '@edgecompress/compress';
import { createProgress } from '../../ui/progress';
import { int, num, withDatasetOptions, type DatasetFlags } from './method-inputs';
import { loadDistillationInputs, pct, writeStudentOutputs } from './student-input';

interface LcmrCliOptions extends DatasetFlags {
  teacher: string;
  student: string;
  curriculum: string;
  p0: number;
  kappa: number;
  replaceSteps: number;
  finetuneSteps?: number;
  kd: number;
  temperature: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  evalLimit?: number;
  seed: number;
  out?: string;
  report?: string;
}

const CURRICULA: readonly CurriculumKind[] = ['log', 'linear', 'constant'];

async function runCommand(o: LcmrCliOptions): Promise<void> {
  if (!CURRICULA.includes(o.curriculum as CurriculumKind))
    throw new Error(`unknown --curriculum "${o.curriculum}" (one of ${CURRICULA.join(', ')})`);
  const compress = await import('@edgecompress/compress');
  const { teacher, student, dataset, backendName } = await loadDistillationInputs(o);
  const finetune = o.finetuneSteps ?? Math.ceil(o.replaceSteps / 10);
  process.stderr.write(
    `LCMR ${teacher.graph.architecture} -> ${student.graph.architecture} on ${dataset.name}, ` +
      `${o.curriculum} curriculum (p0 ${o.p0}, kappa ${o.kappa}), ${o.replaceSteps} replacing + ` +
      `${finetune} fine-tuning steps; backend ${backendName}\n`,
  );
  const progress = createProgress('lcmr', o.replaceSteps + finetune, ['phase', 'p', 'loss']);
  let result: LcmrResult;
  try {
    result = compress.runLcmr(dataset, {
      teacher,
      student,
      curriculum: o.curriculum as CurriculumKind,
      p0: o.p0,
      kappa: o.kappa,
      replaceSteps: o.replaceSteps,
      finetuneSteps: finetune,
      kdWeight: o.kd,
      temperature: o.temperature,
      batchSize: o.batchSize,
      lr: o.lr,
      weightDecay: o.weightDecay,
      seed: o.seed,
      ...(o.evalLimit !== undefined ? { evalLimit: o.evalLimit } : {}),
      onProgress: (p) =>
        progress.update(p.step + 1, {
          phase: p.phase,
          p: p.rate.toFixed(3),
          loss: p.loss.toFixed(4),
        }),
    });
  } finally {
    progress.stop();
  }
  const summary = [
    `teacher test accuracy ${pct(result.teacherAccuracy)}; student ${pct(result.accuracy)}`,
  ];
  await writeStudentOutputs(o, result, summary, 'trace and provenance');
}

export function register(compress: Command): void {
  const command = compress
    .command('lcmr')
    .description('replace teacher stages by smaller student stages on a curriculum, then fine-tune')
    .requiredOption('-t, --teacher <file>', 'the trained teacher (model file or ONNX)')
    .requiredOption(
      '-s, --student <arch|file>',
      'student with the same stage shapes (e.g. resnet8 for resnet20) or model file',
    );
  withDatasetOptions(command)
    .option('--curriculum <kind>', 'log, linear or constant', 'log')
    .option('--p0 <p>', 'replacement rate at step 0', num('--p0'), 0.3)
    .option('--kappa <k>', 'curvature of the log curriculum', num('--kappa'), 10)
    .option('--replace-steps <n>', 'replacing horizon Tr in steps', int('--replace-steps'), 1000)
    .option(
      '--finetune-steps <n>',
      'fine-tuning steps of the student alone (default Tr/10)',
      int('--finetune-steps'),
    )
    .option('--kd <w>', 'weight of T^2 KL against the full teacher (0: CE only)', num('--kd'), 0)
    .option('--temperature <T>', 'KD temperature', num('--temperature'), 4)
    .option('-b, --batch-size <n>', 'batch size', int('--batch-size'), 64)
    .option('--lr <rate>', 'SGD learning rate (cosine to 0)', num('--lr'), 0.05)
    .option('--weight-decay <wd>', 'weight decay', num('--weight-decay'), 5e-4)
    .option('--eval-limit <n>', 'evaluate on the first n test examples', int('--eval-limit'))
    .option('--seed <n>', 'seed of the student init and the replacement draws', int('--seed'), 0)
    .option('-o, --out <file>', 'write the student model file')
    .option('--report <file>', 'write the trace and provenance as JSON')
    .action(async (o: LcmrCliOptions) => runCommand(o));
}
