export * from './model-cost';
export * from './dependency-groups';
export * from './channel-surgery';
