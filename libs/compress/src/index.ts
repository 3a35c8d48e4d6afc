export * from './objective';
export * from './pruning';
export * from './latency';
