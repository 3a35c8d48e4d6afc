export * from './graph/ir';
