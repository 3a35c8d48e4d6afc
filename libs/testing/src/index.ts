export * from './temp-dir';
export * from './fake-clock';
export * from './free-port';
export * from './mqtt-test-client';
export * from './embedded-broker.harness';
export * from './mosquitto.launcher';
export * from './server-process.harness';
export * from './device-messages';
