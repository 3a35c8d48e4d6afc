export * from './graph';
export * from './data';
