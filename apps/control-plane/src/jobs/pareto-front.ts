/**
 * The Pareto front of a model's variants over accuracy (higher is better), p50 latency and size
 * (lower is better). A variant without a latency figure is compared on accuracy and size only
 * where the other has none either; it never dominates one whose latency is known.
 */
export interface ParetoPoint {
  variantId: string;
  /** The ONNX twin a device runs, when the variant itself is an engine file. */
  deployableVariantId?: string;
  accuracy: number | null;
  p50Ms: number | null;
  latencySource: 'measured' | 'predicted' | null;
  bytes: number;
  params: number | null;
  flops: number | null;
  method: string;
}

export function dominates(a: ParetoPoint, b: ParetoPoint): boolean {
  if (a.accuracy === null) return false;
  if (b.accuracy !== null && a.accuracy < b.accuracy) return false;
  if (a.bytes > b.bytes) return false;
  if (b.p50Ms !== null && (a.p50Ms === null || a.p50Ms > b.p50Ms)) return false;
  const strictly =
    b.accuracy === null ||
    a.accuracy > b.accuracy ||
    a.bytes < b.bytes ||
    (a.p50Ms !== null && (b.p50Ms === null || a.p50Ms < b.p50Ms));
  return strictly;
}

/** Ids of the points no other point dominates, in the input order. */
export function paretoFront(points: readonly ParetoPoint[]): string[] {
  return points
    .filter((p) => !points.some((q) => q !== p && dominates(q, p)))
    .map((p) => p.variantId);
}
