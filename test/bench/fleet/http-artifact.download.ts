/**
 * What a simulated device does for an artifact at or above the agent's HTTP threshold: the body
 * of `GET {base}/api/v1/variants/{variantId}/artifact`, requested by the agent's own HTTP source
 * (apps/agent artifact-fetcher-http.ts) with the device's Basic credentials, is cut into the signed manifest's chunks as it streams in; every chunk's sha256
 * is checked against the manifest's signed list, in order, which is what the agent's fetcher
 * checks (the list binds every byte: no second pass over the whole file), and the bytes are
 * dropped (a keeper gets them back for the process's predictor). Throws on any answer but 200,
 * a short or long body, or a mismatch, so the caller can fall back to the MQTT chunks like the
 * agent does.
 */
import { verifyChunk, type ManifestMessage } from '@edgecompress/protocol';
import { httpArtifactSource } from '../../../apps/agent/src/jobs/artifact-fetcher-http';

export interface HttpArtifactRequest {
  base: string;
  variantId: string;
  deviceId: string;
  password: string;
  manifest: ManifestMessage;
  /** Keeps the verified bytes (one device per process keeps them, to parse the model). */
  keep: boolean;
  /** Called after each verified chunk with the fraction done. */
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export interface HttpArtifactResult {
  bytes: number;
  chunks: number;
  kept: Buffer | null;
}

export async function downloadArtifact(request: HttpArtifactRequest): Promise<HttpArtifactResult> {
  const { manifest } = request;
  // The agent's own HTTP source: same client, same request, same errors.
  const source = httpArtifactSource({
    controlPlaneUrl: request.base,
    httpDownloadMinBytes: 0,
    deviceId: request.deviceId,
    password: request.password,
  })!;
  const body = await source.open(request.variantId, request.signal ?? new AbortController().signal);
  const kept: Buffer[] | null = request.keep ? [] : null;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let index = 0;
  let received = 0;
  // Leaving the loop by a throw destroys the response (its iterator's return()).
  for await (const piece of body) {
    received += piece.byteLength;
    if (received > manifest.size) {
      throw new Error(`the body is longer than the manifest's ${manifest.size} bytes`);
    }
    pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    pendingBytes += piece.byteLength;
    while (index < manifest.chunkCount) {
      const length = Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
      if (pendingBytes < length) break;
      const joined = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
      const chunk = joined.subarray(0, length);
      const check = verifyChunk(manifest, index, chunk);
      if (!check.ok) throw new Error(`chunk ${index}: ${check.message}`);
      kept?.push(Buffer.from(chunk));
      index++;
      request.onProgress?.(index / manifest.chunkCount);
      const rest = joined.subarray(length);
      pending = rest.byteLength > 0 ? [rest] : [];
      pendingBytes = rest.byteLength;
    }
  }
  if (index !== manifest.chunkCount)
    throw new Error(`the body ended after ${index} of ${manifest.chunkCount} chunks`);
  return {
    bytes: received,
    chunks: index,
    kept: kept ? Buffer.concat(kept, received) : null,
  };
}
