export * from './quant-grid';
export * from './quant-params';
export * from './round-ste';
export * from './fake-quant-weight';
export * from './fake-quant-activation';
