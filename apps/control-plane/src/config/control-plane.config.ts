import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_CHUNK_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from '@edgecompress/protocol';
import { z } from 'zod';

/**
 * Every setting comes from the environment (EC_*), is validated once at start and then passed
 * around as one typed, frozen object. A bad environment fails with every problem listed at once.
 */
const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === '' ? undefined : v));

const envSchema = z.object({
  EC_DATA_DIR: z.string().min(1).default('./data'),
  EC_HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  EC_HTTP_PORT: port.default(8080),
  EC_MQTT_MODE: z.enum(['embedded', 'external']).default('embedded'),
  EC_MQTT_HOST: z.string().min(1).default('127.0.0.1'),
  EC_MQTT_PORT: port.default(1883),
  EC_MQTT_WS_PORT: port.optional(),
  EC_MQTT_URL: optionalString.pipe(z.url().optional()),
  EC_MQTT_USERNAME: optionalString,
  EC_MQTT_PASSWORD: optionalString,
  EC_MOSQUITTO_DIR: optionalString,
  EC_MQTT_INGEST_CONNECTIONS: positiveInt.max(64).default(4),
  EC_PROFILES_DIR: z.string().min(1).default('./device-profiles'),
  EC_MAX_UPLOAD_BYTES: positiveInt.default(512 * 1024 * 1024),
  EC_TELEMETRY_KEEP_PER_DEVICE: positiveInt.default(1000),
  EC_COMMAND_RETRY_MS: positiveInt.default(5000),
  EC_COMMAND_TTL_MS: positiveInt.default(15 * 60 * 1000),
  EC_CHUNK_BYTES: positiveInt
    .min(MIN_CHUNK_BYTES)
    .max(MAX_CHUNK_BYTES)
    .default(DEFAULT_CHUNK_BYTES),
  EC_JOB_CONCURRENCY: z.preprocess((v) => (v === '' ? undefined : v), positiveInt.optional()),
  EC_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
});

export interface ControlPlaneConfig {
  readonly dataDir: string;
  readonly http: { readonly host: string; readonly port: number };
  readonly mqtt: {
    readonly mode: 'embedded' | 'external';
    /** Embedded broker listener. */
    readonly host: string;
    readonly port: number;
    readonly wsPort?: number;
    /** External broker; the control plane's own credentials there. */
    readonly url?: string;
    readonly username?: string;
    readonly password?: string;
    /** Where to keep mosquitto's password and ACL files current, if mosquitto is the broker. */
    readonly mosquittoDir?: string;
    /** External broker: connections sharing the device subscriptions (MQTT 5 shared subscriptions when > 1). */
    readonly ingestConnections: number;
  };
  readonly profilesDir: string;
  readonly limits: {
    readonly maxUploadBytes: number;
    readonly telemetryKeepPerDevice: number;
  };
  readonly commands: { readonly retryMs: number; readonly ttlMs: number };
  readonly artifacts: { readonly chunkBytes: number };
  /** Compression jobs running at once: one per core by default, never more than the cores. */
  readonly jobs: { readonly concurrency: number };
  readonly logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
  // Cross-field rules are checked on the raw values so they are reported with the others.
  if (env.EC_MQTT_MODE === 'external' && !env.EC_MQTT_URL) {
    problems.push('EC_MQTT_URL: required when EC_MQTT_MODE=external');
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  const cores = Math.max(1, availableParallelism());
  return Object.freeze({
    dataDir: resolve(e.EC_DATA_DIR),
    http: { host: e.EC_HTTP_HOST, port: e.EC_HTTP_PORT },
    mqtt: {
      mode: e.EC_MQTT_MODE,
      host: e.EC_MQTT_HOST,
      port: e.EC_MQTT_PORT,
      wsPort: e.EC_MQTT_WS_PORT,
      url: e.EC_MQTT_URL,
      username: e.EC_MQTT_USERNAME,
      password: e.EC_MQTT_PASSWORD,
      mosquittoDir: e.EC_MOSQUITTO_DIR ? resolve(e.EC_MOSQUITTO_DIR) : undefined,
      ingestConnections: e.EC_MQTT_INGEST_CONNECTIONS,
    },
    profilesDir: resolve(e.EC_PROFILES_DIR),
    limits: {
      maxUploadBytes: e.EC_MAX_UPLOAD_BYTES,
      telemetryKeepPerDevice: e.EC_TELEMETRY_KEEP_PER_DEVICE,
    },
    commands: { retryMs: e.EC_COMMAND_RETRY_MS, ttlMs: e.EC_COMMAND_TTL_MS },
    artifacts: { chunkBytes: e.EC_CHUNK_BYTES },
    jobs: { concurrency: Math.min(cores, e.EC_JOB_CONCURRENCY ?? cores) },
    logLevel: e.EC_LOG_LEVEL,
  });
}

export const CONFIG = Symbol('ControlPlaneConfig');
