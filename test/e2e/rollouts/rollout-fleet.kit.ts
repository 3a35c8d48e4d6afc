/**
 * A fleet for rollout tests: devices provisioned in a control plane (in-process or a separate
 * process), each with a real agent process on the control plane's broker, plus the REST calls
 * the tests repeat and the fixture models they roll out.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import request from 'supertest';
import { ServerProcessHarness } from '@edgecompress/testing';
import { createApiToken } from '../../../apps/control-plane/src/main';
import { spawnAgent, waitUntil, type AgentProcess } from '../agent/agent-test-kit';

export interface FleetEndpoint {
  httpUrl: string;
  mqttUrl: string;
  auth: { Authorization: string };
  /** Where the agents keep their data. */
  dir: string;
}

export interface Fleet {
  endpoint: FleetEndpoint;
  agents: Map<string, AgentProcess>;
  api(): ReturnType<typeof request>;
  startAgent(deviceId: string): Promise<AgentProcess>;
  /** The variant the agent itself says is active (its deployment file). */
  agentActive(deviceId: string): { active: string | null; previous: string | null };
  stopAgents(): Promise<void>;
}

export async function provisionFleet(
  endpoint: FleetEndpoint,
  devices: { id: string; groups?: string[] }[],
): Promise<Fleet> {
  const api = () => request(endpoint.httpUrl);
  const key = await api().get('/api/v1/signing-key').set(endpoint.auth);
  const passwords = new Map<string, string>();
  for (const d of devices) {
    const res = await api()
      .post('/api/v1/devices')
      .set(endpoint.auth)
      .send({ id: d.id, name: d.id, groups: d.groups ?? [] });
    if (res.status !== 201) throw new Error(`provision ${d.id}: ${res.status} ${res.text}`);
    passwords.set(d.id, res.body.mqtt.password as string);
  }
  const agents = new Map<string, AgentProcess>();
  const dataDir = (id: string) => join(endpoint.dir, 'agents', id);
  const startAgent = async (deviceId: string) => {
    mkdirSync(dataDir(deviceId), { recursive: true });
    const agent = spawnAgent({
      deviceId,
      brokerUrl: endpoint.mqttUrl,
      dataDir: dataDir(deviceId),
      trustedKeyPem: key.body.publicKeyPem as string,
      extra: { password: passwords.get(deviceId), runnerGraceMs: 10_000 },
    });
    agents.set(deviceId, agent);
    await waitUntil(
      async () =>
        (await api().get(`/api/v1/devices/${deviceId}`).set(endpoint.auth)).body.status ===
        'online',
      30_000,
      `${deviceId} online`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${agent.output()}`);
    });
    return agent;
  };
  await Promise.all(devices.map((d) => startAgent(d.id)));
  return {
    endpoint,
    agents,
    api,
    startAgent,
    agentActive: (deviceId) => {
      const file = join(dataDir(deviceId), 'deployment.json');
      if (!existsSync(file)) return { active: null, previous: null };
      const state = JSON.parse(readFileSync(file, 'utf8')) as {
        active: { sha256: string } | null;
        previous: { sha256: string } | null;
      };
      return { active: state.active?.sha256 ?? null, previous: state.previous?.sha256 ?? null };
    },
    stopAgents: async () => {
      await Promise.all([...agents.values()].map((a) => a.stop()));
    },
  };
}

/**
 * `edgec server` as a child process (so a test can kill it with SIGKILL and start it again on
 * the same data dir and ports) with an operator token, and real agents provisioned on it. The
 * server is stopped again if provisioning fails, so the caller only cleans up what it got.
 */
export async function startServerProcessFleet(
  root: string,
  tokenName: string,
  deviceIds: readonly string[],
): Promise<{ server: ServerProcessHarness; fleet: Fleet }> {
  const dataDir = join(root, 'cp');
  const { token } = createApiToken(dataDir, tokenName);
  const server = await ServerProcessHarness.create(dataDir);
  try {
    await server.start();
    const { httpUrl, mqttUrl } = server;
    const auth = { Authorization: `Bearer ${token}` };
    const fleet = await provisionFleet(
      { httpUrl, mqttUrl, auth, dir: root },
      deviceIds.map((id) => ({ id })),
    );
    return { server, fleet };
  } catch (err) {
    server.killAll();
    throw err;
  }
}

export interface Variant {
  variantId: string;
  sha256: string;
}

/** Uploads a model; its root variant is the one returned. */
export async function uploadModel(
  fleet: Fleet,
  name: string,
  bytes: Buffer,
): Promise<Variant & { modelId: string }> {
  const res = await fleet
    .api()
    .post(`/api/v1/models?name=${encodeURIComponent(name)}&format=onnx`)
    .set(fleet.endpoint.auth)
    .set('Content-Type', 'application/octet-stream')
    .send(bytes);
  if (res.status !== 201) throw new Error(`upload ${name}: ${res.status} ${res.text}`);
  const v = res.body.variants[0] as { id: string; artifactSha256: string };
  return { modelId: res.body.id as string, variantId: v.id, sha256: v.artifactSha256 };
}

export async function createRollout(fleet: Fleet, body: Record<string, unknown>) {
  const res = await fleet.api().post('/api/v1/rollouts').set(fleet.endpoint.auth).send(body);
  if (res.status !== 201) throw new Error(`create rollout: ${res.status} ${res.text}`);
  return res.body as RolloutBody;
}

export interface RolloutBody {
  id: string;
  state: string;
  reason: string | null;
  waves: { index: number; label: string; percent: number; deviceIds: string[]; state: string }[];
  targets: {
    deviceId: string;
    wave: number;
    step: string;
    p50Ms: number | null;
    p99Ms: number | null;
    previousP50Ms: number | null;
    agreement: number | null;
    error: string | null;
  }[];
}

export async function getRollout(fleet: Fleet, id: string): Promise<RolloutBody> {
  const res = await fleet.api().get(`/api/v1/rollouts/${id}`).set(fleet.endpoint.auth);
  if (res.status !== 200) throw new Error(`get rollout: ${res.status} ${res.text}`);
  return res.body as RolloutBody;
}

/** Polls the rollout until `done` holds; the error names the last view seen. */
export async function waitForRollout(
  fleet: Fleet,
  id: string,
  done: (r: RolloutBody) => boolean,
  timeoutMs: number,
  what: string,
): Promise<RolloutBody> {
  let last: RolloutBody | undefined;
  await waitUntil(
    async () => {
      last = await getRollout(fleet, id).catch(() => last);
      return last !== undefined && done(last);
    },
    timeoutMs,
    what,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last view: ${JSON.stringify(last)}`);
  });
  return last!;
}

/** Commands the control plane sent to a device, oldest first. */
export async function commandsOf(fleet: Fleet, deviceId: string) {
  const res = await fleet
    .api()
    .get(`/api/v1/commands?deviceId=${deviceId}&limit=1000`)
    .set(fleet.endpoint.auth);
  return (
    res.body as {
      id: string;
      type: string;
      status: string;
      createdAt: string;
      completedAt: string | null;
      command: { artifact?: { sha256: string }; to?: { sha256: string } };
    }[]
  ).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

/** The same weights under another doc string: a distinct artifact with identical outputs. */
export function renamedCopy(model: Buffer, tag: string): Buffer {
  const proto = onnx.ModelProto.decode(model);
  proto.docString = `copy ${tag}`;
  return Buffer.from(onnx.ModelProto.encode(proto).finish());
}

/**
 * The MLP with its output classes rotated by one (w2's and b2's columns shifted), so its
 * argmax is always the original's plus one: agreement with the original is exactly 0.
 */
export function rotatedClasses(model: Buffer): Buffer {
  const proto = onnx.ModelProto.decode(model);
  for (const init of proto.graph!.initializer!) {
    if (init.name !== 'w2' && init.name !== 'b2') continue;
    const dims = init.dims!.map(Number);
    const classes = dims[dims.length - 1]!;
    const rows = dims.length === 2 ? dims[0]! : 1;
    const raw = init.rawData!;
    const src = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const out = new Float32Array(src.length);
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < classes; c++)
        out[r * classes + ((c + 1) % classes)] = src[r * classes + c]!;
    init.rawData = new Uint8Array(out.buffer);
  }
  return Buffer.from(onnx.ModelProto.encode(proto).finish());
}
