/**
 * HTTP download of a large artifact from the control plane
 * (`GET {controlPlaneUrl}/api/v1/variants/{variantId}/artifact`). The bytes are trusted exactly
 * as much as chunks over MQTT: the signed manifest still comes over MQTT, and the fetcher cuts
 * the body into the manifest's chunks and checks each against the manifest's signed list of
 * chunk hashes before anything is stored under its name. Any failure falls back to the MQTT
 * chunks.
 *
 * The agent authenticates with its own MQTT credentials (HTTP Basic, username = device id), which
 * the control plane accepts on this route for published artifacts; a configured
 * `controlPlaneToken` (an operator's API token) is sent instead when present.
 */
import type { AgentConfig } from '../config/agent-config';

export interface HttpArtifactSource {
  /** Artifacts at least this large are downloaded over HTTP first. */
  readonly minBytes: number;
  /** The response body as a stream of byte pieces (any sizes); throws on a non-200 answer. */
  open(variantId: string, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>>;
}

/** The source a config allows; undefined without a control plane URL. */
export function httpArtifactSource(
  config: Pick<
    AgentConfig,
    'controlPlaneUrl' | 'controlPlaneToken' | 'httpDownloadMinBytes' | 'password'
  > & { deviceId?: string },
): HttpArtifactSource | undefined {
  if (!config.controlPlaneUrl) return undefined;
  const base = config.controlPlaneUrl.replace(/\/+$/, '');
  return {
    minBytes: config.httpDownloadMinBytes,
    async open(variantId, signal) {
      const url = `${base}/api/v1/variants/${encodeURIComponent(variantId)}/artifact`;
      const headers: Record<string, string> = { accept: 'application/octet-stream' };
      const authorization = authorizationHeader(config);
      if (authorization) headers.authorization = authorization;
      const res = await fetch(url, { headers, signal });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel().catch(() => undefined);
        throw new Error(`${url} answered ${res.status}`);
      }
      return res.body as unknown as AsyncIterable<Uint8Array>;
    },
  };
}

/** The override token when configured, else the device's own credentials, else none. */
export function authorizationHeader(
  config: Pick<AgentConfig, 'controlPlaneToken' | 'password'> & { deviceId?: string },
): string | undefined {
  if (config.controlPlaneToken) return `Bearer ${config.controlPlaneToken}`;
  if (config.deviceId && config.password) {
    const pair = Buffer.from(`${config.deviceId}:${config.password}`, 'utf8').toString('base64');
    return `Basic ${pair}`;
  }
  return undefined;
}
