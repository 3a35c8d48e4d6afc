export * from './latency-oracle';
export * from './local-latency-oracle';
export * from './predicted-latency-oracle';
