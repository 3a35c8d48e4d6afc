export * from './sqakd-types';
export * from './sqakd-runner';
export * from './ewgs-delta';
