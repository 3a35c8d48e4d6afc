/**
 * Settles who the device is before it connects: credentials from the config win; else the ones
 * stored when it enrolled; else, with a fleet enrollment token, it enrolls now
 * (`POST {controlPlaneUrl}/api/v1/enroll`) and stores what it was issued (atomically, 0600)
 * before using it, so a later start never enrolls twice. An unreachable control plane is
 * retried with backoff; a refusal (bad or used-up token, id taken) is final and says why.
 */
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

const enrollResponseSchema = z.object({
  device: z.object({ id: z.string().regex(DEVICE_ID_PATTERN) }),
  mqtt: z.object({ username: z.string().regex(DEVICE_ID_PATTERN), password: z.string().min(1) }),
});

/** Largest enrollment answer read: a credentials document is a few hundred bytes. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export async function resolveIdentity(
  settings: AgentSettings,
  options: IdentityOptions,
): Promise<AgentConfig> {
  if (settings.deviceId && settings.password) return { ...settings, deviceId: settings.deviceId };
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
    return { ...settings, deviceId: stored.deviceId, password: stored.password };
  }
  if (!settings.enrollmentToken) {
    if (!settings.deviceId) {
      throw new AgentConfigError(['deviceId: required (or an enrollmentToken to enroll with)']);
    }
    return { ...settings, deviceId: settings.deviceId };
  }
  const issued = await enrollWithRetry(settings, options);
  store.write({
    deviceId: issued.deviceId,
    password: issued.password,
    enrolledAt: new Date(options.clock.now()).toISOString(),
    controlPlaneUrl: settings.controlPlaneUrl!,
  });
  options.log.info('enrolled', { deviceId: issued.deviceId, credentials: store.path });
  return { ...settings, deviceId: issued.deviceId, password: issued.password };
}

async function enrollWithRetry(
  settings: AgentSettings,
  options: IdentityOptions,
): Promise<{ deviceId: string; password: string }> {
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
): Promise<{ deviceId: string; password: string }> {
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
    throw new EnrollmentRefusedError(`${url} answered without usable MQTT credentials`);
  }
  if (parsed.data.mqtt.username !== parsed.data.device.id) {
    throw new EnrollmentRefusedError(
      `${url} issued username "${parsed.data.mqtt.username}" for device "${parsed.data.device.id}"`,
    );
  }
  return { deviceId: parsed.data.device.id, password: parsed.data.mqtt.password };
}
