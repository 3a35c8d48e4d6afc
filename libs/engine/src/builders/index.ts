export * from './weight-init';
export * from './graph-builder';
export * from './resnet.builder';
export * from './small-cnn.builder';
