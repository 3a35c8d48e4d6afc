/**
 * What the simulated devices of one process share: the device profiles, the verified manifests
 * and, per artifact, the model parsed once (from the bytes one device of the process fetched)
 * and its roofline prediction per (profile, threads). Devices of a process never share a fetch;
 * they share only the parse and the prediction, which a real device would each compute alone.
 */
import { importOnnx, type Graph } from '@edgecompress/engine';
import type { ManifestMessage } from '@edgecompress/protocol';
import { predictLatency, type DeviceProfile } from '@edgecompress/profiles';

const MODEL_WAIT_MS = 180_000;

export class FleetModelCache {
  private readonly manifests = new Map<string, ManifestMessage>();
  private readonly claimed = new Set<string>();
  private readonly graphs = new Map<string, Promise<Graph>>();
  private readonly provide = new Map<string, (bytes: Buffer) => void>();
  private readonly predictions = new Map<string, Promise<number>>();

  constructor(private readonly profiles: ReadonlyMap<string, DeviceProfile>) {}

  profile(id: string): DeviceProfile {
    const profile = this.profiles.get(id);
    if (!profile) throw new Error(`unknown device profile ${id}`);
    return profile;
  }

  rememberManifest(manifest: ManifestMessage): void {
    this.manifests.set(manifest.sha256, manifest);
  }

  manifestOf(sha256: string): ManifestMessage | undefined {
    return this.manifests.get(sha256);
  }

  /** True for the first device of the process that asks: it keeps the artifact's bytes. */
  claimBytes(sha256: string): boolean {
    if (this.claimed.has(sha256)) return false;
    this.claimed.add(sha256);
    return true;
  }

  provideBytes(sha256: string, bytes: Buffer): void {
    this.graphOf(sha256);
    this.provide.get(sha256)?.(bytes);
  }

  /** Roofline milliseconds of the artifact's model on the profile (uncalibrated datasheet). */
  predictMs(sha256: string, profileId: string, threads?: number): Promise<number> {
    const key = `${sha256}|${profileId}|${threads ?? 0}`;
    let prediction = this.predictions.get(key);
    if (!prediction) {
      const profile = this.profile(profileId);
      prediction = this.graphOf(sha256).then(
        (graph) =>
          predictLatency(graph, profile, threads ? { threads, target: 'cpu' } : {}).totalMs,
      );
      this.predictions.set(key, prediction);
    }
    return prediction;
  }

  private graphOf(sha256: string): Promise<Graph> {
    let graph = this.graphs.get(sha256);
    if (!graph) {
      graph = new Promise<Graph>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`model ${sha256} not fetched by any device of this process`)),
          MODEL_WAIT_MS,
        );
        timer.unref();
        this.provide.set(sha256, (bytes) => {
          clearTimeout(timer);
          try {
            resolve(importOnnx(bytes).model.graph);
          } catch (err) {
            reject(err as Error);
          }
        });
      });
      graph.catch(() => undefined);
      this.graphs.set(sha256, graph);
    }
    return graph;
  }
}
