/** `edgec import`: an ONNX file (PyTorch, TF/Keras converters, our exports) -> a model file. */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

export function register(program: Command): void {
  program
    .command('import')
    .description(
      'import an ONNX model into a model file that trains and compresses like a built-in one',
    )
    .argument('<file.onnx>', 'ONNX file')
    .requiredOption('-o, --out <file>', 'model file to write')
    .action(async (file: string, o: { out: string }) => {
      const engine = await import('@edgecompress/engine');
      const { model, notes } = engine.importOnnx(new Uint8Array(readFileSync(file)));
      engine.saveModel(o.out, model);
      const params = [...model.weights.values()].reduce((n, w) => n + w.data.length, 0);
      const ops = new Map<string, number>();
      for (const n of model.graph.nodes) ops.set(n.op, (ops.get(n.op) ?? 0) + 1);
      process.stdout.write(
        `wrote ${o.out}: input ${model.graph.inputShape.join('x')}, ${model.graph.numClasses} classes, ` +
          `${model.graph.nodes.length} nodes (${[...ops].map(([op, k]) => `${k} ${op}`).join(', ')}), ${params} weights` +
          `${model.graph.stages ? `, ${model.graph.stages.length} stages` : ''}\n`,
      );
      for (const note of notes) process.stdout.write(`note: ${note}\n`);
    });
}
