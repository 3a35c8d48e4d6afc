/** `edgec eval`: accuracy and loss of a model file on a dataset's test split. */
import type { Command } from 'commander';

interface EvalCliOptions {
  model: string;
  dataset: string;
  dataDir?: string;
  limit?: number;
  batchSize: number;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description("measure a model file's accuracy on a dataset's test split")
    .requiredOption('-m, --model <file>', 'model file')
    .option(
      '-d, --dataset <name>',
      'mnist, fashion-mnist, idx (with --data-dir) or synthetic',
      'mnist',
    )
    .option('--data-dir <dir>', 'directory of the IDX files (fashion-mnist, idx)')
    .option('--limit <n>', 'evaluate only the first n test examples', (v: string) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`--limit must be a positive integer, got "${v}"`);
      return n;
    })
    .option('-b, --batch-size <n>', 'batch size', (v: string) => Number(v), 256)
    .action(async (o: EvalCliOptions) => {
      const engine = await import('@edgecompress/engine');
      await engine.initEngineBackend();
      const model = engine.loadModel(o.model);
      const dataset = engine.loadDataset(o.dataset, {
        ...(o.dataDir ? { dir: o.dataDir } : {}),
        ...(o.limit ? { limit: { test: o.limit, train: 1 } } : {}),
      });
      const shape = model.graph.inputShape.join('x');
      if (shape !== dataset.inputShape.join('x') || model.graph.numClasses !== dataset.numClasses) {
        throw new Error(
          `model ${o.model} takes ${shape} inputs and ${model.graph.numClasses} classes; ` +
            `${dataset.name} has ${dataset.inputShape.join('x')} and ${dataset.numClasses}`,
        );
      }
      const started = performance.now();
      const r = engine.evaluate(model, dataset.test, { batchSize: o.batchSize });
      const seconds = (performance.now() - started) / 1000;
      process.stdout.write(
        `test accuracy ${(100 * r.accuracy).toFixed(2)}% (${r.correct}/${r.count}), loss ${r.loss.toFixed(4)} ` +
          `on ${dataset.name} in ${seconds.toFixed(1)} s\n`,
      );
    });
}
