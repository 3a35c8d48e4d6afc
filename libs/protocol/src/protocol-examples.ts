/**
 * One valid example of every message, used by docs/protocol.md and by tests on both sides.
 * The manifest example is unsigned (signing needs a key); see `signManifest`.
 */
import { PROTOCOL_VERSION } from './protocol-constants';
import type { CommandMessage } from './schemas/command.schema';
import type { EventMessage } from './schemas/event.schema';
import type { HelloMessage } from './schemas/hello.schema';
import type { UnsignedManifest } from './schemas/manifest.schema';
import type { StateMessage } from './schemas/state.schema';
import type { TelemetryMessage } from './schemas/telemetry.schema';

const v = PROTOCOL_VERSION;
const deviceId = 'rpi5-lab-01';
const sentAt = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const modelSha = 'a3f1c9e2b4d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f';
const previousSha = '0b1c2d3e4f5061728394a5b6c7d8e9f00112233445566778899aabbccddeeff0';
const sampleSha = '5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592';

export const EXAMPLE_STATE: StateMessage = {
  protocol: v,
  kind: 'state',
  deviceId,
  online: true,
  connection: 42,
  agentVersion: '0.1.0',
  activeVariant: { artifactSha256: modelSha, variantId: 'var_resnet20_int8' },
  sentAt,
};

export const EXAMPLE_HELLO: HelloMessage = {
  protocol: v,
  kind: 'hello',
  deviceId,
  agentVersion: '0.1.0',
  connection: 42,
  hardware: {
    arch: 'arm64',
    cpu: {
      model: 'Cortex-A76',
      vendor: 'ARM',
      cores: 4,
      physicalCores: 4,
      maxGHz: 2.4,
      flags: ['neon', 'asimddp', 'fphp'],
    },
    memory: { totalBytes: 8_589_934_592, freeBytes: 6_442_450_944 },
    disk: { totalBytes: 63_999_836_160, freeBytes: 41_234_567_168 },
    os: {
      platform: 'linux',
      distro: 'Debian GNU/Linux',
      release: '12',
      kernel: '6.6.31+rpt-rpi-2712',
    },
    board: 'Raspberry Pi 5 Model B Rev 1.0',
    accelerators: [],
  },
  runtime: { node: '20.19.0', ort: { version: '1.23.2', executionProviders: ['cpu'] } },
  sentAt,
};

const commandBase = {
  protocol: v,
  kind: 'cmd',
  issuedAt: sentAt,
  deadline: sentAt + 600_000,
} as const;

export const EXAMPLE_COMMANDS = {
  benchmark: {
    ...commandBase,
    id: 'cmd_01HZX3K8Q4',
    type: 'benchmark',
    artifact: { sha256: modelSha, variantId: 'var_resnet20_int8' },
    input: { shape: [1, 32, 32, 3], dtype: 'float32' },
    warmup: 10,
    runs: 200,
    timeBudgetMs: 60_000,
    threads: { intraOp: 4, interOp: 1 },
    executionProviders: ['cpu'],
    accuracySample: { sha256: sampleSha, count: 500 },
  },
  deploy: { ...commandBase, id: 'cmd_01HZX3K8Q5', type: 'deploy', artifact: { sha256: modelSha } },
  activate: {
    ...commandBase,
    id: 'cmd_01HZX3K8Q6',
    type: 'activate',
    artifact: { sha256: modelSha, variantId: 'var_resnet20_int8' },
  },
  rollback: { ...commandBase, id: 'cmd_01HZX3K8Q7', type: 'rollback', to: { sha256: previousSha } },
  ping: { ...commandBase, id: 'cmd_01HZX3K8Q8', type: 'ping' },
  cancel: { ...commandBase, id: 'cmd_01HZX3K8Q9', type: 'cancel', target: 'cmd_01HZX3K8Q4' },
} as const satisfies Record<CommandMessage['type'], CommandMessage>;

const eventBase = { protocol: v, kind: 'event', deviceId, sentAt } as const;

export const EXAMPLE_EVENTS = {
  ack: { ...eventBase, commandId: 'cmd_01HZX3K8Q4', seq: 0, type: 'ack', duplicate: false },
  progress: {
    ...eventBase,
    commandId: 'cmd_01HZX3K8Q4',
    seq: 1,
    type: 'progress',
    step: 'benchmark',
    fraction: 0.5,
    note: '100 of 200 runs',
  },
  'benchmark-report': {
    ...eventBase,
    commandId: 'cmd_01HZX3K8Q4',
    seq: 2,
    type: 'benchmark-report',
    artifactSha256: modelSha,
    latencyMs: { p50: 3.1, p90: 3.4, p99: 4.2, mean: 3.2, min: 2.9, max: 5.0 },
    runs: 200,
    warmup: 10,
    throughputPerSec: 312.5,
    peakRssBytes: 98_566_144,
    loadMs: 41.7,
    sessionOptions: {
      executionProviders: ['cpu'],
      intraOpThreads: 4,
      interOpThreads: 1,
      graphOptimizationLevel: 'all',
    },
    inputShape: [1, 32, 32, 3],
    accuracy: { correct: 457, total: 500 },
  },
  deployed: {
    ...eventBase,
    commandId: 'cmd_01HZX3K8Q5',
    seq: 1,
    type: 'deployed',
    artifactSha256: modelSha,
    bytes: 1_093_412,
    fetchedChunks: 12,
    reusedChunks: 5,
  },
  activated: {
    ...eventBase,
    commandId: 'cmd_01HZX3K8Q6',
    seq: 1,
    type: 'activated',
    artifactSha256: modelSha,
    previousSha256: previousSha,
  },
  'rolled-back': {
    ...eventBase,
    commandId: 'cmd_01HZX3K8Q7',
    seq: 1,
    type: 'rolled-back',
    artifactSha256: previousSha,
    fromSha256: modelSha,
  },
  pong: { ...eventBase, commandId: 'cmd_01HZX3K8Q8', seq: 1, type: 'pong', uptimeMs: 3_600_000 },
  error: {
    ...eventBase,
    commandId: 'cmd_01HZX3K8Q5',
    seq: 1,
    type: 'error',
    code: 'CHECKSUM_MISMATCH',
    message: 'chunk 3 sha256 mismatch after 3 attempts',
    retryable: true,
  },
} as const satisfies Record<EventMessage['type'], EventMessage>;

export const EXAMPLE_TELEMETRY: TelemetryMessage = {
  protocol: v,
  kind: 'telemetry',
  deviceId,
  sentAt,
  cpuLoadPercent: 37.5,
  memory: { totalBytes: 8_589_934_592, usedBytes: 2_147_483_648 },
  temperatureC: 61.2,
  agentRssBytes: 73_400_320,
  uptimeMs: 3_600_000,
};

export const EXAMPLE_UNSIGNED_MANIFEST: UnsignedManifest = {
  protocol: v,
  kind: 'manifest',
  sha256: modelSha,
  size: 150_000,
  chunkSize: 65_536,
  chunkCount: 3,
  chunks: [modelSha, previousSha, sampleSha],
  contentType: 'application/onnx',
  createdAt: sentAt,
  name: 'resnet20-int8.onnx',
};
