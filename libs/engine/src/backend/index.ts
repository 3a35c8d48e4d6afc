export * from './init-engine-backend';
export { registerWasmGradientKernels } from './wasm-gradient-kernels';
export { conv2dBackpropFilter } from './kernels/conv2d-backprop-filter.kernel';
export { conv2dBackpropInput } from './kernels/conv2d-backprop-input.kernel';
export {
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
} from './kernels/depthwise-backprop.kernel';
export { ensureTfjsGradients } from './tfjs-gradients-loader';
export { useConvKernels, type ConvKernelProvider } from './conv-kernel-provider';
export { registerFastGradients } from './gradients/fused-batch-norm.gradient';
