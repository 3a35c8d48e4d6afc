export * from './graph';
export * from './data';
export * from './builders';
export * from './onnx';
export * from './count';
export * from './backend';
export * from './train';
export * from './format';
