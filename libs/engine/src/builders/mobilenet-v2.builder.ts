import type { Model, StageInfo } from '../graph';
import { GraphBuilder } from './graph-builder';

export interface MobileNetV2Options {
  inputShape: [number, number, number];
  numClasses: number;
  /** Width multiplier α; default 1. Channels are rounded to multiples of 8 as in the paper's code. */
  widthMultiplier?: number;
  seed?: number;
  /** Skip random init (kernels zero): for counting and pricing candidates without paying for init. */
  shapeOnly?: boolean;
  /**
   * Small-input variant: the stem and the first stride-2 group use stride 1, so a 32x32 image
   * ends at 4x4 instead of 1x1 (the common CIFAR adaptation). Default: on when the input is
   * smaller than 96 pixels on either side.
   */
  smallInput?: boolean;
  name?: string;
}

/** Expansion t, output channels c, repeats n, first stride s (Sandler et al. 2018, table 2). */
const SETTINGS: ReadonlyArray<[t: number, c: number, n: number, s: number]> = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** Nearest multiple of `divisor`, never below it and never more than 10 % under `value`. */
export function makeDivisible(value: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor((value + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}

/**
 * MobileNetV2: a stride-2 3x3 stem, seven groups of inverted residual blocks (1x1 expansion +
 * ReLU6, 3x3 depthwise + ReLU6, linear 1x1 projection; identity shortcut when stride is 1 and
 * the channels match), a 1x1 conv to 1280 (x α when α > 1) channels, global average pooling and a
 * dense classifier. Matches torchvision's layout and init (He normal fan out for convs,
 * N(0, 0.01) classifier), so 224x224x3 with 1000 classes has 3,504,872 parameters. Dropout is
 * left to the training loop. Each of the seven groups is a stage; the last 1x1 conv closes the
 * last stage.
 */
export function buildMobileNetV2(opts: MobileNetV2Options): Model {
  const alpha = opts.widthMultiplier ?? 1;
  if (!(alpha > 0)) throw new Error(`MobileNetV2 width multiplier must be > 0, got ${alpha}`);
  const [h, w] = opts.inputShape;
  const small = opts.smallInput ?? Math.min(h, w) < 96;
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
  let channels = makeDivisible(32 * alpha);
  x = b.convBnAct('stem', x, { filters: channels, kernel: 3, stride: small ? 1 : 2 }, 'relu6', {
    role: 'stem',
  });
  const stages: StageInfo[] = [];
  SETTINGS.forEach(([t, c, n, s], stage) => {
    const out = makeDivisible(c * alpha);
    const firstStride = small && stage === 1 ? 1 : s;
    for (let block = 0; block < n; block++) {
      const tags = { role: 'body' as const, stage, block };
      const p = `s${stage}.b${block}`;
      const stride = block === 0 ? firstStride : 1;
      const hidden = Math.round(channels * t);
      let y = x;
      if (t !== 1) y = b.convBnAct(`${p}.expand`, y, { filters: hidden, kernel: 1 }, 'relu6', tags);
      y = b.depthwise(`${p}.dw.conv`, y, 3, stride, tags);
      y = b.relu6(`${p}.dw.relu6`, b.batchNorm(`${p}.dw.bn`, y, tags), tags);
      y = b.convBnAct(`${p}.project`, y, { filters: out, kernel: 1 }, 'none', tags);
      x = stride === 1 && channels === out ? b.addNode(`${p}.add`, [x, y], tags) : y;
      channels = out;
    }
    if (stage === SETTINGS.length - 1) {
      const last = makeDivisible(1280 * Math.max(1, alpha));
      x = b.convBnAct('head', x, { filters: last, kernel: 1 }, 'relu6', {
        role: 'body',
        stage,
        block: n,
      });
    }
    stages.push({ name: `stage${stage}`, output: x });
  });
  const features = b.globalAvgPool('pool', x, { role: 'classifier' });
  const logits = b.dense('fc', features, opts.numClasses, { role: 'classifier' });
  return b.build({
    name: opts.name ?? (alpha === 1 ? 'mobilenetv2' : `mobilenetv2-${alpha}`),
    architecture: 'mobilenetv2',
    numClasses: opts.numClasses,
    output: logits,
    features,
    stages,
  });
}
