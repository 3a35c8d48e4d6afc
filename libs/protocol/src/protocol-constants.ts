/**
 * Protocol version and limits. Every message carries `protocol: PROTOCOL_VERSION`; a peer that
 * receives another version answers UNSUPPORTED_VERSION instead of guessing at the payload.
 */

export const PROTOCOL_VERSION = 1;
export const TOPIC_ROOT = 'ec/v1';

/** Largest JSON payload accepted on any topic (a signed manifest of a 512 MiB artifact fits). */
export const MAX_JSON_PAYLOAD_BYTES = 1024 * 1024;
/** Deepest nesting of objects/arrays accepted in a JSON payload; ours never exceed 6. */
export const MAX_JSON_DEPTH = 16;
/** Largest binary chunk payload accepted on an artifact chunk topic. */
export const MAX_CHUNK_BYTES = 1024 * 1024;
/** Chunk size used when the publisher does not choose one. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
/** Smallest chunk size a manifest may declare (keeps the chunk list bounded). */
export const MIN_CHUNK_BYTES = 4 * 1024;
/** Largest artifact a manifest may describe. */
export const MAX_ARTIFACT_BYTES = 512 * 1024 * 1024;
/** Longest free-text message (error messages, progress notes). */
export const MAX_TEXT_LENGTH = 2000;

/** Device ids are MQTT usernames and topic levels: no `/`, `+`, `#`, no spaces. */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Command ids are chosen by the control plane (UUIDs in practice). */
export const COMMAND_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
/** Lower-case hex sha256. */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
