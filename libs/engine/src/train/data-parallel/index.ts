export * from './data-parallel.gradient-source';
export type { WorkerInit } from './gradient-worker.protocol';
