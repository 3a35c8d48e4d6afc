import type { Model, StageInfo } from '../graph';
import { GraphBuilder } from './graph-builder';

export interface ResNetOptions {
  /** 6n + 2: 8, 20, 32, 56, 110 are the published CIFAR depths. */
  depth: number;
  inputShape: [number, number, number];
  numClasses: number;
  seed?: number;
  /** Skip random init (kernels zero): for counting and pricing candidates without paying for init. */
  shapeOnly?: boolean;
  /** Channels of the three stages; default 16/32/64 as in He et al. 2016, section 4.2. */
  widths?: [number, number, number];
  name?: string;
}

/**
 * CIFAR-style ResNet (He et al. 2016, section 4.2): a 3x3 stem, three stages of n basic blocks
 * at 16/32/64 channels, stride 2 at the first block of stages 1 and 2, global average pooling and
 * a dense classifier.
 *
 * Shortcuts where the shape changes are option B (1x1 conv stride 2 + BN), not the paper's
 * parameter-free option A (strided identity + zero padding): option B is a plain conv that
 * pruning, quantization and ONNX export handle like any other, at a cost of 2,752 parameters
 * (+1 %) and 0.26 M MACs for ResNet-20. Init follows the common PyTorch reference for these
 * models: He normal (fan in) for convs and the classifier kernel.
 */
export function buildResNet(opts: ResNetOptions): Model {
  const { depth, numClasses } = opts;
  if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
    throw new Error(`ResNet depth must be 6n + 2 with n >= 1 (8, 20, 32, 56, 110), got ${depth}`);
  }
  const blocksPerStage = (depth - 2) / 6;
  const widths = opts.widths ?? [16, 32, 64];
  const b = new GraphBuilder(
    opts.inputShape,
    opts.seed ?? 0,
    {
      conv: 'kaiming-normal-fan-in',
      convBias: 'zeros',
      dense: 'kaiming-normal-fan-in',
    },
    opts.shapeOnly,
  );

  let x = b.input();
  x = b.convBnAct('stem', x, { filters: widths[0], kernel: 3 }, 'relu', { role: 'stem' });
  const stages: StageInfo[] = [];
  for (let stage = 0; stage < 3; stage++) {
    for (let block = 0; block < blocksPerStage; block++) {
      const tags = { role: 'body' as const, stage, block };
      const p = `s${stage}.b${block}`;
      const stride = stage > 0 && block === 0 ? 2 : 1;
      const filters = widths[stage];
      const branch1 = b.convBnAct(`${p}.1`, x, { filters, kernel: 3, stride }, 'relu', tags);
      const branch = b.convBnAct(`${p}.2`, branch1, { filters, kernel: 3 }, 'none', tags);
      const inChannels = b.shapeOf(x)[2];
      const shortcut =
        stride !== 1 || inChannels !== filters
          ? b.convBnAct(
              `${p}.shortcut`,
              x,
              { filters, kernel: 1, stride, pads: [0, 0, 0, 0] },
              'none',
              tags,
            )
          : x;
      const sum = b.addNode(`${p}.add`, [branch, shortcut], tags);
      x = b.relu(`${p}.relu`, sum, tags);
    }
    stages.push({ name: `stage${stage}`, output: x });
  }
  const features = b.globalAvgPool('pool', x, { role: 'classifier' });
  const logits = b.dense('fc', features, numClasses, { role: 'classifier' });
  return b.build({
    name: opts.name ?? `resnet${depth}`,
    architecture: `resnet${depth}`,
    numClasses,
    output: logits,
    features,
    stages,
  });
}
