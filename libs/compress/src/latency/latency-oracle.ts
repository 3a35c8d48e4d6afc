/**
 * Where compression methods get latencies from. The caller passes an oracle in: measured by the
 * fleet's agents (control plane), predicted from a device profile, or measured locally with
 * onnxruntime-node. Latency depends on the architecture, not the weight values, so answers are
 * cached by (graph hash, device).
 */
import { createHash } from 'node:crypto';
import type { Graph, Model } from '@edgecompress/engine';

export type LatencyOrigin = 'measured' | 'predicted' | 'local';

export interface LatencyMeasurement {
  p50Ms: number;
  p90Ms?: number;
  p99Ms?: number;
  source: LatencyOrigin;
  device: string;
  /** Timed runs behind the figure (measured/local). */
  samples?: number;
  /** Milliseconds per graph node, when the oracle can attribute time to layers (predictors can). */
  perNodeMs?: ReadonlyMap<string, number>;
}

export interface MeasureOptions {
  /** Measure again: a cache in between is skipped, and keeps the new figure. */
  fresh?: boolean;
}

export interface LatencyOracle {
  /** Device ids this oracle can answer for. */
  devices(): Promise<readonly string[]>;
  measure(model: Model, device: string, options?: MeasureOptions): Promise<LatencyMeasurement>;
}

/** An unknown device: the message lists the ones the oracle knows. */
export class UnknownDeviceError extends Error {
  override readonly name = 'UnknownDeviceError';
  constructor(device: string, known: readonly string[]) {
    super(
      `unknown device "${device}"; known devices: ${known.length ? known.join(', ') : '(none)'}`,
    );
  }
}

/** Stable hash of a graph's architecture (node list and attributes; weights excluded). */
export function graphHash(graph: Graph): string {
  const canonical = JSON.stringify({
    inputShape: graph.inputShape,
    output: graph.output,
    nodes: graph.nodes.map((n) => [n.id, n.op, n.inputs, n.attrs]),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

export async function assertDeviceKnown(oracle: LatencyOracle, device: string): Promise<void> {
  const known = await oracle.devices();
  if (!known.includes(device)) throw new UnknownDeviceError(device, known);
}

/** Wraps an oracle with a cache keyed by (graph hash, device); concurrent asks share one call. */
export class CachedLatencyOracle implements LatencyOracle {
  private readonly cache = new Map<string, Promise<LatencyMeasurement>>();
  hits = 0;
  misses = 0;

  constructor(private readonly inner: LatencyOracle) {}

  devices(): Promise<readonly string[]> {
    return this.inner.devices();
  }

  measure(model: Model, device: string, options?: MeasureOptions): Promise<LatencyMeasurement> {
    const key = `${graphHash(model.graph)}|${device}`;
    const cached = this.cache.get(key);
    if (cached && !options?.fresh) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const pending = this.inner.measure(model, device, options);
    this.cache.set(key, pending);
    // A failed measurement must not poison the cache.
    pending.catch(() => this.cache.delete(key));
    return pending;
  }
}
