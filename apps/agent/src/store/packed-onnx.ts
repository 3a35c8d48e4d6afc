/**
 * Low-bit artifacts (2 and 3 bits) arrive bit-packed: ONNX Runtime cannot load them until the
 * packed weights are expanded into float initializers (format: libs/engine/src/onnx/packed-weights.ts).
 * The model store expands them once, when the verified file is committed, so every load of
 * `models/<sha>.onnx` gets a runnable model.
 *
 * The expander is loaded on first use: the agent binary bundles only the engine's ONNX packing
 * module (scripts/build-agent.mjs points `@edgecompress/engine` there; it imports protobufjs and
 * onnx-proto, never tfjs), and an agent that never sees a packed model never loads it at all.
 */
import { closeSync, fsyncSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';

/** The engine's `META.packedWeights` key (kept equal by packed-onnx.spec.ts). */
export const PACKED_WEIGHTS_KEY = 'edgecompress.packed_weights';
const MARKER = Buffer.from(PACKED_WEIGHTS_KEY);

/** Cheap pre-check: the metadata key is in the file (decoding a large model is not cheap). */
export function mayHavePackedWeights(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(MARKER) >= 0;
}

/**
 * The same pre-check on a file, read in pieces through one reused buffer. Reading a whole model
 * at once for it left the agent's malloc heap megabytes larger after the model was committed
 * (glibc raises its mmap threshold to the size of a freed large block, so later allocations
 * land in the heap and stay there).
 */
export function fileMayHavePackedWeights(path: string, pieceBytes = 1 << 20): boolean {
  const piece = Buffer.allocUnsafe(Math.max(pieceBytes, MARKER.length) + MARKER.length - 1);
  const fd = openSync(path, 'r');
  try {
    // `kept` bytes at the front are the previous piece's tail, so a key split across two
    // pieces is still found.
    let kept = 0;
    for (;;) {
      const read = readSync(fd, piece, kept, piece.length - kept, null);
      if (read === 0) return false;
      const filled = kept + read;
      if (piece.subarray(0, filled).indexOf(MARKER) >= 0) return true;
      kept = Math.min(MARKER.length - 1, filled);
      piece.copy(piece, 0, filled - kept, filled);
    }
  } finally {
    closeSync(fd);
  }
}

type Expand = (bytes: Uint8Array) => Uint8Array;
let expander: Expand | undefined;

/** The same bytes when nothing is packed; else the expanded model. Throws on a broken packing. */
export function expandPackedOnnx(bytes: Uint8Array): Uint8Array {
  if (!mayHavePackedWeights(bytes)) return bytes;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first packed model only (see above)
  expander ??= (require('./packed-expander') as { expandPackedWeights: Expand })
    .expandPackedWeights;
  return expander(bytes);
}

/**
 * What expanding a model file did: nothing (no packed weights), wrote `bytes`, or wrote nothing
 * because the expanded form (`bytes`) is larger than the room it was given.
 */
export type ExpandOutcome =
  | { kind: 'not-packed' }
  | { kind: 'written'; bytes: number }
  | { kind: 'too-large'; bytes: number };

/**
 * Writes the expanded form of the packed model file at `packedPath` to `outPath` (fsynced),
 * unless it is larger than `maxBytes`: the size is known before a byte is written, so a device
 * short of disk never holds more than its quota, even for a moment. Rejects when the packing is
 * broken. The agent runs it in a runner child (apps/agent/src/runners/child-expander.ts).
 */
export type ExpandPackedFile = (
  packedPath: string,
  outPath: string,
  maxBytes: number,
) => Promise<ExpandOutcome>;

/** Expansion in the calling process: what the runner child runs, and the store's default. */
export function expandPackedFileSync(
  packedPath: string,
  outPath: string,
  maxBytes: number,
): ExpandOutcome {
  const bytes = readFileSync(packedPath);
  const expanded = expandPackedOnnx(bytes);
  if (expanded === bytes) return { kind: 'not-packed' };
  if (expanded.length > maxBytes) return { kind: 'too-large', bytes: expanded.length };
  const fd = openSync(outPath, 'w', 0o600);
  try {
    let offset = 0;
    while (offset < expanded.length) {
      offset += writeSync(fd, expanded, offset, expanded.length - offset);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return { kind: 'written', bytes: expanded.length };
}

export const expandInProcess: ExpandPackedFile = (packedPath, outPath, maxBytes) =>
  new Promise((resolve) => resolve(expandPackedFileSync(packedPath, outPath, maxBytes)));
