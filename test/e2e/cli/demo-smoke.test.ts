/**
 * `edgec demo` on a reduced budget, as a real process: control plane, three agent processes,
 * baseline, a latency-steered AAP+SQAKD job and canary-first rollouts. Checks that both
 * rollouts succeeded on all three agents, the job produced a winner, the latency report names
 * the three agents, and no process the demo started outlives it.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from '@edgecompress/testing';
import { startFixture } from '../control-plane/control-plane.fixture';
import { edgec } from './cli-run';

interface Summary {
  baselineRollout: { state: string; targets: { deviceId: string; step: string }[] };
  baselineVariantId: string;
  job: {
    state: string;
    variantId: string;
    resultVariantId: string | null;
    deployableVariantId: string | null;
    objectiveMet: boolean | null;
    rounds: { method: string }[];
  } | null;
  winnerRollout: {
    state: string;
    variantId: string;
    targets: { deviceId: string; step: string }[];
  } | null;
  latencyReport: unknown;
}

const AGENTS = ['demo-edge-1', 'demo-edge-2', 'demo-slow-1'];

/** Processes whose command line mentions `needle` (the demo's data dir is in every agent's). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('edgec demo, reduced budget (real processes)', () => {
  const dir = makeTempDir('edgec-demo-');
  after(() => dir.cleanup());

  let winnerVariantId = '';
  // The baseline's rollout, plus the winner's when the job found a better deployable variant.
  let rolloutCount = 0;

  it('rolls the baseline and the job winner out to all three agents and reports them', async () => {
    const summaryPath = join(dir.path, 'summary.json');
    const run = await edgec(
      [
        'demo',
        '--data-dir',
        join(dir.path, 'data'),
        '--summary',
        summaryPath,
        '--train-limit',
        '600',
        '--test-limit',
        '200',
        '--epochs',
        '1',
        '--job-train-limit',
        '300',
        '--job-test-limit',
        '200',
        '--aap-rounds',
        '2',
        '--aap-steps',
        '4',
        '--sqakd-steps',
        '4',
        '--max-drop',
        '100',
        '--soak',
        '300ms',
      ],
      { EC_LOG_LEVEL: 'error' },
      240_000,
    );
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as Summary;
    assert.deepEqual(processesMentioning(dir.path), [], 'no demo process outlives the demo');

    assert.equal(summary.baselineRollout.state, 'succeeded');
    assert.deepEqual(
      summary.baselineRollout.targets.map((t) => [t.deviceId, t.step]).sort(),
      AGENTS.map((id) => [id, 'done']),
    );

    assert.equal(summary.job?.state, 'succeeded');
    assert.ok(summary.job.resultVariantId, 'the job names a winner');
    assert.deepEqual([...new Set(summary.job.rounds.map((r) => r.method))].sort(), [
      'aap',
      'sqakd',
    ]);

    assert.equal(
      typeof summary.job.objectiveMet,
      'boolean',
      'the job says if it met its objective',
    );
    assert.match(run.stdout, /^objective (met|not met)/m);

    // The job works on the engine-format baseline; what is rolled out is the result's ONNX twin.
    // A job that kept nothing returns the baseline, which the fleet already runs.
    if (summary.job.resultVariantId !== summary.job.variantId) {
      assert.ok(summary.job.deployableVariantId, 'the winner has a deployable ONNX variant');
      assert.equal(summary.winnerRollout?.state, 'succeeded');
      assert.equal(summary.winnerRollout.variantId, summary.job.deployableVariantId);
      assert.deepEqual(
        summary.winnerRollout.targets.map((t) => [t.deviceId, t.step]).sort(),
        AGENTS.map((id) => [id, 'done']),
      );
      winnerVariantId = summary.winnerRollout.variantId;
      rolloutCount = 2;
    } else {
      assert.equal(summary.winnerRollout, null);
      assert.match(run.stderr, /the baseline stays deployed/);
      winnerVariantId = summary.baselineVariantId;
      rolloutCount = 1;
    }

    const report = JSON.stringify(summary.latencyReport);
    for (const id of AGENTS) assert.ok(report.includes(`"${id}"`), `latency report lists ${id}`);
    for (const heading of ['== 4/6 compression job', '== 5/6 trajectory', 'Pareto set'])
      assert.ok(run.stdout.includes(heading), `output shows "${heading}"`);
  });

  it('leaves a data dir that a restarted control plane serves: devices, jobs, rollouts, latency report', async () => {
    assert.ok(winnerVariantId, 'needs the demo run above');
    const fx = await startFixture({}, { path: join(dir.path, 'data'), cleanup: () => undefined });
    try {
      const env = { EDGEC_URL: fx.cp.httpUrl, EDGEC_TOKEN: fx.token };
      const devices = await edgec(['devices', 'ls', '--tag', 'demo'], env);
      assert.equal(devices.code, 0, devices.stderr);
      for (const id of AGENTS)
        assert.match(devices.stdout, new RegExp(`^${id}\\s.*\\s${winnerVariantId}\\s`, 'm'));

      const rollouts = await edgec(['rollouts', 'ls'], env);
      assert.equal(
        rollouts.stdout.match(/\ssucceeded\s+3\/3\s/g)?.length,
        rolloutCount,
        rollouts.stdout,
      );
      const jobs = await edgec(['jobs', 'ls'], env);
      assert.match(jobs.stdout, /\ssucceeded\s+aap,sqakd\s/);

      const report = await edgec(['reports', 'latency', '--variant', winnerVariantId], env);
      assert.equal(report.code, 0, report.stderr);
      assert.match(
        report.stdout,
        /^SCOPE\s+DEVICE\s+PROFILE\s+VARIANT\s+DEVICES\s+N\s+P50 MS\s+P90 MS\s+P99 MS/m,
      );
      for (const id of AGENTS)
        assert.match(report.stdout, new RegExp(`^device\\s+${id}\\s.*\\s\\d+\\.\\d+\\s`, 'm'));
      const csv = await edgec(['reports', 'latency', '--variant', winnerVariantId, '--csv'], env);
      assert.equal(csv.code, 0, csv.stderr);
      const lines = csv.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /p50/i);
      for (const id of AGENTS)
        assert.ok(
          lines.some((l) => l.includes(id)),
          `CSV lists ${id}`,
        );
    } finally {
      await fx.close();
    }
  });
});
