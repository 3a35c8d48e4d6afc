export * from './model-cost.counter';
