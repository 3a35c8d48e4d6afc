import {
  countModelCost,
  importOnnx,
  OnnxFormatError,
  UnsupportedOnnxError,
} from '@edgecompress/engine';
import { invalid } from '../common/domain-errors';

export interface ModelFileCheck {
  /** The engine can import it (and so compress it); otherwise it can still be benchmarked. */
  importable: boolean;
  notes: string[];
  /** Counted by the engine from the imported graph (batch 1), when importable. */
  params?: number;
  flops?: number;
}

/**
 * ONNX uploads go through the engine's importer. A file that is not a well-formed ONNX model
 * is refused; a well-formed model with operators the engine cannot import is kept (it can
 * still be deployed and benchmarked) and says why it cannot be compressed.
 */
export function checkOnnxFile(bytes: Buffer): ModelFileCheck {
  try {
    const result = importOnnx(bytes);
    const cost = countModelCost(result.model.graph);
    return { importable: true, notes: result.notes, params: cost.params, flops: cost.flops };
  } catch (err) {
    if (err instanceof UnsupportedOnnxError) return { importable: false, notes: [err.message] };
    if (err instanceof OnnxFormatError) throw invalid(err.message);
    throw invalid(`not a usable ONNX model: ${(err as Error).message}`);
  }
}

/** Engine model files are JSON with a graph of nodes (libs/engine graph IR). */
export function checkEngineFile(bytes: Buffer): ModelFileCheck {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw invalid(`engine model file is not JSON: ${(err as Error).message}`);
  }
  const graph = (parsed as { graph?: { nodes?: unknown } } | null)?.graph;
  if (!graph || !Array.isArray(graph.nodes) || graph.nodes.length === 0) {
    throw invalid('engine model file has no graph.nodes');
  }
  return { importable: true, notes: [] };
}
