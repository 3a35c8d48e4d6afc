import {
  countModelCost,
  deserializeModel,
  importOnnx,
  ModelFileError,
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

/**
 * Engine model files (`.ecm`, written by `edgec train` and the compression methods) are read by
 * the engine's own reader, which checks magic, version, sizes, checksum and the graph; a file
 * it refuses is refused here with its reason.
 */
export function checkEngineFile(bytes: Buffer): ModelFileCheck {
  try {
    const model = deserializeModel(bytes);
    const cost = countModelCost(model.graph);
    return { importable: true, notes: [], params: cost.params, flops: cost.flops };
  } catch (err) {
    if (err instanceof ModelFileError)
      throw invalid(`not a usable engine model file: ${err.message}`);
    throw invalid(`not a usable engine model file: ${(err as Error).message}`);
  }
}
