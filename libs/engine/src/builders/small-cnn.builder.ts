import type { Model, StageInfo } from '../graph';
import { GraphBuilder } from './graph-builder';

export interface SmallCnnOptions {
  inputShape: [number, number, number];
  numClasses: number;
  seed?: number;
  /** Skip random init (kernels zero): for counting and pricing candidates without paying for init. */
  shapeOnly?: boolean;
  /** Channels of the three conv stages; default 16/32/64. */
  widths?: [number, number, number];
  name?: string;
}

/**
 * A small CNN for quick experiments and tests: three stages of 3x3 conv + BN + ReLU at
 * 16/32/64 channels, 2x2 max pooling after the first two (skipped when the map is already
 * 1 pixel), global average pooling and a dense classifier. About 24 k parameters.
 */
export function buildSmallCnn(opts: SmallCnnOptions): Model {
  const widths = opts.widths ?? [16, 32, 64];
  const b = new GraphBuilder(
    opts.inputShape,
    opts.seed ?? 0,
    {
      conv: 'kaiming-normal-fan-in',
      convBias: 'zeros',
      dense: 'pytorch-default',
    },
    opts.shapeOnly,
  );
  let x = b.input();
  const stages: StageInfo[] = [];
  for (let stage = 0; stage < 3; stage++) {
    const tags = { role: stage === 0 ? ('stem' as const) : ('body' as const), stage, block: 0 };
    x = b.convBnAct(`s${stage}`, x, { filters: widths[stage], kernel: 3 }, 'relu', tags);
    stages.push({ name: `stage${stage}`, output: x });
    const [h, w] = b.shapeOf(x);
    if (stage < 2 && h >= 2 && w >= 2) x = b.maxPool(`s${stage}.pool`, x, 2, 2, tags);
  }
  const features = b.globalAvgPool('pool', x, { role: 'classifier' });
  const logits = b.dense('fc', features, opts.numClasses, { role: 'classifier' });
  return b.build({
    name: opts.name ?? 'small-cnn',
    architecture: 'small-cnn',
    numClasses: opts.numClasses,
    output: logits,
    features,
    stages,
  });
}
