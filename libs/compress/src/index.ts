export * from './objective';
export * from './pruning';
export * from './latency';
export * from './aap';
