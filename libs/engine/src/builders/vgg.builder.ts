import type { Model, StageInfo } from '../graph';
import { GraphBuilder } from './graph-builder';

/** Conv widths per stage (five stages; a max pool after each of the first four). */
export const VGG_CONFIGS = {
  8: [[64], [128], [256], [512], [512]],
  11: [[64], [128], [256, 256], [512, 512], [512, 512]],
  13: [
    [64, 64],
    [128, 128],
    [256, 256],
    [512, 512],
    [512, 512],
  ],
  16: [
    [64, 64],
    [128, 128],
    [256, 256, 256],
    [512, 512, 512],
    [512, 512, 512],
  ],
} as const satisfies Record<number, readonly (readonly number[])[]>;

export type VggDepth = keyof typeof VGG_CONFIGS;

export interface VggOptions {
  depth: VggDepth;
  inputShape: [number, number, number];
  numClasses: number;
  seed?: number;
  /** Skip random init (kernels zero): for counting and pricing candidates without paying for init. */
  shapeOnly?: boolean;
  /** Multiplies every conv width (rounded, at least 1); default 1. */
  widthMultiplier?: number;
  /** Conv bias before BN, as the CIFAR VGGs of the contrastive-distillation literature have; default true. */
  convBias?: boolean;
  name?: string;
}

/**
 * CIFAR-style VGG with batch norm, as used by the CRD/CKDF line of work: five stages of 3x3
 * conv + BN + ReLU ('vgg8' has one conv per stage), 2x2 max pooling after the first four
 * stages (skipped once the map is 1 pixel, so any input size works), global average pooling and
 * one dense classifier. Init: He normal (fan out) for convs with zero bias, N(0, 0.01) for the
 * classifier with zero bias.
 */
export function buildVgg(opts: VggOptions): Model {
  const config = VGG_CONFIGS[opts.depth];
  if (!config) {
    throw new Error(
      `VGG depth must be one of ${Object.keys(VGG_CONFIGS).join(', ')}, got ${opts.depth}`,
    );
  }
  const multiplier = opts.widthMultiplier ?? 1;
  const b = new GraphBuilder(
    opts.inputShape,
    opts.seed ?? 0,
    {
      conv: 'kaiming-normal-fan-out',
      convBias: 'zeros',
      dense: 'normal-0.01',
    },
    opts.shapeOnly,
  );
  let x = b.input();
  const stages: StageInfo[] = [];
  config.forEach((widths, stage) => {
    widths.forEach((width, block) => {
      const tags = {
        role: stage === 0 && block === 0 ? ('stem' as const) : ('body' as const),
        stage,
        block,
      };
      const filters = Math.max(1, Math.round(width * multiplier));
      x = b.convBnAct(
        `s${stage}.b${block}`,
        x,
        { filters, kernel: 3, bias: opts.convBias ?? true },
        'relu',
        tags,
      );
    });
    stages.push({ name: `stage${stage}`, output: x });
    const [h, w] = b.shapeOf(x);
    if (stage < config.length - 1 && h >= 2 && w >= 2) {
      x = b.maxPool(`s${stage}.pool`, x, 2, 2, { role: 'body', stage, block: widths.length - 1 });
    }
  });
  const features = b.globalAvgPool('pool', x, { role: 'classifier' });
  const logits = b.dense('fc', features, opts.numClasses, { role: 'classifier' });
  return b.build({
    name: opts.name ?? `vgg${opts.depth}`,
    architecture: `vgg${opts.depth}`,
    numClasses: opts.numClasses,
    output: logits,
    features,
    stages,
  });
}
