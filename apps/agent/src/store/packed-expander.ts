/**
 * The engine's expander of bit-packed weights, behind its own module so packed-onnx.ts can load
 * it on first use. In the agent binary `@edgecompress/engine` resolves to the engine's packing
 * module alone (protobufjs + onnx-proto, no tfjs): see scripts/build-agent.mjs.
 */
export { expandPackedWeights } from '@edgecompress/engine';
