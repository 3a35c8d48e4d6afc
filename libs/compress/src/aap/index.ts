export * from './adaptive-policy';
export * from './attention-scores';
export * from './threshold-plan';
export * from './fine-tune';
export * from './aap-types';
export * from './aap-pruner';
export * from './budget-pruning';
export * from './repeated-cuts';
