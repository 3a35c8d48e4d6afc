/**
 * Settles who the device is before it connects: credentials from the config win; else the ones
 * stored when it enrolled; else, with a fleet enrollment token, it enrolls now
 * (`POST {controlPlaneUrl}/api/v1/enroll`) and stores what it was issued (atomically, 0600)
 * before using it, so a later start never enrolls twice. An unreachable control plane is
 * retried with backoff; a refusal (bad or used-up token, id taken) is final and says why.
 *
 * Trusted manifest keys settle here too: configured `trustedKeys` win; else the control plane's
 * signing key that came with the enrolled credentials and was stored beside them.
 */
import { createPublicKey } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { DEVICE_ID_PATTERN } from '@edgecompress/protocol';
import type { Clock } from '../clock';
import { reconnectDelayMs } from '../connection/reconnect-backoff';
import { CredentialsStore } from '../store/credentials-store';
import { AgentConfigError, type AgentConfig, type AgentSettings } from './agent-config';

export interface IdentityLogger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface IdentityOptions {
  clock: Clock;
  log: IdentityLogger;
  /** Gives up after this many failed attempts at reaching the control plane (default: never). */
  maxAttempts?: number;
  requestTimeoutMs?: number;
  /** Ends the retry loop early (agent asked to stop). */
  signal?: AbortSignal;
}

/** The control plane refused or answered nonsense: retrying the same request cannot help. */
export class EnrollmentRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnrollmentRefusedError';
  }
}

/** An ed25519 public key in PEM, as the control plane's signing-key answer carries it. */
const ed25519PublicKeyPem = z.string().refine((pem) => {
  try {
    return createPublicKey(pem).asymmetricKeyType === 'ed25519';
  } catch {
    return false;
  }
}, 'must be an ed25519 public key in PEM');

const enrollResponseSchema = z.object({
  device: z.object({ id: z.string().regex(DEVICE_ID_PATTERN) }),
  mqtt: z.object({ username: z.string().regex(DEVICE_ID_PATTERN), password: z.string().min(1) }),
  /** Absent from control planes that predate it; the agent then needs configured trustedKeys. */
  signingKey: z.object({ publicKeyPem: ed25519PublicKeyPem }).optional(),
});

interface IssuedIdentity {
  deviceId: string;
  password: string;
  signingKeyPem?: string;
}

const NO_TRUSTED_KEY =
  'trustedKeys: required (the control plane sends its signing key when a device enrolls; configure it otherwise)';

/** Configured keys win; else the one stored with the enrolled credentials. */
function settleTrustedKeys(settings: AgentSettings, storedKey: string | undefined): string[] {
  if (settings.trustedKeys) return settings.trustedKeys;
  if (storedKey) return [storedKey];
  throw new AgentConfigError([NO_TRUSTED_KEY]);
}

/** Largest enrollment answer read: a credentials document is a few hundred bytes. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export async function resolveIdentity(
  settings: AgentSettings,
  options: IdentityOptions,
): Promise<AgentConfig> {
  if (settings.deviceId && settings.password) {
    return {
      ...settings,
      deviceId: settings.deviceId,
      trustedKeys: settleTrustedKeys(settings, undefined),
    };
  }
  const store = new CredentialsStore(settings.dataDir);
  let stored;
  try {
    stored = store.read();
  } catch (err) {
    throw new AgentConfigError([`${(err as Error).message} (delete it to enroll again)`]);
  }
  if (stored) {
    if (settings.deviceId && settings.deviceId !== stored.deviceId) {
      throw new AgentConfigError([
        `deviceId: configured "${settings.deviceId}" but ${store.path} holds credentials of "${stored.deviceId}"`,
      ]);
    }
    return {
      ...settings,
      deviceId: stored.deviceId,
      password: stored.password,
      trustedKeys: settleTrustedKeys(settings, stored.trustedKey),
    };
  }
  if (!settings.enrollmentToken) {
    const problems: string[] = [];
    if (!settings.deviceId)
      problems.push('deviceId: required (or an enrollmentToken to enroll with)');
    if (!settings.trustedKeys) problems.push(NO_TRUSTED_KEY);
    if (problems.length > 0) throw new AgentConfigError(problems);
    return { ...settings, deviceId: settings.deviceId!, trustedKeys: settings.trustedKeys! };
  }
  const issued = await enrollWithRetry(settings, options);
  // Stored even without a usable key: the token use is spent, and a key configured later
  // completes the setup without enrolling again.
  store.write({
    deviceId: issued.deviceId,
    password: issued.password,
    enrolledAt: new Date(options.clock.now()).toISOString(),
    controlPlaneUrl: settings.controlPlaneUrl!,
    ...(issued.signingKeyPem ? { trustedKey: issued.signingKeyPem } : {}),
  });
  options.log.info('enrolled', {
    deviceId: issued.deviceId,
    credentials: store.path,
    trustedKey: settings.trustedKeys
      ? 'configured'
      : issued.signingKeyPem
        ? 'from enrollment'
        : 'none',
  });
  return {
    ...settings,
    deviceId: issued.deviceId,
    password: issued.password,
    trustedKeys: settleTrustedKeys(settings, issued.signingKeyPem),
  };
}

async function enrollWithRetry(
  settings: AgentSettings,
  options: IdentityOptions,
): Promise<IssuedIdentity> {
  const maxAttempts = options.maxAttempts ?? Infinity;
  for (let attempt = 0; ; attempt++) {
    try {
      return await enrollOnce(settings, options);
    } catch (err) {
      if (err instanceof EnrollmentRefusedError) throw err;
      if (attempt + 1 >= maxAttempts || options.signal?.aborted) {
        throw new Error(
          `enrollment failed after ${attempt + 1} attempts: ${(err as Error).message}`,
        );
      }
      const waitMs = reconnectDelayMs(attempt, {
        minMs: settings.reconnectMinMs,
        maxMs: settings.reconnectMaxMs,
      });
      options.log.warn('enrollment failed, retrying', {
        error: (err as Error).message,
        attempt: attempt + 1,
        retryInMs: waitMs,
      });
      await new Promise<void>((resolve) => {
        const timer = options.clock.setTimeout(resolve, waitMs);
        options.signal?.addEventListener('abort', () => {
          timer.cancel();
          resolve();
        });
      });
    }
  }
}

async function enrollOnce(
  settings: AgentSettings,
  options: IdentityOptions,
): Promise<IssuedIdentity> {
  const url = `${settings.controlPlaneUrl!.replace(/\/+$/, '')}/api/v1/enroll`;
  const body: Record<string, string> = {
    enrollmentToken: settings.enrollmentToken!,
    name: settings.deviceName ?? settings.deviceId ?? hostname(),
  };
  if (settings.deviceId) body.id = settings.deviceId;
  const abort = new AbortController();
  const timer = options.clock.setTimeout(
    () => abort.abort(new Error('no answer in time')),
    options.requestTimeoutMs ?? 15_000,
  );
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: abort.signal,
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
  } finally {
    timer.cancel();
  }
  if (status >= 500 || status === 429) throw new Error(`${url} answered ${status}`);
  if (text.length > MAX_RESPONSE_BYTES) {
    throw new EnrollmentRefusedError(`${url} answered ${text.length} bytes; expected credentials`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EnrollmentRefusedError(`${url} answered ${status} with a body that is not JSON`);
  }
  if (status !== 201 && status !== 200) {
    const message = (json as { message?: unknown } | null)?.message;
    throw new EnrollmentRefusedError(
      `enrollment refused (${status}): ${Array.isArray(message) ? message.join('; ') : String(message ?? text)}`,
    );
  }
  const parsed = enrollResponseSchema.safeParse(json);
  if (!parsed.success) {
    const badKey = parsed.error.issues.every((issue) => issue.path[0] === 'signingKey');
    throw new EnrollmentRefusedError(
      badKey
        ? `${url} answered with a signing key that is not an ed25519 public key in PEM`
        : `${url} answered without usable MQTT credentials`,
    );
  }
  if (parsed.data.mqtt.username !== parsed.data.device.id) {
    throw new EnrollmentRefusedError(
      `${url} issued username "${parsed.data.mqtt.username}" for device "${parsed.data.device.id}"`,
    );
  }
  return {
    deviceId: parsed.data.device.id,
    password: parsed.data.mqtt.password,
    signingKeyPem: parsed.data.signingKey?.publicKeyPem,
  };
}
