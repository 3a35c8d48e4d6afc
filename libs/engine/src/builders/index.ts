export * from './weight-init';
export * from './graph-builder';
export * from './resnet.builder';
export * from './small-cnn.builder';
export * from './vgg.builder';
export * from './mobilenet-v2.builder';
export * from './model-zoo';
