/**
 * Training checkpoints: the model, the optimizer's state and the position in the run, in one
 * file written atomically (temp file, fsync, rename), so a crash leaves either the previous
 * checkpoint or the new one, never half of one. A sha256 over the tensor bytes catches corrupt
 * files on load.
 *
 * Layout: "ECCKPT01" | u32 LE header length | JSON header | float32 LE tensor data.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import type { Graph, Model, Weights } from '../graph';
import type { OptimizerState } from './optimizer';

const MAGIC = 'ECCKPT01';

export interface TrainPosition {
  /** Epoch in progress (0-based) and the number of its steps already taken. */
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
}

export interface Checkpoint<Extra = unknown> {
  model: Model;
  optimizer: OptimizerState;
  position: TrainPosition;
  /** Fingerprint of the settings that must not change across a resume. */
  fingerprint: string;
  /** Anything else the trainer wants back (history, best accuracy...), JSON-serializable. */
  extra: Extra;
}

interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

interface Header<Extra> {
  graph: Graph;
  weights: TensorEntry[];
  optimizer: { kind: OptimizerState['kind']; step: number; slots: TensorEntry[] };
  position: TrainPosition;
  fingerprint: string;
  extra: Extra;
  sha256: string;
}

function layout(tensors: Map<string, { shape: number[]; data: Float32Array }>, start: number) {
  const entries: TensorEntry[] = [];
  let offset = start;
  for (const [name, t] of tensors) {
    entries.push({ name, shape: t.shape, offset, length: t.data.length });
    offset += t.data.length;
  }
  return { entries, end: offset };
}

export function encodeCheckpoint<Extra>(ckpt: Checkpoint<Extra>): Buffer {
  const w = layout(ckpt.model.weights, 0);
  const s = layout(ckpt.optimizer.slots, w.end);
  const payload = new Float32Array(s.end);
  for (const [tensors, entries] of [
    [ckpt.model.weights, w.entries],
    [ckpt.optimizer.slots, s.entries],
  ] as const) {
    for (const e of entries) payload.set(tensors.get(e.name)!.data, e.offset);
  }
  const payloadBytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const header: Header<Extra> = {
    graph: ckpt.model.graph,
    weights: w.entries,
    optimizer: { kind: ckpt.optimizer.kind, step: ckpt.optimizer.step, slots: s.entries },
    position: ckpt.position,
    fingerprint: ckpt.fingerprint,
    extra: ckpt.extra,
    sha256: createHash('sha256').update(payloadBytes).digest('hex'),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  // Pad the header so the float data starts 4-byte aligned.
  const pad = (4 - ((MAGIC.length + 4 + json.length) % 4)) % 4;
  const head = Buffer.alloc(MAGIC.length + 4);
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(json.length + pad, MAGIC.length);
  return Buffer.concat([head, json, Buffer.alloc(pad, 0x20), payloadBytes]);
}

export function decodeCheckpoint<Extra>(bytes: Buffer, file = '<buffer>'): Checkpoint<Extra> {
  const bad = (why: string) => new Error(`checkpoint ${file} is unreadable: ${why}`);
  if (bytes.length < MAGIC.length + 4 || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw bad('not an edgecompress checkpoint');
  }
  const headerLength = bytes.readUInt32LE(MAGIC.length);
  const dataStart = MAGIC.length + 4 + headerLength;
  if (dataStart > bytes.length) throw bad('truncated header');
  let header: Header<Extra>;
  try {
    header = JSON.parse(bytes.toString('utf8', MAGIC.length + 4, dataStart)) as Header<Extra>;
  } catch (err) {
    throw bad(`header is not JSON (${(err as Error).message})`);
  }
  const payloadBytes = bytes.subarray(dataStart);
  if (createHash('sha256').update(payloadBytes).digest('hex') !== header.sha256) {
    throw bad('tensor data does not match its checksum (truncated or corrupt file)');
  }
  const aligned = new Float32Array(payloadBytes.length / 4);
  new Uint8Array(aligned.buffer).set(payloadBytes);
  const read = (entries: TensorEntry[]) =>
    new Map(
      entries.map((e) => [
        e.name,
        { shape: e.shape, data: aligned.slice(e.offset, e.offset + e.length) },
      ]),
    );
  const weights: Weights = read(header.weights);
  return {
    model: { graph: header.graph, weights },
    optimizer: {
      kind: header.optimizer.kind,
      step: header.optimizer.step,
      slots: read(header.optimizer.slots),
    },
    position: header.position,
    fingerprint: header.fingerprint,
    extra: header.extra,
  };
}

/** Writes atomically: a crash mid-write leaves the previous file intact. */
export function saveCheckpoint<Extra>(path: string, ckpt: Checkpoint<Extra>): void {
  const bytes = encodeCheckpoint(ckpt);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export function loadCheckpoint<Extra>(path: string): Checkpoint<Extra> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  return decodeCheckpoint<Extra>(bytes, path);
}
