/**
 * `decodeMessage(topic, payload)`: the one entry point for inbound MQTT messages on either
 * side. It checks, in order, the topic, the payload size, UTF-8, JSON nesting depth, JSON
 * syntax, the protocol version, the schema, and that ids in the payload match the topic. It
 * never throws on bad input: every failure is a typed `DecodeError`.
 */
import type { z } from 'zod';
import type { DecodeErrorCode } from './error-codes';
import { decodeUtf8, jsonNestingDepth } from './json-guard';
import {
  MAX_CHUNK_BYTES,
  MAX_JSON_DEPTH,
  MAX_JSON_PAYLOAD_BYTES,
  PROTOCOL_VERSION,
} from './protocol-constants';
import { commandMessageSchema, type CommandMessage } from './schemas/command.schema';
import { eventMessageSchema, type EventMessage } from './schemas/event.schema';
import { helloMessageSchema, type HelloMessage } from './schemas/hello.schema';
import { manifestMessageSchema, type ManifestMessage } from './schemas/manifest.schema';
import { stateMessageSchema, type StateMessage } from './schemas/state.schema';
import { telemetryMessageSchema, type TelemetryMessage } from './schemas/telemetry.schema';
import { parseTopic, type DeviceChannel } from './topics';

export type DecodedMessage =
  | { kind: 'state'; deviceId: string; message: StateMessage }
  | { kind: 'hello'; deviceId: string; message: HelloMessage }
  | { kind: 'cmd'; deviceId: string; message: CommandMessage }
  | { kind: 'events'; deviceId: string; message: EventMessage }
  | { kind: 'telemetry'; deviceId: string; message: TelemetryMessage }
  | { kind: 'manifest'; sha256: string; message: ManifestMessage }
  | { kind: 'chunk'; sha256: string; index: number; data: Buffer };

export interface DecodeError {
  code: DecodeErrorCode;
  message: string;
  topic: string;
}

export type DecodeResult = { ok: true; value: DecodedMessage } | { ok: false; error: DecodeError };

/** The schema of the JSON payload on each device channel and on manifests. */
export const MESSAGE_SCHEMAS = {
  state: stateMessageSchema,
  hello: helloMessageSchema,
  cmd: commandMessageSchema,
  events: eventMessageSchema,
  telemetry: telemetryMessageSchema,
  manifest: manifestMessageSchema,
} as const satisfies Record<DeviceChannel | 'manifest', z.ZodType>;

export type JsonTopicKind = keyof typeof MESSAGE_SCHEMAS;

function fail(code: DecodeErrorCode, message: string, topic: string): DecodeResult {
  return { ok: false, error: { code, message, topic } };
}

/** Parses a JSON payload under the size and depth limits; never throws. */
export function parseJsonPayload(
  payload: Uint8Array,
): { ok: true; value: unknown } | { ok: false; code: DecodeErrorCode; message: string } {
  if (payload.byteLength > MAX_JSON_PAYLOAD_BYTES) {
    return {
      ok: false,
      code: 'PAYLOAD_TOO_LARGE',
      message: `payload is ${payload.byteLength} bytes; the limit is ${MAX_JSON_PAYLOAD_BYTES}`,
    };
  }
  const text = decodeUtf8(payload);
  if (text === null) return { ok: false, code: 'MALFORMED_JSON', message: 'payload is not UTF-8' };
  const depth = jsonNestingDepth(text);
  if (depth > MAX_JSON_DEPTH) {
    return {
      ok: false,
      code: 'JSON_TOO_DEEP',
      message: `JSON nests ${depth} levels; the limit is ${MAX_JSON_DEPTH}`,
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, code: 'MALFORMED_JSON', message: (err as Error).message };
  }
}

/** A short, readable summary of schema issues: "path.to.field: message; ...". */
export function describeIssues(error: z.ZodError, max = 5): string {
  const parts = error.issues.slice(0, max).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
  const more = error.issues.length - parts.length;
  return more > 0 ? `${parts.join('; ')}; and ${more} more` : parts.join('; ');
}

/** Validates an already-parsed value against the schema for `kind` (version checked first). */
export function validateMessage<K extends JsonTopicKind>(
  kind: K,
  value: unknown,
):
  | { ok: true; value: z.infer<(typeof MESSAGE_SCHEMAS)[K]> }
  | { ok: false; code: DecodeErrorCode; message: string } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'SCHEMA_INVALID', message: 'payload must be a JSON object' };
  }
  const version = (value as { protocol?: unknown }).protocol;
  if (version !== PROTOCOL_VERSION) {
    return {
      ok: false,
      code: 'UNSUPPORTED_VERSION',
      message: `protocol ${JSON.stringify(version ?? null)} is not supported; expected ${PROTOCOL_VERSION}`,
    };
  }
  const parsed = MESSAGE_SCHEMAS[kind].safeParse(value);
  if (!parsed.success)
    return { ok: false, code: 'SCHEMA_INVALID', message: describeIssues(parsed.error) };
  return { ok: true, value: parsed.data as z.infer<(typeof MESSAGE_SCHEMAS)[K]> };
}

export function decodeMessage(topic: string, payload: Buffer | Uint8Array): DecodeResult {
  const parsedTopic = parseTopic(topic);
  if (!parsedTopic.ok) return fail('TOPIC_INVALID', parsedTopic.reason, String(topic));
  const where = parsedTopic.topic;
  if (!(payload instanceof Uint8Array))
    return fail('SCHEMA_INVALID', 'payload must be bytes', topic);

  if (where.kind === 'chunk') {
    if (payload.byteLength > MAX_CHUNK_BYTES) {
      return fail(
        'PAYLOAD_TOO_LARGE',
        `chunk is ${payload.byteLength} bytes; the limit is ${MAX_CHUNK_BYTES}`,
        topic,
      );
    }
    if (payload.byteLength === 0) return fail('SCHEMA_INVALID', 'chunk is empty', topic);
    const data = Buffer.isBuffer(payload)
      ? payload
      : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    return { ok: true, value: { kind: 'chunk', sha256: where.sha256, index: where.index, data } };
  }

  const json = parseJsonPayload(payload);
  if (!json.ok) return fail(json.code, json.message, topic);
  const checked = validateMessage(where.kind, json.value);
  if (!checked.ok) return fail(checked.code, checked.message, topic);

  if (where.kind === 'manifest') {
    const message = checked.value as ManifestMessage;
    if (message.sha256 !== where.sha256) {
      return fail('TOPIC_MISMATCH', 'manifest sha256 differs from the topic', topic);
    }
    return { ok: true, value: { kind: 'manifest', sha256: where.sha256, message } };
  }
  const message = checked.value as Exclude<
    DecodedMessage,
    { kind: 'manifest' | 'chunk' }
  >['message'];
  if ('deviceId' in message && message.deviceId !== where.deviceId) {
    return fail('TOPIC_MISMATCH', 'payload deviceId differs from the topic', topic);
  }
  return {
    ok: true,
    value: { kind: where.kind, deviceId: where.deviceId, message } as DecodedMessage,
  };
}
