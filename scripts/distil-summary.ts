/**
 * Summarises the CKDF and LCMR runs of scripts/distil-fashion-mnist.sh: one row per variant with
 * each seed's test accuracy, the mean and the standard deviation over seeds, and the two
 * comparisons the results page judges (CKDF+KD against KD, LCMR-log against LCMR-linear).
 *
 *   node -r @swc-node/register scripts/distil-summary.ts [scale] [dir] [--json <file>]
 *
 * A CKDF-runner variant is scored by its last epoch's accuracy (the step schedule has ended
 * there; the best epoch is shown beside it), an LCMR variant by its final accuracy after
 * fine-tuning. A difference is called a tie when it is smaller than its noise: the standard
 * error of the difference of the two means from the seed-to-seed spread, or, while a variant has
 * one seed only, from the binomial error of a test-set accuracy.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VARIANTS = [
  'student-alone',
  'kd',
  'crd-only',
  'ckdf',
  'ckdf-kd',
  'crd-only-warm',
  'ckdf-warm',
  'ckdf-kd-warm',
  'lcmr-log',
  'lcmr-linear',
  'lcmr-constant',
] as const;

interface CkdfReport {
  history: { epoch: number; accuracy: number | null }[];
  bestAccuracy: number | null;
  teacherAccuracy: number | null;
}
interface LcmrReport {
  accuracy: number | null;
  teacherAccuracy: number | null;
}

interface Run {
  seed: number;
  accuracy: number;
  best: number | null;
  teacher: number | null;
}

function readRun(file: string, seed: number): Run | null {
  let report: Partial<CkdfReport & LcmrReport>;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as Partial<CkdfReport & LcmrReport>;
  } catch (err) {
    // A run still writing its report, or a truncated one: name it rather than stop the table.
    throw new Error(`${file}: not a readable run report (${(err as Error).message})`);
  }
  if (Array.isArray(report.history)) {
    const last = report.history.at(-1)?.accuracy;
    if (last === null || last === undefined) return null;
    return {
      seed,
      accuracy: last,
      best: report.bestAccuracy ?? null,
      teacher: report.teacherAccuracy ?? null,
    };
  }
  if (typeof report.accuracy !== 'number') return null;
  return { seed, accuracy: report.accuracy, best: null, teacher: report.teacherAccuracy ?? null };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sampleSd(xs: number[]): number | null {
  if (xs.length < 2) return null;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

const pt = (x: number): string => (100 * x).toFixed(2);

function main(): void {
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf('--json');
  const jsonOut = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
  const positional = args.filter((_a, i) => jsonAt < 0 || (i !== jsonAt && i !== jsonAt + 1));
  const scale = positional[0] ?? 'small';
  const dir = positional[1] ?? 'data/distil-runs';
  if (!existsSync(dir)) throw new Error(`no run directory ${dir}`);
  const files = readdirSync(dir);
  const testImages = scale === 'short' ? 500 : 10_000; // the scripts' test sets

  const runs = new Map<string, Run[]>();
  for (const variant of VARIANTS) {
    const pattern = new RegExp(`^${scale}-${variant}-s(\\d+)\\.json$`);
    const found: Run[] = [];
    for (const f of files) {
      const m = pattern.exec(f);
      if (!m) continue;
      const run = readRun(join(dir, f), Number(m[1]));
      if (run) found.push(run);
    }
    found.sort((a, b) => a.seed - b.seed);
    runs.set(variant, found);
  }

  const rows = VARIANTS.map((variant) => {
    const rs = runs.get(variant)!;
    const accs = rs.map((r) => r.accuracy);
    return {
      variant,
      seeds: rs.map((r) => r.seed),
      accuracies: accs,
      best: rs.map((r) => r.best),
      mean: accs.length ? mean(accs) : null,
      sd: sampleSd(accs),
    };
  });

  const teacher = [...runs.values()].flat().find((r) => r.teacher !== null)?.teacher ?? null;
  console.log(`${scale} runs in ${dir}; teacher ${teacher === null ? '-' : pt(teacher) + ' %'}`);
  console.log('| variant | seeds | test acc per seed (%) | mean (%) | sd (pt) | best epoch (%) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    if (!r.accuracies.length) {
      console.log(`| ${r.variant} | - | not run | - | - | - |`);
      continue;
    }
    const best = r.best.every((b) => b === null)
      ? '-'
      : r.best.map((b) => (b === null ? '-' : pt(b))).join(' / ');
    console.log(
      `| ${r.variant} | ${r.seeds.join(', ')} | ${r.accuracies.map(pt).join(' / ')} | ` +
        `${pt(r.mean!)} | ${r.sd === null ? '-' : (100 * r.sd).toFixed(2)} | ${best} |`,
    );
  }

  const comparisons = [
    { name: 'CKDF+KD - KD', a: 'ckdf-kd', b: 'kd', target: 0.003 },
    { name: 'CKDF+KD (banks warmed) - KD', a: 'ckdf-kd-warm', b: 'kd', target: 0.003 },
    { name: 'CKDF+KD: banks warmed - random', a: 'ckdf-kd-warm', b: 'ckdf-kd', target: null },
    { name: 'CRD only (banks warmed) - KD', a: 'crd-only-warm', b: 'kd', target: null },
    { name: 'CKDF - CRD only (banks warmed)', a: 'ckdf-warm', b: 'crd-only-warm', target: null },
    { name: 'LCMR-log - LCMR-linear', a: 'lcmr-log', b: 'lcmr-linear', target: 0 },
    { name: 'LCMR-log - KD', a: 'lcmr-log', b: 'kd', target: null },
    { name: 'CKDF - CRD only', a: 'ckdf', b: 'crd-only', target: null },
    { name: 'CRD only - KD', a: 'crd-only', b: 'kd', target: null },
    { name: 'CRD only - student alone', a: 'crd-only', b: 'student-alone', target: null },
    { name: 'KD - student alone', a: 'kd', b: 'student-alone', target: null },
  ];
  const verdicts = comparisons.map((c) => {
    const a = rows.find((r) => r.variant === c.a)!;
    const b = rows.find((r) => r.variant === c.b)!;
    if (a.mean === null || b.mean === null) return { ...c, difference: null };
    const difference = a.mean - b.mean;
    // Noise of the difference: seed-to-seed spread where both have it, else the test set's own.
    const noise =
      a.sd !== null && b.sd !== null
        ? Math.sqrt(a.sd ** 2 / a.accuracies.length + b.sd ** 2 / b.accuracies.length)
        : Math.sqrt(
            (a.mean * (1 - a.mean)) / testImages / a.accuracies.length +
              (b.mean * (1 - b.mean)) / testImages / b.accuracies.length,
          );
    const ranking =
      Math.abs(difference) < noise ? 'tie' : difference > 0 ? `${c.a} ahead` : `${c.b} ahead`;
    const met = c.target === null ? null : difference >= c.target;
    return { ...c, difference, noise, ranking, met };
  });
  console.log('\n| comparison | difference (pt) | noise (pt) | reading | target | met |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const v of verdicts) {
    if (v.difference === null) {
      console.log(`| ${v.name} | - | - | not run | - | - |`);
      continue;
    }
    const target = v.target === null ? '-' : `>= ${(100 * v.target).toFixed(1)} pt`;
    const met = v.met === null ? '-' : v.met ? 'yes' : 'no';
    console.log(
      `| ${v.name} | ${(100 * v.difference).toFixed(2)} | ${(100 * v.noise!).toFixed(2)} | ` +
        `${v.ranking} | ${target} | ${met} |`,
    );
  }
  if (jsonOut)
    writeFileSync(jsonOut, JSON.stringify({ scale, teacher, rows, verdicts }, null, 2) + '\n');
}

main();
