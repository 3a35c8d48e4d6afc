/**
 * Latency of channel counts, isolated from training: cuts an unpruned model to the channel
 * counts of a pruned one, and to the same counts rounded up to multiples of 4 and 8, keeping
 * each group's first channels (the weights are the unpruned model's, so only the structure
 * differs), and exports the three as ONNX for `npm run bench -- ort-files`.
 *
 *   node -r @swc-node/register scripts/channel-rounding.ts <unpruned.ecm> <pruned.ecm> <out-dir>
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { exportOnnx, loadModel, type Model } from '@edgecompress/engine';
import { analyzeDependencies, modelCost, removeChannels } from '@edgecompress/compress';

const [unprunedPath, prunedPath, outDir] = process.argv.slice(2);
if (!unprunedPath || !prunedPath || !outDir) {
  console.error('usage: channel-rounding.ts <unpruned.ecm> <pruned.ecm> <out-dir>');
  process.exit(2);
}

const convFilters = (m: Model): Map<string, number> =>
  new Map(m.graph.nodes.flatMap((n) => (n.op === 'conv2d' ? [[n.id, n.attrs.filters]] : [])));

const unpruned = loadModel(unprunedPath);
const target = convFilters(loadModel(prunedPath));
const analysis = analyzeDependencies(unpruned.graph);
mkdirSync(outDir, { recursive: true });
const stem = basename(unprunedPath).replace(/\.ecm$/, '');
for (const multiple of [1, 4, 8]) {
  const removed = new Set<number>();
  const kept: number[] = [];
  for (const g of analysis.groups) {
    if (!g.prunable) continue;
    // A group's producers all keep the same count; any one of them tells the pruned count.
    const wanted = target.get(g.producers[0]!) ?? g.channels.length;
    const keep = Math.min(g.channels.length, Math.ceil(wanted / multiple) * multiple);
    kept.push(keep);
    for (const c of g.channels.slice(keep)) removed.add(c.id);
  }
  const model = removeChannels(unpruned, analysis, removed).model;
  const file = join(outDir, `${stem}-channels-x${multiple}.onnx`);
  writeFileSync(file, exportOnnx(model));
  console.log(`${file}: groups keep ${kept.join(', ')}; ${modelCost(model).params} params`);
}
