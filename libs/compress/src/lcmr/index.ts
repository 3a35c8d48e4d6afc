export * from './replacement-curriculum';
export * from './model-segments';
export * from './module-replacer';
export * from './lcmr-runner';
