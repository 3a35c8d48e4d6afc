/** Messages between the data-parallel trainer and its gradient workers. */
import type { Graph } from '../../graph';
import type { FlatLayout, ShardResult } from '../gradient-source';

export interface WorkerInit {
  graph: Graph;
  weights: Array<[name: string, shape: number[], data: Float32Array]>;
  layout: FlatLayout;
  /** The tfjs backend of the main thread; replicas must compute on the same one. */
  backend: string;
  labelSmoothing: number;
}

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | {
      type: 'step';
      id: number;
      /** Current trainable parameters then BN state, flat in layout order. */
      weights: Float32Array;
      images: Float32Array;
      labels: Int32Array;
      count: number;
    }
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready' }
  | ({ type: 'result'; id: number } & ShardResult)
  | { type: 'error'; id?: number; message: string };
