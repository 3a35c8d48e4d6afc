export * from './device-profile.schema';
export * from './profile-loader';
export * from './profile-matcher';
export * from './layer-workload';
export * from './roofline-predictor';
export * from './latency-calibration';
export * from './onnx-workload';
