/**
 * One simulated device for the fleet benchmark: a plain mqtt.js client that speaks the real
 * protocol (retained birth state with an offline will carrying its connection counter, hello,
 * persistent session, QoS 1 commands answered with ack → progress → result events, each
 * validated by the protocol's encoder) but runs no model. What it does instead of the agent:
 *
 * - fetch: subscribes to the artifact's retained manifest and checks its ed25519 signature.
 *   In `http` transfer mode (what the agent does for an artifact at or above its HTTP
 *   threshold) the body comes from `GET /api/v1/variants/:id/artifact` with the device's own
 *   Basic credentials, each chunk's sha256 checked against the manifest's signed list
 *   (http-artifact.download.ts);
 *   a failed download falls back to the MQTT chunks, as in the agent. In `full` mode it
 *   subscribes to every chunk and checks each chunk's sha256 against the signed manifest. Either
 *   way the bytes are dropped (nothing is written to disk, so the agent's verify step, which
 *   re-reads the stored file before a load, has nothing to read). In `manifest` mode the chunks
 *   are not fetched: only the signed manifest travels. An artifact already held reports no
 *   fetch step, as in the agent.
 * - load / self-test / benchmark: no inference. The latency it reports is the roofline
 *   prediction (libs/profiles) for its device profile, scaled by a fixed per-device factor,
 *   and the benchmark waits as long as the timed runs would have taken.
 */
import { createHash, type KeyObject } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import mqtt from 'mqtt';
import {
  decodeMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  topics,
  verifyChunk,
  verifyManifest,
  parseJsonPayload,
  parseTopic,
  type CommandMessage,
  type EventMessage,
  type ManifestMessage,
  type ProgressStep,
} from '@edgecompress/protocol';
import { deviceEvent, deviceStateMessage, type DeviceEventBody } from '@edgecompress/testing';
import type { FleetModelCache } from './fleet-model.cache';
import { downloadArtifact } from './http-artifact.download';

export type TransferMode = 'http' | 'full' | 'manifest';

type EventBody = DeviceEventBody;

export interface SimulatedAgentOptions {
  brokerUrl: string;
  deviceId: string;
  password: string;
  profileId: string;
  trustedKey: KeyObject;
  transfer: TransferMode;
  /** Base URL of the control plane's HTTP API (`http` transfer). */
  controlPlaneUrl?: string;
  models: FleetModelCache;
  counters: SwarmCounters;
  now?: () => number;
}

/** Totals of one swarm process, reported to the benchmark. */
export interface SwarmCounters {
  commands: number;
  duplicates: number;
  eventsSent: number;
  reports: number;
  fetches: number;
  chunkBytes: number;
  httpDownloads: number;
  httpBytes: number;
  /** HTTP downloads that failed and fell back to the MQTT chunks. */
  httpFallbacks: number;
  manifests: number;
  errors: number;
  commandsByType: Record<string, number>;
  /**
   * Device-side durations in ms: `manifest` (fetch start to verified manifest), `http` (request
   * to last verified byte), `deploy` (deploy command received to its result).
   */
  timingsMs: Record<string, number[]>;
  /** Why HTTP downloads failed (before falling back to MQTT), by message. */
  httpErrors: Record<string, number>;
}

/** Records one device-side duration (see SwarmCounters.timingsMs). */
export function recordTiming(counters: SwarmCounters, kind: string, ms: number): void {
  (counters.timingsMs[kind] ??= []).push(Math.round(ms));
}

export function emptyCounters(): SwarmCounters {
  return {
    commands: 0,
    duplicates: 0,
    eventsSent: 0,
    reports: 0,
    fetches: 0,
    chunkBytes: 0,
    httpDownloads: 0,
    httpBytes: 0,
    httpFallbacks: 0,
    manifests: 0,
    errors: 0,
    commandsByType: {},
    timingsMs: {},
    httpErrors: {},
  };
}

interface Fetch {
  sha256: string;
  startedAt: number;
  /** Names the HTTP download; without it the chunks come over MQTT. */
  variantId?: string;
  manifest?: ManifestMessage;
  missing: Set<number>;
  fetched: number;
  keep: Map<number, Buffer> | null;
  filters: string[];
  onProgress: (fraction: number) => void;
  resolve(): void;
  reject(err: Error): void;
}

/** A fixed factor in [0.9, 1.1) per device id: devices of one class are not identical. */
export function deviceFactor(deviceId: string): number {
  const h = createHash('sha256').update(deviceId).digest();
  return 0.9 + (h.readUInt16BE(0) / 65536) * 0.2;
}

const AGENT_VERSION = '0.1.0-sim';

export class SimulatedAgent {
  private client?: MqttClient;
  private readonly connection = 1;
  private readonly startedAt: number;
  private readonly now: () => number;
  private readonly seen = new Map<string, EventMessage | null>();
  private readonly held = new Set<string>();
  private readonly fetches = new Map<string, Fetch>();
  private active: { sha256: string; variantId?: string } | null = null;
  private previous: { sha256: string; variantId?: string } | null = null;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: SimulatedAgentOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Connects, publishes birth and hello, subscribes to its commands; resolves on SUBACK. */
  start(): Promise<void> {
    const { deviceId } = this.options;
    return new Promise((resolve, reject) => {
      const client = mqtt.connect(this.options.brokerUrl, {
        clientId: deviceId,
        username: deviceId,
        password: this.options.password,
        clean: false,
        protocolVersion: 4,
        keepalive: 120,
        reconnectPeriod: 0,
        connectTimeout: 60_000,
        will: {
          topic: topics.deviceState(deviceId),
          payload: this.stateMessage(false),
          qos: 1,
          retain: true,
        },
      });
      this.client = client;
      client.on('message', (topic, payload) => this.onMessage(topic, payload));
      client.once('error', reject);
      client.once('connect', () => {
        client.off('error', reject);
        client.on('error', () => this.options.counters.errors++);
        client.publish(topics.deviceState(deviceId), this.stateMessage(true), {
          qos: 1,
          retain: true,
        });
        client.publish(topics.deviceHello(deviceId), this.helloMessage(), { qos: 1 });
        client.subscribe(topics.deviceCmd(deviceId), { qos: 1 }, (err) =>
          err ? reject(err) : resolve(),
        );
      });
    });
  }

  /** Drops the connection without DISCONNECT (no clean goodbye needed in a benchmark). */
  stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    if (!client) return Promise.resolve();
    return new Promise((resolve) => client.end(true, {}, () => resolve()));
  }

  private stateMessage(online: boolean): Buffer {
    return deviceStateMessage({
      deviceId: this.options.deviceId,
      online,
      connection: this.connection,
      agentVersion: AGENT_VERSION,
      active: this.active,
      sentAt: this.now(),
    });
  }

  private helloMessage(): Buffer {
    const profile = this.options.models.profile(this.options.profileId);
    return encodeMessage('hello', {
      protocol: PROTOCOL_VERSION,
      kind: 'hello',
      deviceId: this.options.deviceId,
      agentVersion: AGENT_VERSION,
      connection: this.connection,
      hardware: {
        arch: profile.arch,
        cpu: { model: profile.cpu.model, cores: profile.cpu.cores },
        memory: { totalBytes: profile.memory.sizeBytes, freeBytes: profile.memory.sizeBytes / 2 },
        disk: { totalBytes: 32 * 2 ** 30, freeBytes: 16 * 2 ** 30 },
        os: { platform: 'linux' },
        board: `${profile.name} (simulated)`,
        accelerators: [],
      },
      runtime: {
        node: process.versions.node,
        ort: { version: '1.23.2', executionProviders: ['cpu'] },
      },
      sentAt: this.now(),
    });
  }

  /**
   * Routed by topic as the agent routes (apps/agent/src/agent.ts): a command is decoded and
   * validated; a manifest goes straight to its signature check, which validates it, and a chunk
   * to its check against the signed list (decoding those first would validate them twice).
   */
  private onMessage(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (!parsed.ok) return;
    const where = parsed.topic;
    if (where.kind === 'manifest') return this.onManifest(where.sha256, payload);
    if (where.kind === 'chunk') return this.onChunk(where.sha256, where.index, payload);
    if (where.kind !== 'cmd') return;
    const decoded = decodeMessage(topic, payload);
    if (!decoded.ok || decoded.value.kind !== 'cmd') {
      this.options.counters.errors++;
      return;
    }
    this.onCommand(decoded.value.message);
  }

  private onCommand(cmd: CommandMessage): void {
    const counters = this.options.counters;
    if (this.seen.has(cmd.id)) {
      // A redelivered command is acknowledged again and its result re-sent, never re-run.
      counters.duplicates++;
      this.send(cmd.id, 0, { type: 'ack', duplicate: true });
      const result = this.seen.get(cmd.id);
      if (result) this.publishEvent(result);
      return;
    }
    this.seen.set(cmd.id, null);
    counters.commands++;
    counters.commandsByType[cmd.type] = (counters.commandsByType[cmd.type] ?? 0) + 1;
    let seq = 0;
    this.send(cmd.id, seq++, { type: 'ack', duplicate: false });
    const progress = (step: ProgressStep, fraction: number) =>
      this.send(cmd.id, seq++, { type: 'progress', step, fraction });
    const finish = (body: EventBody) => {
      const event = this.send(cmd.id, seq++, body);
      this.seen.set(cmd.id, event);
    };
    if (this.now() > cmd.deadline) {
      finish({
        type: 'error',
        code: 'DEADLINE_EXCEEDED',
        message: 'received after its deadline',
        retryable: false,
      });
      return;
    }
    if (cmd.type === 'ping' || cmd.type === 'cancel') {
      finish({ type: 'pong', uptimeMs: this.now() - this.startedAt });
      return;
    }
    this.queue = this.queue.then(() =>
      this.run(cmd, progress).then(finish, (err: Error) => {
        counters.errors++;
        finish({
          type: 'error',
          code: 'ARTIFACT_NOT_FOUND',
          message: err.message.slice(0, 2000),
          retryable: true,
        });
      }),
    );
  }

  private async run(
    cmd: Exclude<CommandMessage, { type: 'ping' | 'cancel' }>,
    progress: (step: ProgressStep, fraction: number) => void,
  ): Promise<EventBody> {
    switch (cmd.type) {
      case 'deploy': {
        const receivedAt = this.now();
        const fetched = await this.fetchWithProgress(cmd.artifact, progress);
        progress('load', 0);
        progress('load', 1);
        recordTiming(this.options.counters, 'deploy', this.now() - receivedAt);
        return {
          type: 'deployed',
          artifactSha256: cmd.artifact.sha256,
          bytes: fetched.bytes,
          fetchedChunks: fetched.chunks,
          reusedChunks: 0,
        };
      }
      case 'activate': {
        const sha256 = cmd.artifact.sha256;
        await this.fetchWithProgress(cmd.artifact, progress);
        progress('self-test', 0);
        progress('self-test', 1);
        progress('activate', 0);
        const before = this.active;
        if (before?.sha256 !== sha256) this.previous = before;
        this.active = {
          sha256,
          ...(cmd.artifact.variantId ? { variantId: cmd.artifact.variantId } : {}),
        };
        this.publishState();
        progress('activate', 1);
        return {
          type: 'activated',
          artifactSha256: sha256,
          previousSha256:
            before?.sha256 === sha256 ? (this.previous?.sha256 ?? null) : (before?.sha256 ?? null),
        };
      }
      case 'rollback': {
        progress('rollback', 0);
        const from = this.active;
        this.active = cmd.to
          ? { sha256: cmd.to.sha256, ...(cmd.to.variantId ? { variantId: cmd.to.variantId } : {}) }
          : this.previous;
        this.previous = null;
        this.publishState();
        progress('rollback', 1);
        return {
          type: 'rolled-back',
          artifactSha256: this.active?.sha256 ?? null,
          fromSha256: from?.sha256 ?? null,
        };
      }
      case 'benchmark': {
        const sha256 = cmd.artifact.sha256;
        await this.fetchWithProgress(cmd.artifact, progress);
        if (cmd.accuracySample) await this.fetch(cmd.accuracySample.sha256, undefined);
        progress('load', 0);
        const threads = cmd.threads.intraOp;
        const baseMs = await this.options.models.predictMs(sha256, this.options.profileId, threads);
        progress('load', 1);
        const p50 = baseMs * deviceFactor(this.options.deviceId);
        const runs = cmd.runs ?? Math.max(1, Math.floor((cmd.timeBudgetMs ?? 1000) / p50));
        const timedMs = Math.min(runs * p50, cmd.timeBudgetMs ?? Infinity);
        progress('benchmark', 0);
        // A device would spend this long in its timed runs.
        await new Promise((r) => setTimeout(r, Math.min(timedMs, 10_000)));
        progress('benchmark', 1);
        this.options.counters.reports++;
        const round = (ms: number) => Math.round(ms * 1e4) / 1e4;
        return {
          type: 'benchmark-report',
          artifactSha256: sha256,
          latencyMs: {
            min: round(p50 * 0.95),
            p50: round(p50),
            p90: round(p50 * 1.06),
            p99: round(p50 * 1.15),
            mean: round(p50 * 1.02),
            max: round(p50 * 1.3),
          },
          runs,
          warmup: cmd.warmup,
          throughputPerSec: (1000 / p50) * (cmd.input.shape[0] ?? 1),
          peakRssBytes: 64 * 2 ** 20,
          loadMs: 5,
          sessionOptions: {
            executionProviders: ['cpu'],
            intraOpThreads: threads ?? 0,
            interOpThreads: cmd.threads.interOp ?? 0,
            graphOptimizationLevel: 'all',
          },
          inputShape: cmd.input.shape,
          ...(cmd.accuracySample
            ? {
                accuracy: {
                  correct: cmd.accuracySample.count,
                  total: cmd.accuracySample.count,
                },
              }
            : {}),
        };
      }
    }
  }

  private async fetchWithProgress(
    artifact: { sha256: string; variantId?: string },
    progress: (step: ProgressStep, fraction: number) => void,
  ): Promise<{ bytes: number; chunks: number }> {
    // As the agent: an artifact already held has no fetch step to report, only the verify step.
    const held = this.held.has(artifact.sha256);
    if (!held) progress('fetch', 0);
    const fetched = await this.fetch(artifact.sha256, artifact.variantId);
    if (!held) progress('fetch', 1);
    progress('verify', 0);
    progress('verify', 1);
    return fetched;
  }

  /** Brings an artifact "in": signed manifest always, body by HTTP or chunks (see the header). */
  private fetch(
    sha256: string,
    variantId: string | undefined,
  ): Promise<{ bytes: number; chunks: number }> {
    if (this.held.has(sha256)) return Promise.resolve({ bytes: 0, chunks: 0 });
    const existing = this.fetches.get(sha256);
    const started = new Promise<void>((resolve, reject) => {
      if (existing) {
        const prev = { resolve: existing.resolve, reject: existing.reject };
        existing.resolve = () => {
          prev.resolve();
          resolve();
        };
        existing.reject = (err) => {
          prev.reject(err);
          reject(err);
        };
        return;
      }
      const fetch: Fetch = {
        sha256,
        startedAt: this.now(),
        ...(variantId ? { variantId } : {}),
        missing: new Set(),
        fetched: 0,
        keep: null,
        filters: [topics.artifactManifest(sha256)],
        onProgress: () => undefined,
        resolve,
        reject,
      };
      this.fetches.set(sha256, fetch);
      this.client!.subscribe(fetch.filters, { qos: 1 }, (err) => {
        if (err) this.finishFetch(fetch, err);
      });
    });
    return started.then(() => {
      const size = this.options.models.manifestOf(sha256)?.size ?? 0;
      const chunks = this.options.models.manifestOf(sha256)?.chunkCount ?? 0;
      return { bytes: size, chunks: this.options.transfer === 'manifest' ? 0 : chunks };
    });
  }

  private onManifest(sha256: string, payload: Buffer): void {
    const fetch = this.fetches.get(sha256);
    if (!fetch || fetch.manifest) return;
    const json = parseJsonPayload(payload);
    const verified = json.ok
      ? verifyManifest(json.value, this.options.trustedKey)
      : { ok: false as const, message: json.message };
    if (!verified.ok) {
      this.finishFetch(fetch, new Error(`manifest of ${sha256}: ${verified.message}`));
      return;
    }
    if (verified.manifest.sha256 !== sha256) {
      this.finishFetch(
        fetch,
        new Error(`manifest on ${sha256} describes ${verified.manifest.sha256}`),
      );
      return;
    }
    this.options.counters.manifests++;
    recordTiming(this.options.counters, 'manifest', this.now() - fetch.startedAt);
    const manifest = verified.manifest;
    fetch.manifest = manifest;
    this.options.models.rememberManifest(manifest);
    // One device per process keeps the bytes so the process can parse the model once for the
    // predictor; in manifest mode it is the only one that fetches chunks at all.
    const keeper = this.options.models.claimBytes(sha256);
    if (this.options.transfer === 'manifest' && !keeper) {
      this.finishFetch(fetch);
      return;
    }
    fetch.keep = keeper ? new Map() : null;
    fetch.missing = new Set(Array.from({ length: manifest.chunkCount }, (_, i) => i));
    const base = this.options.controlPlaneUrl;
    if (this.options.transfer === 'http' && base && fetch.variantId) {
      void this.download(fetch, manifest, base, fetch.variantId);
      return;
    }
    this.subscribeChunks(fetch, sha256);
  }

  /** The body over HTTP; on any failure the chunks over MQTT, as the agent falls back. */
  private async download(
    fetch: Fetch,
    manifest: ManifestMessage,
    base: string,
    variantId: string,
  ): Promise<void> {
    const counters = this.options.counters;
    const requestedAt = this.now();
    try {
      const result = await downloadArtifact({
        base,
        variantId,
        deviceId: this.options.deviceId,
        password: this.options.password,
        manifest,
        keep: fetch.keep !== null,
        onProgress: (fraction) => fetch.onProgress(fraction),
      });
      if (this.fetches.get(fetch.sha256) !== fetch) return;
      counters.httpDownloads++;
      recordTiming(counters, 'http', this.now() - requestedAt);
      counters.httpBytes += result.bytes;
      fetch.fetched = result.chunks;
      fetch.missing.clear();
      if (result.kept) this.options.models.provideBytes(fetch.sha256, result.kept);
      this.finishFetch(fetch);
    } catch (err) {
      if (this.stopped || this.fetches.get(fetch.sha256) !== fetch) return;
      counters.httpFallbacks++;
      const cause = (err as Error & { cause?: Error }).cause;
      const why = `${(err as Error).message}${cause ? `: ${cause.message}` : ''}`.slice(0, 120);
      counters.httpErrors[why] = (counters.httpErrors[why] ?? 0) + 1;
      this.subscribeChunks(fetch, fetch.sha256);
    }
  }

  private subscribeChunks(fetch: Fetch, sha256: string): void {
    const chunkFilter = `${topics.artifactManifest(sha256).slice(0, -'manifest'.length)}chunk/+`;
    fetch.filters.push(chunkFilter);
    this.client!.subscribe(chunkFilter, { qos: 1 }, (err) => {
      if (err) this.finishFetch(fetch, err);
    });
  }

  private onChunk(sha256: string, index: number, data: Buffer): void {
    const fetch = this.fetches.get(sha256);
    const manifest = fetch?.manifest;
    if (!fetch || !manifest || !fetch.missing.has(index)) return;
    if (!verifyChunk(manifest, index, data).ok) {
      this.options.counters.errors++;
      return;
    }
    this.options.counters.chunkBytes += data.byteLength;
    fetch.keep?.set(index, Buffer.from(data));
    fetch.missing.delete(index);
    fetch.fetched++;
    fetch.onProgress(1 - fetch.missing.size / manifest.chunkCount);
    if (fetch.missing.size > 0) return;
    if (fetch.keep) {
      const parts = Array.from({ length: manifest.chunkCount }, (_, i) => fetch.keep!.get(i)!);
      this.options.models.provideBytes(sha256, Buffer.concat(parts, manifest.size));
    }
    this.finishFetch(fetch);
  }

  private finishFetch(fetch: Fetch, err?: Error): void {
    if (this.fetches.get(fetch.sha256) !== fetch) return;
    this.fetches.delete(fetch.sha256);
    this.client?.unsubscribe(fetch.filters);
    if (err) {
      fetch.reject(err);
      return;
    }
    this.options.counters.fetches++;
    this.held.add(fetch.sha256);
    fetch.resolve();
  }

  private publishState(): void {
    if (this.stopped) return;
    this.client?.publish(topics.deviceState(this.options.deviceId), this.stateMessage(true), {
      qos: 1,
      retain: true,
    });
  }

  private send(commandId: string, seq: number, body: EventBody): EventMessage {
    const event = deviceEvent(this.options.deviceId, commandId, seq, body, this.now());
    this.publishEvent(event);
    return event;
  }

  private publishEvent(event: EventMessage): void {
    // A job finishing after stop() has nothing to send on (mqtt.js has closed its store).
    if (this.stopped) return;
    this.options.counters.eventsSent++;
    this.client?.publish(
      topics.deviceEvents(this.options.deviceId),
      encodeMessage('events', event),
      { qos: 1 },
    );
  }
}
