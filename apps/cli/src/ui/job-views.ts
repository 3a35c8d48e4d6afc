/**
 * How jobs look in the terminal: a few summary lines and the round-by-round trajectory.
 */
import type { JobView, RoundRecord } from './api-types';
import { formatBytes, formatCount, formatMs, formatPercent, renderTable } from './table';

const when = (t: string | number | null | undefined): string =>
  t === null || t === undefined ? '-' : new Date(t).toISOString().replace('T', ' ').slice(0, 19);

export function describeObjective(objective: Record<string, unknown>): string {
  const o = objective as {
    metric?: string;
    target?: number;
    maxAccuracyDrop?: number;
    latencySource?: string;
    device?: Record<string, unknown>;
  };
  const parts = [`${o.metric ?? '?'}${o.target !== undefined ? ` <= ${o.target}` : ''}`];
  if (o.metric === 'latency') parts[0] += ' ms';
  if (o.maxAccuracyDrop !== undefined) parts.push(`max accuracy drop ${o.maxAccuracyDrop}`);
  if (o.latencySource) parts.push(`${o.latencySource} latency`);
  const device = o.device ?? {};
  const where = Object.entries(device)
    .filter(([, v]) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  if (where.length) parts.push(`on ${where.join(' ')}`);
  return parts.join(', ');
}

export function renderJobSummary(job: JobView): string {
  const lines = [
    `job ${job.id}${job.name ? ` (${job.name})` : ''}: ${job.state}`,
    `  pipeline   ${job.pipeline.join(' -> ')}`,
    `  objective  ${describeObjective(job.objective)}`,
    `  progress   ${job.progress.step} ${(100 * job.progress.fraction).toFixed(0)}%${job.progress.message ? ` - ${job.progress.message}` : ''}`,
    `  created    ${when(job.createdAt)}  started ${when(job.startedAt)}  finished ${when(job.finishedAt)}`,
  ];
  if (job.resultVariantId) lines.push(`  result     variant ${job.resultVariantId}`);
  if (job.objectiveMet !== undefined && job.objectiveMet !== null)
    lines.push(
      `  objective  ${job.objectiveMet ? 'met' : 'NOT met'}${job.objectiveNote ? `: ${job.objectiveNote}` : ''}`,
    );
  if (job.candidateVariantIds.length)
    lines.push(`  candidates ${job.candidateVariantIds.length} stored variants`);
  if (job.error) lines.push(`  error      ${job.error}`);
  return lines.join('\n') + '\n';
}

/** The trajectory: one row per round, measured and predicted latency side by side. */
export function renderRounds(rounds: readonly RoundRecord[]): string {
  if (rounds.length === 0) return '(no rounds yet)\n';
  return renderTable<RoundRecord>(
    [
      { header: 'METHOD', value: (r) => r.method },
      { header: 'ROUND', value: (r) => r.round, align: 'right' },
      { header: 'THRESHOLD', value: (r) => r.threshold?.toFixed(4), align: 'right' },
      { header: 'PARAMS', value: (r) => formatCount(r.params), align: 'right' },
      { header: 'FLOPS', value: (r) => formatCount(r.flops), align: 'right' },
      { header: 'SIZE', value: (r) => formatBytes(r.bytes), align: 'right' },
      { header: 'ACCURACY', value: (r) => formatPercent(r.accuracy), align: 'right' },
      { header: 'P50 MS', value: (r) => formatMs(r.latencyMs), align: 'right' },
      { header: 'SOURCE', value: (r) => r.latencySource },
      { header: 'PREDICTED', value: (r) => formatMs(r.predictedMs), align: 'right' },
      { header: 'VERDICT', value: (r) => r.verdict },
      { header: 'VARIANT', value: (r) => r.variantId },
    ],
    rounds,
  );
}

/** One line per round for the live log of `jobs watch`. */
export function roundLine(r: RoundRecord): string {
  const latency =
    r.latencyMs !== null ? `p50 ${formatMs(r.latencyMs)} ms (${r.latencySource ?? '?'})` : 'p50 -';
  const predicted = r.predictedMs !== null ? `, predicted ${formatMs(r.predictedMs)} ms` : '';
  return (
    `${r.method} round ${r.round}: params ${formatCount(r.params) ?? '-'}, FLOPs ${formatCount(r.flops) ?? '-'}, ` +
    `accuracy ${formatPercent(r.accuracy) ?? '-'}, ${latency}${predicted} -> ${r.verdict}`
  );
}

export function renderJobList(jobs: readonly JobView[]): string {
  return renderTable<JobView>(
    [
      { header: 'ID', value: (j) => j.id },
      { header: 'NAME', value: (j) => j.name },
      { header: 'STATE', value: (j) => j.state },
      { header: 'PIPELINE', value: (j) => j.pipeline.join(',') },
      { header: 'STEP', value: (j) => j.progress.step },
      {
        header: 'DONE',
        value: (j) => `${(100 * j.progress.fraction).toFixed(0)}%`,
        align: 'right',
      },
      { header: 'ROUNDS', value: (j) => j.rounds.length, align: 'right' },
      { header: 'RESULT', value: (j) => j.resultVariantId },
      { header: 'CREATED', value: (j) => when(j.createdAt) },
    ],
    jobs,
  );
}
