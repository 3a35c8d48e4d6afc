/**
 * Agent configuration: a JSON file (optional), then environment variables, then explicit
 * overrides (CLI flags), validated once at start. Every problem is listed in one error, so a
 * device with a broken config says everything that is wrong at once.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEVICE_ID_PATTERN } from '@edgecompress/protocol';
import { z } from 'zod';

const MiB = 1024 * 1024;

const deviceIdSchema = z
  .string()
  .regex(DEVICE_ID_PATTERN, 'must be 1-64 letters, digits, _ . - (no / + # or spaces)');

export const agentSettingsSchema = z.object({
  /** Required unless the device enrolls itself (then it is the id asked for, or issued). */
  deviceId: deviceIdSchema.optional(),
  /** MQTT password issued at provisioning; anonymous when absent (development brokers). */
  password: z.string().min(1).optional(),
  /** Fleet enrollment token: used once, on the first start without credentials. */
  enrollmentToken: z.string().min(10).max(200).optional(),
  /** Control plane REST base URL, for enrollment and HTTP artifact downloads. */
  controlPlaneUrl: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be a URL like http://host:8080')
    .optional(),
  /** Bearer token for artifact downloads from the control plane (HTTP fallback). */
  controlPlaneToken: z.string().min(1).optional(),
  /**
   * Artifacts at least this large are downloaded over HTTP when the command names a variant:
   * one request instead of a QoS 1 publish per 64 KiB chunk through the broker (a 1 MB model to
   * 1,000 devices: 34 s over HTTP, 208-239 s as chunks; docs/benchmarks.md, Fleet).
   */
  httpDownloadMinBytes: z
    .int()
    .positive()
    .default(256 * 1024),
  /** Name the device enrolls under (its id when absent). */
  deviceName: z.string().min(1).max(200).optional(),
  brokerUrl: z
    .string()
    .regex(
      /^(mqtt|mqtts|tcp|ssl|ws|wss):\/\/[^\s/]+(:\d+)?(\/.*)?$/,
      'must be a URL like mqtt://host:1883',
    ),
  dataDir: z.string().min(1),
  /**
   * ed25519 public keys (PEM) whose manifest signatures are trusted. Optional for a device that
   * enrolls: the control plane's key then comes with its credentials (a configured key wins).
   */
  trustedKeys: z
    .array(z.string().includes('PUBLIC KEY', { message: 'must be a PEM public key' }))
    .min(1)
    .optional(),
  modelQuotaBytes: z
    .int()
    .positive()
    .default(1024 * MiB),
  runnerTimeoutMs: z
    .int()
    .positive()
    .default(10 * 60_000),
  /** Extra time a benchmark with a time budget gets for loading and warm-up. */
  runnerGraceMs: z.int().positive().default(60_000),
  runnerMemoryLimitBytes: z
    .int()
    .positive()
    .default(2048 * MiB),
  /** No new chunk for this long: the fetch fails (chunks already received are kept). */
  fetchStallTimeoutMs: z.int().positive().default(120_000),
  keepaliveSec: z.int().min(1).max(3600).default(30),
  telemetryIntervalMs: z.int().min(0).default(60_000),
  reconnectMinMs: z.int().positive().default(1000),
  reconnectMaxMs: z.int().positive().default(60_000),
});

/** What the config sources say; `deviceId` may still be missing before enrollment. */
export type AgentSettings = z.infer<typeof agentSettingsSchema>;
export type AgentConfigInput = z.input<typeof agentSettingsSchema>;
/**
 * The configuration the agent runs with: identity and trusted keys settled (configured, stored
 * or enrolled).
 */
export type AgentConfig = AgentSettings & { deviceId: string; trustedKeys: string[] };

export class AgentConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid agent configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'AgentConfigError';
  }
}

/** Environment variables the agent reads (documented in docs/agent.md). */
export const CONFIG_ENV = {
  file: 'EC_AGENT_CONFIG',
  deviceId: 'EC_DEVICE_ID',
  password: 'EC_DEVICE_PASSWORD',
  brokerUrl: 'EC_BROKER_URL',
  dataDir: 'EC_DATA_DIR',
  trustedKey: 'EC_TRUSTED_KEY',
  enrollmentToken: 'EC_ENROLLMENT_TOKEN',
  controlPlaneUrl: 'EC_CONTROL_PLANE_URL',
  controlPlaneToken: 'EC_CONTROL_PLANE_TOKEN',
  deviceName: 'EC_DEVICE_NAME',
} as const;

/** A PEM given inline, or a path to a file holding one. */
function readKey(value: string, problems: string[]): string {
  if (value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value, 'utf8');
  } catch (err) {
    problems.push(
      `trustedKeys: cannot read ${value}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
    return value;
  }
}

export interface LoadConfigOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  overrides?: Partial<Record<keyof AgentConfigInput, unknown>>;
  /** No enrollment: `deviceId` and `trustedKeys` must be configured (listed with the rest). */
  requireConfiguredIdentity?: boolean;
}

/**
 * Reads and validates every source. Identity may be incomplete here (an enrolling device has no
 * credentials yet): `resolveIdentity` in enrollment.ts settles it before the agent starts.
 */
export function loadAgentSettings(options: LoadConfigOptions = {}): AgentSettings {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  let fromFile: Record<string, unknown> = {};
  const file = options.file ?? env[CONFIG_ENV.file];
  if (file) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        problems.push(`${file}: must hold a JSON object`);
      } else fromFile = parsed as Record<string, unknown>;
    } catch (err) {
      problems.push(
        `${file}: ${err instanceof SyntaxError ? 'not valid JSON' : (err as Error).message}`,
      );
    }
  }
  const fromEnv: Record<string, unknown> = {};
  if (env[CONFIG_ENV.deviceId]) fromEnv.deviceId = env[CONFIG_ENV.deviceId];
  if (env[CONFIG_ENV.password]) fromEnv.password = env[CONFIG_ENV.password];
  if (env[CONFIG_ENV.brokerUrl]) fromEnv.brokerUrl = env[CONFIG_ENV.brokerUrl];
  if (env[CONFIG_ENV.dataDir]) fromEnv.dataDir = env[CONFIG_ENV.dataDir];
  if (env[CONFIG_ENV.trustedKey]) fromEnv.trustedKeys = [env[CONFIG_ENV.trustedKey]];
  if (env[CONFIG_ENV.enrollmentToken]) fromEnv.enrollmentToken = env[CONFIG_ENV.enrollmentToken];
  if (env[CONFIG_ENV.controlPlaneUrl]) fromEnv.controlPlaneUrl = env[CONFIG_ENV.controlPlaneUrl];
  if (env[CONFIG_ENV.controlPlaneToken])
    fromEnv.controlPlaneToken = env[CONFIG_ENV.controlPlaneToken];
  if (env[CONFIG_ENV.deviceName]) fromEnv.deviceName = env[CONFIG_ENV.deviceName];
  const overrides = Object.fromEntries(
    Object.entries(options.overrides ?? {}).filter(([, v]) => v !== undefined),
  );
  const merged: Record<string, unknown> = { ...fromFile, ...fromEnv, ...overrides };
  if (Array.isArray(merged.trustedKeys)) {
    merged.trustedKeys = merged.trustedKeys.map((k) =>
      typeof k === 'string' ? readKey(k, problems) : k,
    );
  }
  const parsed = agentSettingsSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = issue.path.map(String).join('.') || '(config)';
      problems.push(`${field}: ${issue.message}`);
    }
  }
  if (options.requireConfiguredIdentity) {
    if (merged.deviceId === undefined) problems.push('deviceId: required');
    if (merged.trustedKeys === undefined) problems.push('trustedKeys: required');
  }
  if (problems.length > 0 || !parsed.success) throw new AgentConfigError(problems);
  const config = parsed.data;
  const crossField: string[] = [];
  if (config.reconnectMaxMs < config.reconnectMinMs) {
    crossField.push('reconnectMaxMs: must not be below reconnectMinMs');
  }
  if (config.enrollmentToken && !config.controlPlaneUrl) {
    crossField.push('controlPlaneUrl: required to enroll with enrollmentToken');
  }
  if (crossField.length > 0) throw new AgentConfigError(crossField);
  return { ...config, dataDir: resolve(config.dataDir) };
}

/** Settings of a device whose identity and trusted keys are configured (no enrollment). */
export function loadAgentConfig(options: LoadConfigOptions = {}): AgentConfig {
  const settings = loadAgentSettings({ ...options, requireConfiguredIdentity: true });
  return { ...settings, deviceId: settings.deviceId!, trustedKeys: settings.trustedKeys! };
}
