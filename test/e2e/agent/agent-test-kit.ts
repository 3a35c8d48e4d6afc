/**
 * Test kit for the agent's cross-process tests: real brokers (aedes in-process, mosquitto as a
 * process), real agent processes, and a stand-in control plane that is a plain MQTT client
 * signing manifests with the protocol lib.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import {
  buildManifest,
  decodeMessage,
  generateSigningKeyPair,
  PROTOCOL_VERSION,
  signManifest,
  splitIntoChunks,
  topics,
  type EventMessage,
  type HelloMessage,
  type StateMessage,
} from '@edgecompress/protocol';

const ROOT = join(__dirname, '../../..');
const AGENT_ENTRY = join(ROOT, 'apps/agent/src/bin.ts');

export function tempDir(prefix = 'ec-agent-e2e-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export interface Broker {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startAedes(port = 0): Promise<Broker> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${actual}`,
    port: actual,
    stop: async () => {
      await new Promise<void>((r) => broker.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** mosquitto with persistence in `dir`, so a restart keeps sessions and retained messages. */
export async function startMosquitto(dir: string, port?: number): Promise<Broker> {
  const p = port ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${p} 127.0.0.1`,
      'allow_anonymous true',
      // Stay root when started as root: the persistence file lives in the test's temp dir.
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'persistence true',
      `persistence_location ${dir}/`,
      process.env.EC_MOSQ_LOG
        ? 'log_dest file ' + dir + '/mosq.log\nlog_type all'
        : 'log_dest none',
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitUntil(async () => {
    try {
      const c = await connect(`mqtt://127.0.0.1:${p}`, `probe-${Math.random()}`);
      await new Promise<void>((r) => c.end(true, {}, () => r()));
      return true;
    } catch {
      return false;
    }
  }, 5000);
  return {
    url: `mqtt://127.0.0.1:${p}`,
    port: p,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

export function connect(url: string, clientId: string, clean = true): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      clientId,
      reconnectPeriod: 0,
      connectTimeout: 3000,
      clean,
    });
    client.once('connect', () => resolve(client));
    client.once('error', (e) => {
      client.end(true);
      reject(e);
    });
    client.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface AgentProcess {
  proc: ChildProcess;
  output(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  kill9(): Promise<void>;
  runnerPids(): number[];
}

export interface AgentLaunch {
  deviceId: string;
  brokerUrl: string;
  dataDir: string;
  trustedKeyPem: string;
  extra?: Record<string, unknown>;
  /** Command to run instead of the repository entry (the built binary). */
  command?: { file: string; args: string[] };
}

export function spawnAgent(launch: AgentLaunch): AgentProcess {
  const configPath = join(launch.dataDir, '..', `${launch.deviceId}-agent.json`);
  writeFileSync(
    configPath,
    JSON.stringify({
      deviceId: launch.deviceId,
      brokerUrl: launch.brokerUrl,
      dataDir: launch.dataDir,
      trustedKeys: [launch.trustedKeyPem],
      keepaliveSec: 5,
      reconnectMinMs: 200,
      reconnectMaxMs: 1000,
      telemetryIntervalMs: 0,
      ...launch.extra,
    }),
  );
  const command = launch.command ?? {
    file: process.execPath,
    args: ['-r', require.resolve('@swc-node/register'), AGENT_ENTRY],
  };
  const proc = spawn(command.file, [...command.args, '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      for (const pid of childPids(proc.pid!)) process.kill(pid, 'SIGKILL');
      proc.kill('SIGKILL');
      await exited;
    },
    runnerPids: () => childPids(proc.pid!),
  };
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    return [];
  }
}

/** Chunks of `bytes` already in place in the agent's partial file of `sha` (the store's layout). */
export function receivedChunks(
  dataDir: string,
  sha: string,
  bytes: Buffer,
  chunkSize: number,
): number {
  let part: Buffer;
  try {
    part = readFileSync(join(dataDir, 'incoming', `${sha}.part`));
  } catch {
    return 0;
  }
  let count = 0;
  for (let i = 0; i * chunkSize < bytes.length; i++) {
    const want = bytes.subarray(i * chunkSize, (i + 1) * chunkSize);
    if (part.subarray(i * chunkSize, i * chunkSize + want.length).equals(want)) count++;
  }
  return count;
}

export interface PublishOptions {
  chunkSize?: number;
  /** Chunk indices not published at all. */
  skip?: number[];
  /** Chunk indices published with one byte flipped. */
  corrupt?: number[];
  /** Publish chunks in reverse order, and every chunk twice. */
  shuffleAndDuplicate?: boolean;
  /** Sign with this key instead of the trusted one. */
  signingKeyPem?: string;
  /** Tamper with the signed manifest's size after signing. */
  tamper?: boolean;
  contentType?: 'application/onnx' | 'application/vnd.edgecompress.sample';
}

/** The control plane's role in tests: sign and publish artifacts, send commands, collect events. */
export class FakeControlPlane {
  readonly keys = generateSigningKeyPair();
  readonly events: EventMessage[] = [];
  readonly states: StateMessage[] = [];
  readonly hellos: HelloMessage[] = [];
  readonly invalid: string[] = [];

  private constructor(
    readonly client: MqttClient,
    readonly deviceId: string,
  ) {
    client.on('message', (topic, payload) => {
      const decoded = decodeMessage(topic, payload);
      if (!decoded.ok) {
        if (payload.length > 0)
          this.invalid.push(`${topic}: ${decoded.error.code} ${decoded.error.message}`);
        return;
      }
      const v = decoded.value;
      if (v.kind === 'events') this.events.push(v.message);
      if (v.kind === 'state') this.states.push(v.message);
      if (v.kind === 'hello') this.hellos.push(v.message);
    });
  }

  /** `persistentId`: a persistent session, so the broker queues events while the test is away. */
  static async connect(
    url: string,
    deviceId: string,
    persistentId?: string,
  ): Promise<FakeControlPlane> {
    const clientId =
      persistentId ?? `cp-${deviceId}-${process.pid}-${Math.random().toString(16).slice(2)}`;
    const client = await connect(url, clientId, persistentId === undefined);
    await client.subscribeAsync(`ec/v1/devices/${deviceId}/#`, { qos: 1 });
    return new FakeControlPlane(client, deviceId);
  }

  async publishArtifact(bytes: Buffer, options: PublishOptions = {}): Promise<string> {
    const chunkSize = options.chunkSize ?? 4096;
    const unsigned = buildManifest(bytes, {
      contentType: options.contentType ?? 'application/onnx',
      createdAt: Date.now(),
      chunkSize,
    });
    let manifest = signManifest(unsigned, options.signingKeyPem ?? this.keys.privateKeyPem);
    if (options.tamper) manifest = { ...manifest, name: 'tampered.onnx' };
    const sha = manifest.sha256;
    const chunks = splitIntoChunks(bytes, chunkSize).map((c, i) => ({ i, c: Buffer.from(c) }));
    let order = chunks.filter(({ i }) => !options.skip?.includes(i));
    if (options.shuffleAndDuplicate) order = [...order.reverse(), ...order];
    for (const { i, c } of order) {
      const payload = options.corrupt?.includes(i)
        ? Buffer.concat([c.subarray(0, c.length - 1), Buffer.from([c[c.length - 1]! ^ 0xff])])
        : c;
      await this.client.publishAsync(topics.artifactChunk(sha, i), payload, {
        qos: 1,
        retain: true,
      });
    }
    await this.client.publishAsync(topics.artifactManifest(sha), JSON.stringify(manifest), {
      qos: 1,
      retain: true,
    });
    return sha;
  }

  async publishChunk(bytes: Buffer, sha: string, index: number, chunkSize = 4096): Promise<void> {
    const c = bytes.subarray(index * chunkSize, (index + 1) * chunkSize);
    await this.client.publishAsync(topics.artifactChunk(sha, index), c, { qos: 1, retain: true });
  }

  async send(command: Record<string, unknown>): Promise<string> {
    const id =
      (command.id as string | undefined) ?? `cmd-${Math.random().toString(16).slice(2, 10)}`;
    const full = {
      protocol: PROTOCOL_VERSION,
      kind: 'cmd',
      id,
      issuedAt: Date.now(),
      deadline: Date.now() + 3_600_000,
      ...command,
    };
    await this.client.publishAsync(topics.deviceCmd(this.deviceId), JSON.stringify(full), {
      qos: 1,
    });
    return id;
  }

  async sendRaw(payload: string | Buffer): Promise<void> {
    await this.client.publishAsync(topics.deviceCmd(this.deviceId), payload, { qos: 1 });
  }

  eventsFor(commandId: string): EventMessage[] {
    return this.events.filter((e) => e.commandId === commandId);
  }

  /** Final event (anything but ack/progress) of a command, waiting for it. */
  async final(commandId: string, timeoutMs = 30_000): Promise<EventMessage> {
    await waitUntil(
      () => this.finals(commandId).length > 0,
      timeoutMs,
      `final event of ${commandId}`,
    );
    return this.finals(commandId)[0]!;
  }

  finals(commandId: string): EventMessage[] {
    return this.eventsFor(commandId).filter((e) => e.type !== 'ack' && e.type !== 'progress');
  }

  lastState(): StateMessage | undefined {
    return this.states[this.states.length - 1];
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.client.end(true, {}, () => r()));
  }
}
