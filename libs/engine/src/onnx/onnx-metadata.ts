/**
 * What every exported model says about itself, stored as ONNX metadata_props so any ONNX tool
 * shows it and our importer restores it.
 */
import type { Graph, GraphNode } from '../graph/ir';
import type { onnx } from './onnx-schema';

export const PRODUCER_NAME = 'edgecompress';
export const METADATA_PREFIX = 'edgecompress.';

export interface VariantMetadata {
  variantId?: string;
  parent?: string;
  method?: string;
  options?: unknown;
  provenance?: unknown;
}

/** Keys written by the exporter itself, beside the variant's own. */
export const META = {
  variantId: 'edgecompress.variant_id',
  parent: 'edgecompress.parent',
  method: 'edgecompress.method',
  options: 'edgecompress.options',
  provenance: 'edgecompress.provenance',
  architecture: 'edgecompress.architecture',
  graphName: 'edgecompress.graph_name',
  inputLayout: 'edgecompress.input_layout',
  /** Node tags, stages and feature node of the IR graph, so an import restores them. */
  graphInfo: 'edgecompress.graph_info',
  quantization: 'edgecompress.quantization',
  /** Present on artifacts holding bit-packed weights: a model ORT cannot load before expansion. */
  packedWeights: 'edgecompress.packed_weights',
} as const;

export function variantProps(meta: VariantMetadata | undefined): onnx.IStringStringEntryProto[] {
  const props: onnx.IStringStringEntryProto[] = [];
  const put = (key: string, value: unknown): void => {
    if (value === undefined) return;
    props.push({ key, value: typeof value === 'string' ? value : JSON.stringify(value) });
  };
  put(META.variantId, meta?.variantId);
  put(META.parent, meta?.parent);
  put(META.method, meta?.method);
  put(META.options, meta?.options ?? {});
  put(META.provenance, meta?.provenance ?? {});
  return props;
}

export function readMetadata(model: onnx.IModelProto): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of model.metadataProps ?? []) if (p.key != null) out.set(p.key, p.value ?? '');
  return out;
}

/** Tags, stages and features of an IR graph: what ONNX cannot carry natively. */
export interface GraphInfo {
  tags: Record<string, NonNullable<GraphNode['tags']>>;
  stages?: Graph['stages'];
  features?: string;
  output: string;
}
