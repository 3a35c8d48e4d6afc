/**
 * Every failure the agent reports carries a protocol error code; the message is for humans,
 * the code is what the control plane branches on, `retryable` says whether sending the same
 * command again may succeed.
 */
import type { ErrorCode } from '@edgecompress/protocol';

const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BUSY',
  'DISK_FULL',
  'ARTIFACT_NOT_FOUND',
  'TIMEOUT',
  'DEADLINE_EXCEEDED',
  'INTERNAL',
]);

export class AgentError extends Error {
  readonly retryable: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    retryable?: boolean,
  ) {
    super(message);
    this.name = 'AgentError';
    this.retryable = retryable ?? RETRYABLE.has(code);
  }
}

/** Any thrown value as a typed error; unexpected ones become INTERNAL without a stack trace. */
export function toAgentError(err: unknown): AgentError {
  if (err instanceof AgentError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AgentError('INTERNAL', message);
}
