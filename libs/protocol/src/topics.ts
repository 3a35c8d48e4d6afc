/**
 * MQTT topic builders and the parser that maps a topic back to what it addresses.
 *
 *   ec/v1/devices/{deviceId}/{state|hello|cmd|events|telemetry}
 *   ec/v1/artifacts/{sha256}/manifest
 *   ec/v1/artifacts/{sha256}/chunk/{n}
 */
import {
  DEVICE_ID_PATTERN,
  MAX_ARTIFACT_BYTES,
  MIN_CHUNK_BYTES,
  SHA256_PATTERN,
  TOPIC_ROOT,
} from './protocol-constants';

export const DEVICE_CHANNELS = ['state', 'hello', 'cmd', 'events', 'telemetry'] as const;
export type DeviceChannel = (typeof DEVICE_CHANNELS)[number];

export type TopicKind = DeviceChannel | 'manifest' | 'chunk';

export type ParsedTopic =
  | { kind: DeviceChannel; deviceId: string }
  | { kind: 'manifest'; sha256: string }
  | { kind: 'chunk'; sha256: string; index: number };

/** Delivery settings per topic kind (ARCHITECTURE.md §5). */
export const TOPIC_DELIVERY: Readonly<Record<TopicKind, { qos: 0 | 1; retain: boolean }>> = {
  state: { qos: 1, retain: true },
  hello: { qos: 1, retain: false },
  cmd: { qos: 1, retain: false },
  events: { qos: 1, retain: false },
  telemetry: { qos: 0, retain: false },
  manifest: { qos: 1, retain: true },
  chunk: { qos: 1, retain: true },
};

/** Highest chunk index a valid manifest can have. */
const MAX_CHUNK_INDEX = Math.ceil(MAX_ARTIFACT_BYTES / MIN_CHUNK_BYTES) - 1;

export function isDeviceId(value: string): boolean {
  return DEVICE_ID_PATTERN.test(value);
}

export function isSha256(value: string): boolean {
  return SHA256_PATTERN.test(value);
}

function assertDeviceId(deviceId: string): string {
  if (!isDeviceId(deviceId)) throw new TypeError(`invalid device id ${JSON.stringify(deviceId)}`);
  return deviceId;
}

function assertSha256(sha256: string): string {
  if (!isSha256(sha256)) throw new TypeError(`invalid sha256 ${JSON.stringify(sha256)}`);
  return sha256;
}

/**
 * Topic builders. They throw on an invalid id because that is a programming error on the
 * sending side; inbound topics go through `parseTopic`, which never throws.
 */
export const topics = {
  deviceState: (deviceId: string) => `${TOPIC_ROOT}/devices/${assertDeviceId(deviceId)}/state`,
  deviceHello: (deviceId: string) => `${TOPIC_ROOT}/devices/${assertDeviceId(deviceId)}/hello`,
  deviceCmd: (deviceId: string) => `${TOPIC_ROOT}/devices/${assertDeviceId(deviceId)}/cmd`,
  deviceEvents: (deviceId: string) => `${TOPIC_ROOT}/devices/${assertDeviceId(deviceId)}/events`,
  deviceTelemetry: (deviceId: string) =>
    `${TOPIC_ROOT}/devices/${assertDeviceId(deviceId)}/telemetry`,
  device: (deviceId: string, channel: DeviceChannel) =>
    `${TOPIC_ROOT}/devices/${assertDeviceId(deviceId)}/${channel}`,
  artifactManifest: (sha256: string) => `${TOPIC_ROOT}/artifacts/${assertSha256(sha256)}/manifest`,
  artifactChunk: (sha256: string, index: number) => {
    if (!Number.isInteger(index) || index < 0 || index > MAX_CHUNK_INDEX) {
      throw new TypeError(`invalid chunk index ${index}`);
    }
    return `${TOPIC_ROOT}/artifacts/${assertSha256(sha256)}/chunk/${index}`;
  },
} as const;

/** Subscription filters (with MQTT wildcards) for each side. */
export const topicFilters = {
  /** Control plane: one channel of every device, e.g. `ec/v1/devices/+/events`. */
  allDevices: (channel: DeviceChannel) => `${TOPIC_ROOT}/devices/+/${channel}`,
  /** Agent: its own commands. */
  deviceCmd: (deviceId: string) => topics.deviceCmd(deviceId),
  /** Agent: every chunk of one artifact. */
  artifactChunks: (sha256: string) => `${TOPIC_ROOT}/artifacts/${assertSha256(sha256)}/chunk/+`,
  /** Everything an agent may read under artifacts/. */
  allArtifacts: () => `${TOPIC_ROOT}/artifacts/#`,
} as const;

export type ParseTopicResult = { ok: true; topic: ParsedTopic } | { ok: false; reason: string };

const CHUNK_INDEX_PATTERN = /^(0|[1-9][0-9]{0,9})$/;

/** Maps a concrete (wildcard-free) topic to what it addresses; never throws. */
export function parseTopic(topic: string): ParseTopicResult {
  if (typeof topic !== 'string') return { ok: false, reason: 'topic is not a string' };
  const prefix = `${TOPIC_ROOT}/`;
  if (!topic.startsWith(prefix)) return { ok: false, reason: `topic is not under ${TOPIC_ROOT}/` };
  const levels = topic.slice(prefix.length).split('/');
  const [family, id, ...rest] = levels;
  if (family === 'devices') {
    if (id === undefined || !isDeviceId(id)) return { ok: false, reason: 'malformed device id' };
    const channel = rest[0];
    if (rest.length !== 1 || !(DEVICE_CHANNELS as readonly string[]).includes(channel ?? '')) {
      return { ok: false, reason: 'unknown device channel' };
    }
    return { ok: true, topic: { kind: channel as DeviceChannel, deviceId: id } };
  }
  if (family === 'artifacts') {
    if (id === undefined || !isSha256(id))
      return { ok: false, reason: 'malformed artifact sha256' };
    if (rest.length === 1 && rest[0] === 'manifest') {
      return { ok: true, topic: { kind: 'manifest', sha256: id } };
    }
    if (rest.length === 2 && rest[0] === 'chunk') {
      const raw = rest[1] ?? '';
      if (!CHUNK_INDEX_PATTERN.test(raw)) return { ok: false, reason: 'malformed chunk index' };
      const index = Number(raw);
      if (index > MAX_CHUNK_INDEX) return { ok: false, reason: 'chunk index out of range' };
      return { ok: true, topic: { kind: 'chunk', sha256: id, index } };
    }
    return { ok: false, reason: 'unknown artifact channel' };
  }
  return { ok: false, reason: 'unknown topic family' };
}

/** The concrete topic for a parsed one (inverse of `parseTopic`). */
export function formatTopic(topic: ParsedTopic): string {
  switch (topic.kind) {
    case 'manifest':
      return topics.artifactManifest(topic.sha256);
    case 'chunk':
      return topics.artifactChunk(topic.sha256, topic.index);
    default:
      return topics.device(topic.deviceId, topic.kind);
  }
}
