export * from './sqakd-types';
export * from './sqakd-runner';
