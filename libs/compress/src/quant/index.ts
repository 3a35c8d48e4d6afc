export * from './quantization-config';
export * from './insert-quantizers';
export * from './initialise-quantizers';
export * from './quantized-export';
