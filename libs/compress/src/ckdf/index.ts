export * from './contrast-memory';
export * from './feature-pairs';
export * from './ckdf-runner';
