export * from './objective';
export * from './objective-parse';
