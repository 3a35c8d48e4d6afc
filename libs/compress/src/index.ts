export * from './objective';
export * from './pruning';
