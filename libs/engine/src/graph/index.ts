export * from './ir';
export * from './graph-error';
export * from './shape-inference';
export * from './weight-specs';
export * from './validate-graph';
export * from './executor';
export * from './graph.schema';
