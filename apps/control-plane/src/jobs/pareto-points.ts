/**
 * The points of a model's Pareto view, one per candidate. An engine-format job candidate and its
 * deployable ONNX twin (provenance `onnxOf`) are one candidate: the point keeps the engine
 * variant's id (the one the job reports) and names the twin as `deployableVariantId`; its size
 * and latency are the twin's, because that file is what a device runs.
 */
import type { VariantView } from '../models/models.service';
import type { ParetoPoint } from './pareto-front';

export interface VariantLatencySummary {
  variant_id: string;
  profile_id: string | null;
  n: number;
  p50_ms: number | null;
}

interface LatencyProvenance {
  latencyMs?: number | null;
  latencySource?: 'measured' | 'predicted' | null;
  profileId?: string | null;
  onnxOf?: unknown;
}

const provenanceOf = (v: VariantView): LatencyProvenance =>
  (v.provenance ?? {}) as LatencyProvenance;

/**
 * Latency of one variant for the profile: its own fleet measurements when there are any
 * (weighted by count), else the figure its compression job recorded for that device class.
 */
function latencyOf(
  v: VariantView,
  measured: readonly VariantLatencySummary[],
  profileId: string | undefined,
): Pick<ParetoPoint, 'p50Ms' | 'latencySource'> | undefined {
  const own = measured.filter(
    (m) => m.variant_id === v.id && m.p50_ms !== null && (!profileId || m.profile_id === profileId),
  );
  if (own.length) {
    const n = own.reduce((sum, m) => sum + m.n, 0);
    return {
      p50Ms: own.reduce((sum, m) => sum + m.p50_ms! * m.n, 0) / n,
      latencySource: 'measured',
    };
  }
  const recorded = provenanceOf(v);
  const fits =
    typeof recorded.latencyMs === 'number' &&
    (!profileId || !recorded.profileId || recorded.profileId === profileId);
  return fits
    ? { p50Ms: recorded.latencyMs!, latencySource: recorded.latencySource ?? null }
    : undefined;
}

export function paretoPoints(
  variants: readonly VariantView[],
  measured: readonly VariantLatencySummary[],
  profileId?: string,
): ParetoPoint[] {
  const ids = new Set(variants.map((v) => v.id));
  const twinOf = new Map<string, VariantView>();
  for (const v of variants) {
    const of = provenanceOf(v).onnxOf;
    if (typeof of === 'string' && ids.has(of) && !twinOf.has(of)) twinOf.set(of, v);
  }
  const twins = new Set([...twinOf.values()].map((t) => t.id));
  return variants
    .filter((v) => !twins.has(v.id))
    .map((v): ParetoPoint => {
      const twin = twinOf.get(v.id);
      const latency = (twin && latencyOf(twin, measured, profileId)) ??
        latencyOf(v, measured, profileId) ?? { p50Ms: null, latencySource: null };
      return {
        variantId: v.id,
        ...(twin ? { deployableVariantId: twin.id } : {}),
        accuracy: v.accuracy ?? twin?.accuracy ?? null,
        ...latency,
        bytes: twin?.bytes ?? v.bytes,
        params: v.params,
        flops: v.flops,
        method: v.method,
      };
    });
}
