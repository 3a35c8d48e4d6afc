export * from './model-file';
