import type { Model } from '../graph';
import { buildMobileNetV2 } from './mobilenet-v2.builder';
import { buildResNet } from './resnet.builder';
import { buildSmallCnn } from './small-cnn.builder';
import { buildVgg, VGG_CONFIGS, type VggDepth } from './vgg.builder';

export interface BuildOptions {
  inputShape: [number, number, number];
  numClasses: number;
  seed?: number;
  /** Skip random init (kernels zero): for counting and pricing candidates without paying for init. */
  shapeOnly?: boolean;
  /** MobileNetV2 and VGG only. */
  widthMultiplier?: number;
}

export const ARCHITECTURES = [
  'small-cnn',
  'resnet8',
  'resnet20',
  'resnet32',
  'resnet56',
  'resnet110',
  'vgg8',
  'vgg11',
  'vgg13',
  'vgg16',
  'mobilenetv2',
] as const;

export type Architecture = (typeof ARCHITECTURES)[number];

/** Builds a model by architecture name (as the CLI and API accept it). */
export function buildModel(architecture: string, opts: BuildOptions): Model {
  const base = {
    inputShape: opts.inputShape,
    numClasses: opts.numClasses,
    seed: opts.seed,
    shapeOnly: opts.shapeOnly,
  };
  if (architecture === 'small-cnn') return buildSmallCnn(base);
  if (architecture === 'mobilenetv2')
    return buildMobileNetV2({ ...base, widthMultiplier: opts.widthMultiplier });
  const resnet = /^resnet(\d+)$/.exec(architecture);
  if (resnet) return buildResNet({ ...base, depth: Number(resnet[1]) });
  const vgg = /^vgg(\d+)$/.exec(architecture);
  if (vgg && Number(vgg[1]) in VGG_CONFIGS) {
    return buildVgg({
      ...base,
      depth: Number(vgg[1]) as VggDepth,
      widthMultiplier: opts.widthMultiplier,
    });
  }
  throw new Error(`unknown architecture "${architecture}"; known: ${ARCHITECTURES.join(', ')}`);
}
