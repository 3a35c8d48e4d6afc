/**
 * The agent: wires config, stores, runner, MQTT connection and command dispatch. On every
 * connect it publishes its retained online state and a hello, makes sure it is subscribed to
 * its commands, and flushes the persisted outbox; telemetry ticks on the injected clock.
 */
import { mkdirSync } from 'node:fs';
import {
  encodeMessage,
  PROTOCOL_VERSION,
  parseTopic,
  topics,
  TOPIC_DELIVERY,
  type ActiveVariant,
  type EventMessage,
  type RuntimeFacts,
} from '@edgecompress/protocol';
import type { AgentServices } from './agent-services';
import { systemClock, type Clock, type TimerHandle } from './clock';
import type { AgentConfig } from './config/agent-config';
import { MqttConnection } from './connection/mqtt-connection';
import { OutboxFlusher } from './connection/outbox-flusher';
import { fallbackStableFacts, type StableHardwareFacts } from './facts/hardware-facts';
import { SystemLoad } from './facts/system-load';
import { CommandDispatcher, type Logger } from './handlers/command-dispatcher';
import type { EventBody } from './jobs/command-job';
import { ArtifactFetcher } from './jobs/artifact-fetcher';
import { childExpander } from './runners/child-expander';
import { OrtRunner, readRssBytes } from './runners/ort-runner';
import type { ProbeResult } from './runners/runner-protocol';
import { CommandJournalStore } from './store/command-journal-store';
import { ConnectionCounterStore } from './store/connection-counter-store';
import { DeploymentStateStore } from './store/deployment-state-store';
import { ModelStore } from './store/model-store';
import { OutboxStore } from './store/outbox-store';

export const AGENT_VERSION = '0.1.0';

export interface AgentOptions {
  clock?: Clock;
  log?: Logger;
  runner?: OrtRunner;
}

const jsonLogger: Logger = {
  info: (msg, fields) =>
    process.stdout.write(JSON.stringify({ level: 'info', msg, ...fields }) + '\n'),
  warn: (msg, fields) =>
    process.stdout.write(JSON.stringify({ level: 'warn', msg, ...fields }) + '\n'),
};

export class Agent {
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly models: ModelStore;
  private readonly deployment: DeploymentStateStore;
  private readonly outbox: OutboxStore;
  private readonly journal: CommandJournalStore;
  private readonly counter: ConnectionCounterStore;
  private readonly runner: OrtRunner;
  private readonly load: SystemLoad;
  private readonly connection: MqttConnection;
  private readonly flusher: OutboxFlusher;
  private readonly fetcher: ArtifactFetcher;
  private readonly dispatcher: CommandDispatcher;
  private readonly startedAt: number;
  private connectionNumber = 0;
  private probe: Promise<{ runtime: RuntimeFacts; hardware: StableHardwareFacts }> | undefined;
  private telemetryTimer: TimerHandle | undefined;

  constructor(
    private readonly config: AgentConfig,
    options: AgentOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? jsonLogger;
    this.startedAt = this.clock.now();
    mkdirSync(config.dataDir, { recursive: true });
    this.runner = options.runner ?? new OrtRunner(undefined, this.clock);
    this.models = new ModelStore(
      config.dataDir,
      config.modelQuotaBytes,
      childExpander(this.runner, {
        timeoutMs: config.runnerTimeoutMs,
        memoryLimitBytes: config.runnerMemoryLimitBytes,
      }),
    );
    this.deployment = new DeploymentStateStore(config.dataDir);
    this.outbox = new OutboxStore(config.dataDir);
    this.journal = new CommandJournalStore(config.dataDir);
    this.counter = new ConnectionCounterStore(config.dataDir);
    this.load = new SystemLoad(config.dataDir);
    this.connection = new MqttConnection(
      {
        brokerUrl: config.brokerUrl,
        clientId: config.deviceId,
        username: config.deviceId,
        ...(config.password !== undefined ? { password: config.password } : {}),
        keepaliveSec: config.keepaliveSec,
        reconnectMinMs: config.reconnectMinMs,
        reconnectMaxMs: config.reconnectMaxMs,
        clock: this.clock,
        willFor: () => {
          this.connectionNumber = this.counter.next();
          return {
            topic: topics.deviceState(config.deviceId),
            payload: this.statePayload(false).toString('utf8'),
            qos: 1,
            retain: true,
          };
        },
      },
      {
        onConnect: () => void this.onConnect(),
        onDisconnect: () => this.log.info('disconnected', { connection: this.connectionNumber }),
        onMessage: (topic, payload) => this.onMessage(topic, payload),
      },
    );
    this.flusher = new OutboxFlusher(this.outbox, this.connection);
    this.fetcher = new ArtifactFetcher(
      this.models,
      this.connection,
      config.trustedKeys,
      this.clock,
      config.fetchStallTimeoutMs,
      () => this.protectedShas(),
    );
    const services: AgentServices = {
      config,
      clock: this.clock,
      models: this.models,
      deployment: this.deployment,
      fetcher: this.fetcher,
      runner: this.runner,
      publishState: () => this.publishDirect('state', this.statePayload(true)),
      startedAt: this.startedAt,
    };
    this.dispatcher = new CommandDispatcher(
      services,
      this.journal,
      { send: (id, seq, body) => this.queueEvent(id, seq, body) },
      this.log,
    );
  }

  start(): void {
    this.probe = this.probeRuntime();
    this.connection.start();
    this.dispatcher.resumeUnfinished();
    if (this.config.telemetryIntervalMs > 0) {
      this.telemetryTimer = this.clock.setInterval(
        () => void this.sendTelemetry(),
        this.config.telemetryIntervalMs,
      );
    }
    this.log.info('agent started', {
      deviceId: this.config.deviceId,
      broker: this.config.brokerUrl,
    });
  }

  /** Graceful stop: publish offline ourselves (the broker drops the will on DISCONNECT). */
  async stop(): Promise<void> {
    this.telemetryTimer?.cancel();
    this.runner.killAll();
    this.fetcher.abortAll('agent stopping');
    if (this.connection.connected) {
      await this.connection
        .publish(topics.deviceState(this.config.deviceId), this.statePayload(false), 1, true)
        .catch(() => undefined);
    }
    await this.connection.stop(true);
    this.log.info('agent stopped', {});
  }

  private protectedShas(): Set<string> {
    const state = this.deployment.read();
    return new Set([state.active?.sha256, state.previous?.sha256].filter((s): s is string => !!s));
  }

  private activeVariant(): ActiveVariant | null {
    const active = this.deployment.read().active;
    if (!active) return null;
    return {
      artifactSha256: active.sha256,
      ...(active.variantId !== undefined ? { variantId: active.variantId } : {}),
    };
  }

  private statePayload(online: boolean): Buffer {
    return encodeMessage('state', {
      protocol: PROTOCOL_VERSION,
      kind: 'state',
      deviceId: this.config.deviceId,
      online,
      connection: this.connectionNumber,
      agentVersion: AGENT_VERSION,
      activeVariant: this.activeVariant(),
      sentAt: this.clock.now(),
    });
  }

  /** ORT version, providers and hardware facts, from one runner child at start. */
  private async probeRuntime(): Promise<{ runtime: RuntimeFacts; hardware: StableHardwareFacts }> {
    const node = process.versions.node;
    try {
      const probe = await this.runner.run<ProbeResult>(
        { kind: 'probe' },
        { timeoutMs: 60_000, memoryLimitBytes: this.config.runnerMemoryLimitBytes },
      );
      return {
        runtime: {
          node,
          ort: { version: probe.ortVersion, executionProviders: probe.executionProviders },
        },
        hardware: probe.hardware,
      };
    } catch (err) {
      this.log.warn('onnxruntime probe failed', { error: (err as Error).message });
      return {
        runtime: { node, ort: { version: 'unavailable', executionProviders: ['cpu'] } },
        hardware: fallbackStableFacts(),
      };
    }
  }

  private async onConnect(): Promise<void> {
    const mem = process.memoryUsage();
    this.log.info('connected', {
      connection: this.connectionNumber,
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
    });
    this.publishDirect('state', this.statePayload(true));
    await this.connection
      .subscribe([topics.deviceCmd(this.config.deviceId)])
      .catch(() => undefined);
    this.flusher.kick();
    try {
      const { runtime, hardware: stable } = await this.probe!;
      const memory = this.load.memory();
      const hardware = {
        ...stable,
        memory: { totalBytes: memory.totalBytes, freeBytes: memory.freeBytes },
        disk: this.load.disk(),
      };
      this.publishDirect(
        'hello',
        encodeMessage('hello', {
          protocol: PROTOCOL_VERSION,
          kind: 'hello',
          deviceId: this.config.deviceId,
          agentVersion: AGENT_VERSION,
          connection: this.connectionNumber,
          hardware,
          runtime,
          sentAt: this.clock.now(),
        }),
      );
    } catch (err) {
      this.log.warn('hello not sent', { error: (err as Error).message });
    }
  }

  private publishDirect(kind: 'state' | 'hello' | 'telemetry', payload: Buffer): void {
    if (!this.connection.connected) return;
    const { qos, retain } = TOPIC_DELIVERY[kind];
    this.connection
      .publish(topics.device(this.config.deviceId, kind), payload, qos, retain)
      .catch(() => undefined);
  }

  private queueEvent(commandId: string, seq: number, body: EventBody): void {
    const message = {
      ...body,
      protocol: PROTOCOL_VERSION,
      kind: 'event',
      deviceId: this.config.deviceId,
      commandId,
      seq,
      sentAt: this.clock.now(),
    } as EventMessage;
    this.outbox.enqueue({
      topic: topics.deviceEvents(this.config.deviceId),
      payload: encodeMessage('events', message).toString('utf8'),
      qos: 1,
      retain: false,
    });
    this.flusher.kick();
  }

  private onMessage(topic: string, payload: Buffer): void {
    const parsed = parseTopic(topic);
    if (!parsed.ok) return;
    const t = parsed.topic;
    if (t.kind === 'cmd') return this.dispatcher.receive(topic, payload);
    if (t.kind === 'manifest') return void this.fetcher.handleManifest(t.sha256, payload);
    if (t.kind === 'chunk') return void this.fetcher.handleChunk(t.sha256, t.index, payload);
  }

  private async sendTelemetry(): Promise<void> {
    if (!this.connection.connected) return;
    try {
      const memory = this.load.memory();
      const load = {
        cpuLoadPercent: this.load.cpuLoadPercent(),
        memory: { totalBytes: memory.totalBytes, usedBytes: memory.usedBytes },
        temperatureC: this.load.temperatureC(),
      };
      const runnerRss = this.runner.activePids().reduce((sum, pid) => sum + readRssBytes(pid), 0);
      this.publishDirect(
        'telemetry',
        encodeMessage('telemetry', {
          protocol: PROTOCOL_VERSION,
          kind: 'telemetry',
          deviceId: this.config.deviceId,
          sentAt: this.clock.now(),
          ...load,
          agentRssBytes: process.memoryUsage().rss + runnerRss,
          uptimeMs: Math.max(0, this.clock.now() - this.startedAt),
        }),
      );
    } catch (err) {
      this.log.warn('telemetry failed', { error: (err as Error).message });
    }
  }

  /** Test hook: resolves when queued commands are done. */
  idle(): Promise<void> {
    return this.dispatcher.idle();
  }
}
