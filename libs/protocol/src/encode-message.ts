/**
 * Outbound side: validate a message against its schema and serialise it. Sending an invalid
 * message is a bug in the sender, so this throws (with the schema issues) instead of
 * publishing something every receiver would reject.
 */
import type { z } from 'zod';
import { describeIssues, MESSAGE_SCHEMAS, type JsonTopicKind } from './decode-message';
import { MAX_JSON_PAYLOAD_BYTES } from './protocol-constants';

export class ProtocolEncodeError extends Error {
  constructor(
    readonly kind: JsonTopicKind,
    detail: string,
  ) {
    super(`cannot encode ${kind} message: ${detail}`);
    this.name = 'ProtocolEncodeError';
  }
}

export function encodeMessage<K extends JsonTopicKind>(
  kind: K,
  message: z.input<(typeof MESSAGE_SCHEMAS)[K]>,
): Buffer {
  const parsed = MESSAGE_SCHEMAS[kind].safeParse(message);
  if (!parsed.success) throw new ProtocolEncodeError(kind, describeIssues(parsed.error));
  const bytes = Buffer.from(JSON.stringify(parsed.data), 'utf8');
  if (bytes.byteLength > MAX_JSON_PAYLOAD_BYTES) {
    throw new ProtocolEncodeError(
      kind,
      `${bytes.byteLength} bytes exceeds ${MAX_JSON_PAYLOAD_BYTES}`,
    );
  }
  return bytes;
}
