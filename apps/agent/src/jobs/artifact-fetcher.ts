/**
 * Brings one artifact into the model store over MQTT: waits for its retained, signed manifest,
 * checks the ed25519 signature, reserves room under the quota, subscribes to the chunks it does
 * not have yet, checks each chunk's sha256 on arrival against the manifest's signed list (the
 * model store does, as it writes the chunk), and assembles the file once all are in: the signed
 * list binds every byte, so there is no second pass over the file (the verify step re-reads the
 * stored file before any load, against disk damage). Chunks survive restarts, so an interrupted
 * fetch resumes.
 * A large artifact of a named variant may come over HTTP from the control plane instead
 * (artifact-fetcher-http.ts): its body is cut into the same chunks and checked the same way;
 * if the download fails, the missing chunks are fetched over MQTT.
 */
import {
  topics,
  verifyManifest,
  parseJsonPayload,
  type KeyInput,
  type ManifestMessage,
} from '@edgecompress/protocol';
import { AgentError } from '../agent-error';
import type { Clock, TimerHandle } from '../clock';
import type { ModelStore } from '../store/model-store';
import type { HttpArtifactSource } from './artifact-fetcher-http';

export interface FetchResult {
  path: string;
  bytes: number;
  fetchedChunks: number;
  reusedChunks: number;
  /** How the chunks fetched this time arrived (HTTP if the download brought them all). */
  source: 'mqtt' | 'http' | 'store';
}

export interface FetchVia {
  /** Control-plane variant id: needed for the HTTP download route. */
  variantId?: string;
  http?: HttpArtifactSource;
}

export interface Subscriber {
  subscribe(filters: string[]): Promise<void>;
  unsubscribe(filters: string[]): Promise<void>;
}

/** Up to this many missing chunks are subscribed one by one; beyond it, with a wildcard. */
const INDIVIDUAL_CHUNK_SUBSCRIPTIONS = 64;

interface ActiveFetch {
  sha256: string;
  manifest?: ManifestMessage;
  missing: Set<number>;
  corrupt: Set<number>;
  fetched: number;
  reused: number;
  filters: string[];
  via: FetchVia;
  /** Set while an HTTP download runs: aborts it. */
  abortHttp?: () => void;
  source: 'mqtt' | 'http';
  stallTimer?: TimerHandle;
  onProgress?: (fraction: number) => void;
  resolve(result: FetchResult): void;
  reject(err: AgentError): void;
  promise: Promise<FetchResult>;
}

export class ArtifactFetcher {
  private readonly active = new Map<string, ActiveFetch>();

  constructor(
    private readonly store: ModelStore,
    private readonly subscriber: Subscriber,
    private readonly trustedKeys: readonly KeyInput[],
    private readonly clock: Clock,
    private readonly stallTimeoutMs: number,
    /** Shas that eviction must keep (active, previous, other jobs' artifacts). */
    private readonly protectedShas: () => ReadonlySet<string>,
  ) {}

  /** Shas being fetched now (protected from eviction). */
  inFlight(): string[] {
    return [...this.active.keys()];
  }

  fetch(
    sha256: string,
    onProgress?: (fraction: number) => void,
    via: FetchVia = {},
  ): Promise<FetchResult> {
    if (this.store.hasModel(sha256)) {
      return Promise.resolve({
        path: this.store.modelPath(sha256),
        bytes: 0,
        fetchedChunks: 0,
        reusedChunks: 0,
        source: 'store',
      });
    }
    const existing = this.active.get(sha256);
    if (existing) return existing.promise;
    let resolve!: (r: FetchResult) => void;
    let reject!: (e: AgentError) => void;
    const promise = new Promise<FetchResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const fetch: ActiveFetch = {
      sha256,
      missing: new Set(),
      corrupt: new Set(),
      fetched: 0,
      reused: 0,
      filters: [topics.artifactManifest(sha256)],
      via,
      source: 'mqtt',
      resolve,
      reject,
      promise,
      ...(onProgress ? { onProgress } : {}),
    };
    this.active.set(sha256, fetch);
    this.armStallTimer(fetch);
    this.subscriber.subscribe(fetch.filters).catch((err: Error) => {
      // Not connected yet: mqtt.js subscribes once connected; a refusal is final.
      if (!/not connected|client disconnecting/i.test(err.message)) {
        this.finish(
          fetch,
          new AgentError('ARTIFACT_NOT_FOUND', `cannot subscribe: ${err.message}`),
        );
      }
    });
    return promise;
  }

  /** Routes an artifact message; returns false when it is not about an artifact being fetched. */
  handleManifest(sha256: string, payload: Buffer): boolean {
    const fetch = this.active.get(sha256);
    if (!fetch || fetch.manifest) return fetch !== undefined;
    const json = parseJsonPayload(payload);
    if (!json.ok) {
      this.finish(
        fetch,
        new AgentError('SCHEMA_INVALID', `manifest of ${sha256}: ${json.message}`),
      );
      return true;
    }
    const verified = verifyManifest(json.value, this.trustedKeys);
    if (!verified.ok) {
      this.finish(
        fetch,
        new AgentError(verified.code, `manifest of ${sha256}: ${verified.message}`, false),
      );
      return true;
    }
    const manifest = verified.manifest;
    if (manifest.sha256 !== sha256) {
      this.finish(
        fetch,
        new AgentError(
          'SIGNATURE_INVALID',
          `manifest on ${sha256} describes ${manifest.sha256}`,
          false,
        ),
      );
      return true;
    }
    try {
      this.store.reserve(manifest, new Set([...this.protectedShas(), ...this.inFlight()]));
    } catch (err) {
      this.finish(fetch, err as AgentError);
      return true;
    }
    fetch.manifest = manifest;
    const missing = this.store.missingChunks(manifest);
    fetch.missing = new Set(missing);
    fetch.reused = manifest.chunkCount - missing.length;
    if (missing.length === 0) {
      void this.complete(fetch);
      return true;
    }
    const { http, variantId } = fetch.via;
    if (http && variantId && manifest.size >= http.minBytes) {
      this.armStallTimer(fetch);
      void this.download(fetch, http, variantId);
      return true;
    }
    this.subscribeChunks(fetch, missing);
    return true;
  }

  private subscribeChunks(fetch: ActiveFetch, missing: number[]): void {
    const sha256 = fetch.sha256;
    const chunkFilters =
      missing.length <= INDIVIDUAL_CHUNK_SUBSCRIPTIONS
        ? missing.map((i) => topics.artifactChunk(sha256, i))
        : [`${topics.artifactManifest(sha256).slice(0, -'manifest'.length)}chunk/+`];
    fetch.filters.push(...chunkFilters);
    this.armStallTimer(fetch);
    this.subscriber.subscribe(chunkFilters).catch(() => undefined);
  }

  /**
   * Downloads the artifact over HTTP, feeding the body to handleChunk in the manifest's chunk
   * sizes. Whatever is still missing afterwards (failed request, short or corrupt body) is
   * fetched over MQTT.
   */
  private async download(fetch: ActiveFetch, http: HttpArtifactSource, variantId: string) {
    const manifest = fetch.manifest!;
    const abort = new AbortController();
    fetch.abortHttp = () => abort.abort();
    fetch.source = 'http';
    const still = () => this.active.get(fetch.sha256) === fetch;
    let index = 0;
    try {
      const body = await http.open(variantId, abort.signal);
      let pending: Buffer = Buffer.alloc(0);
      for await (const piece of body) {
        if (!still()) return abort.abort();
        pending = pending.length ? Buffer.concat([pending, piece]) : Buffer.from(piece);
        while (index < manifest.chunkCount) {
          const length = Math.min(manifest.chunkSize, manifest.size - index * manifest.chunkSize);
          if (pending.length < length) break;
          this.handleChunk(fetch.sha256, index++, pending.subarray(0, length));
          pending = pending.subarray(length);
          if (!still()) return abort.abort();
        }
        this.armStallTimer(fetch);
      }
      if (!still()) return;
      throw new Error(`the download ended after ${index} of ${manifest.chunkCount} chunks`);
    } catch {
      if (!still()) return;
      fetch.abortHttp = undefined;
      fetch.source = 'mqtt';
      this.subscribeChunks(fetch, [...fetch.missing]);
    }
  }

  handleChunk(sha256: string, index: number, data: Buffer): boolean {
    const fetch = this.active.get(sha256);
    if (!fetch) return false;
    const manifest = fetch.manifest;
    if (!manifest || !fetch.missing.has(index)) return true; // early, duplicate or already stored
    try {
      // Checks length and sha256 against the signed manifest before writing anything.
      this.store.writeChunk(manifest, index, data);
    } catch (err) {
      if (err instanceof AgentError && err.code === 'CHECKSUM_MISMATCH') {
        // A bad chunk is dropped; a corrected re-publish can still complete the fetch.
        fetch.corrupt.add(index);
        return true;
      }
      this.finish(
        fetch,
        new AgentError('DISK_FULL', `cannot store chunk ${index}: ${(err as Error).message}`),
      );
      return true;
    }
    fetch.missing.delete(index);
    fetch.corrupt.delete(index);
    fetch.fetched++;
    fetch.onProgress?.(1 - fetch.missing.size / manifest.chunkCount);
    this.armStallTimer(fetch);
    if (fetch.missing.size === 0) void this.complete(fetch);
    return true;
  }

  private async complete(fetch: ActiveFetch): Promise<void> {
    const manifest = fetch.manifest!;
    // Nothing is missing any more: no stall. Expanding a packed model has the runner's own limits.
    fetch.stallTimer?.cancel();
    try {
      const path = await this.store.assemble(
        manifest,
        new Set([...this.protectedShas(), ...this.inFlight()]),
      );
      this.finish(fetch, undefined, {
        path,
        bytes: manifest.size,
        fetchedChunks: fetch.fetched,
        reusedChunks: fetch.reused,
        source: fetch.source,
      });
    } catch (err) {
      this.finish(fetch, err instanceof AgentError ? err : new AgentError('INTERNAL', String(err)));
    }
  }

  private armStallTimer(fetch: ActiveFetch): void {
    fetch.stallTimer?.cancel();
    fetch.stallTimer = this.clock.setTimeout(() => {
      if (!fetch.manifest) {
        return this.finish(
          fetch,
          new AgentError(
            'ARTIFACT_NOT_FOUND',
            `no manifest for ${fetch.sha256} within ${this.stallTimeoutMs} ms`,
          ),
        );
      }
      const missing = fetch.missing.size;
      if (fetch.corrupt.size > 0) {
        const bad = [...fetch.corrupt].slice(0, 10).join(', ');
        return this.finish(
          fetch,
          new AgentError(
            'CHECKSUM_MISMATCH',
            `chunks ${bad} failed their sha256 check; ${missing} chunks missing`,
            true,
          ),
        );
      }
      this.finish(
        fetch,
        new AgentError(
          'ARTIFACT_NOT_FOUND',
          `${missing} of ${fetch.manifest.chunkCount} chunks still missing after ${this.stallTimeoutMs} ms without progress; received chunks are kept`,
        ),
      );
    }, this.stallTimeoutMs);
  }

  private finish(fetch: ActiveFetch, err?: AgentError, result?: FetchResult): void {
    fetch.stallTimer?.cancel();
    if (this.active.get(fetch.sha256) !== fetch) return;
    this.active.delete(fetch.sha256);
    fetch.abortHttp?.();
    this.store.release(fetch.sha256);
    this.subscriber.unsubscribe(fetch.filters).catch(() => undefined);
    if (err) fetch.reject(err);
    else fetch.resolve(result!);
  }

  /** Fails every fetch in progress (agent shutting down). */
  abortAll(reason: string): void {
    for (const fetch of [...this.active.values()])
      this.finish(fetch, new AgentError('CANCELLED', reason));
  }
}
