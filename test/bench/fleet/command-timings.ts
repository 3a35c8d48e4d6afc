/**
 * Where a command's time goes, from the control plane's outbox rows: queued → first sent
 * (the control plane's dispatch), sent → acked (broker delivery and the device's answer),
 * acked → completed (the device's work and its result stored). Percentiles per command kind.
 */
import type BetterSqlite3 from 'better-sqlite3';

export interface CommandTiming {
  kind: string;
  commands: number;
  /** Commands never sent by the end of the phase. */
  unsent: number;
  queuedToSentMs: { p50: number; p90: number; max: number } | null;
  sentToAckedMs: { p50: number; p90: number; max: number } | null;
  ackedToDoneMs: { p50: number; p90: number; max: number } | null;
}

export function percentiles(values: number[]): { p50: number; p90: number; max: number } | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: at(0.5), p90: at(0.9), max: sorted[sorted.length - 1]! };
}

export function commandTimings(db: BetterSqlite3.Database, since: number): CommandTiming[] {
  const rows = db
    .prepare(
      `SELECT kind, created_at, first_sent_at, acked_at, completed_at FROM commands
       WHERE created_at >= ?`,
    )
    .all(since) as {
    kind: string;
    created_at: number;
    first_sent_at: number | null;
    acked_at: number | null;
    completed_at: number | null;
  }[];
  const kinds = [...new Set(rows.map((r) => r.kind))].sort();
  return kinds.map((kind) => {
    const of = rows.filter((r) => r.kind === kind);
    const diff = (pick: (r: (typeof of)[number]) => number | null) =>
      of.map(pick).filter((v): v is number => v !== null);
    return {
      kind,
      commands: of.length,
      unsent: of.filter((r) => r.first_sent_at === null).length,
      queuedToSentMs: percentiles(
        diff((r) => (r.first_sent_at === null ? null : r.first_sent_at - r.created_at)),
      ),
      sentToAckedMs: percentiles(
        diff((r) =>
          r.acked_at === null || r.first_sent_at === null ? null : r.acked_at - r.first_sent_at,
        ),
      ),
      ackedToDoneMs: percentiles(
        diff((r) =>
          r.completed_at === null || r.acked_at === null ? null : r.completed_at - r.acked_at,
        ),
      ),
    };
  });
}
