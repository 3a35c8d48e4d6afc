export * from './objective';
export * from './pruning';
export * from './latency';
export * from './aap';
export * from './quant';
export * from './sqakd';
export * from './ckdf';
export * from './lcmr';
