/**
 * The closed set of error codes carried by error events and returned by `decodeMessage`.
 * Adding a code is a protocol change: peers switch on these, they never parse messages.
 */
export const ERROR_CODES = [
  // Decoding: the message itself is unusable.
  'TOPIC_INVALID',
  'TOPIC_MISMATCH',
  'PAYLOAD_TOO_LARGE',
  'MALFORMED_JSON',
  'JSON_TOO_DEEP',
  'UNSUPPORTED_VERSION',
  'SCHEMA_INVALID',
  // Commands: the message was fine, the request cannot be served.
  'UNKNOWN_COMMAND',
  'DEADLINE_EXCEEDED',
  'CANCELLED',
  'BUSY',
  // Artifacts.
  'ARTIFACT_NOT_FOUND',
  'ARTIFACT_TOO_LARGE',
  'SIGNATURE_INVALID',
  'CHECKSUM_MISMATCH',
  'DISK_FULL',
  // Running a model.
  'MODEL_LOAD_FAILED',
  'INFERENCE_FAILED',
  'RUNNER_CRASHED',
  'OUT_OF_MEMORY',
  'TIMEOUT',
  // Deployment state.
  'NOT_DEPLOYED',
  'NO_PREVIOUS_VARIANT',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The codes `decodeMessage` can return. */
export type DecodeErrorCode = Extract<
  ErrorCode,
  | 'TOPIC_INVALID'
  | 'TOPIC_MISMATCH'
  | 'PAYLOAD_TOO_LARGE'
  | 'MALFORMED_JSON'
  | 'JSON_TOO_DEEP'
  | 'UNSUPPORTED_VERSION'
  | 'SCHEMA_INVALID'
>;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
