/**
 * `edgec jobs create|ls|get|watch|cancel` as real processes against a real control plane whose
 * jobs run in their own child processes: a one-round AAP job on synthetic data (predicted
 * latency, no devices needed) followed to success, a second one cancelled, and the errors a
 * user sees for bad flags and unknown ids.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { buildModel, saveModel, syntheticDataset } from '@edgecompress/engine';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import { edgec } from './cli-run';

describe('edgec jobs against a real control plane', () => {
  let fx: ControlPlaneFixture;
  let env: Record<string, string>;
  let variantId = '';

  before(async () => {
    fx = await startFixture();
    env = { EDGEC_URL: fx.cp.httpUrl, EDGEC_TOKEN: fx.token };
    const data = syntheticDataset();
    const path = join(fx.dir.path, 'start.ecm');
    saveModel(
      path,
      buildModel('small-cnn', {
        inputShape: data.inputShape,
        numClasses: data.numClasses,
        seed: 1,
      }),
    );
    const res = await fx
      .api()
      .post('/api/v1/models?name=cnn&format=engine')
      .set(fx.auth)
      .set('Content-Type', 'application/octet-stream')
      .send(readFileSync(path));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    variantId = (res.body as { variants: { id: string }[] }).variants[0]!.id;
  });
  after(async () => {
    await fx.close();
    fx.dir.cleanup();
  });

  const jobArgs = (name: string) => [
    'jobs',
    'create',
    '--variant',
    variantId,
    '--name',
    name,
    '--dataset',
    'synthetic',
    '--limit-train',
    '256',
    '--limit-test',
    '128',
    '--pipeline',
    'aap',
    '--metric',
    'accuracy',
    '--max-drop',
    '100',
    '--latency-source',
    'predicted',
    '--options',
    '{"aap":{"maxRounds":1,"steps":2,"batchSize":16,"validationCount":64,"calibrationBatches":1}}',
  ];

  it('create --watch follows the job to success: rounds logged, trajectory table, exit 0', async () => {
    const r = await edgec([...jobArgs('cli-watch'), '--watch', '--json'], env, 180_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stderr,
      /aap round 0: params [\d.k]+, FLOPs [\d.kM]+, accuracy [\d.]+%, .*-> baseline/,
    );
    assert.match(r.stdout, /^job job_\w+ \(cli-watch\): succeeded$/m);
    assert.match(
      r.stdout,
      /^METHOD\s+ROUND\s+THRESHOLD\s+PARAMS\s+FLOPS\s+SIZE\s+ACCURACY\s+P50 MS/m,
    );
    assert.match(r.stdout, /^aap\s+0\s+.*baseline/m);
    assert.match(r.stdout, /^\s+result\s+variant var_\w+$/m);
    const id = /"id": "(job_\w+)"/.exec(r.stdout)![1]!;

    const got = await edgec(['jobs', 'get', id], env);
    assert.equal(got.code, 0, got.stderr);
    assert.match(got.stdout, new RegExp(`job ${id} \\(cli-watch\\): succeeded`));
    assert.match(got.stdout, /pipeline\s+aap/);
    assert.match(got.stdout, /objective\s+accuracy, max accuracy drop 100, predicted latency/);

    const listed = await edgec(['jobs', 'ls'], env);
    assert.match(listed.stdout, new RegExp(`^${id}\\s+cli-watch\\s+succeeded\\s+aap`, 'm'));

    const modelId = /"modelId": "(mdl_\w+)"/.exec(r.stdout)![1]!;
    const pareto = await edgec(['reports', 'pareto', '--model', modelId], env);
    assert.equal(pareto.code, 0, pareto.stderr);
    const rows = pareto.stdout.trimEnd().split('\n');
    assert.match(rows[0]!, /^FRONT\s+VARIANT\s+METHOD\s+ACCURACY\s+P50 MS\s+SOURCE\s+SIZE/);
    assert.ok(rows.length >= 3, 'the original and at least one candidate');
    assert.ok(
      rows.slice(1).some((row) => row.startsWith('*')),
      'the front is marked',
    );
    assert.ok(rows.slice(1).some((row) => /\boriginal\b/.test(row)));
  });

  it('cancel stops a job; watching it then exits 2', async () => {
    const created = await edgec([...jobArgs('cli-cancel'), '--json'], env);
    assert.equal(created.code, 0, created.stderr);
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    const cancelled = await edgec(['jobs', 'cancel', id], env);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    const watched = await edgec(['jobs', 'watch', id, '--poll-ms', '200'], env, 60_000);
    assert.equal(watched.code, 2, watched.stdout + watched.stderr);
    assert.match(watched.stdout, new RegExp(`job ${id} \\(cli-cancel\\): cancelled`));
  });

  it('bad flags are refused before any request; the server 4xx is shown for an unknown variant', async () => {
    const badMethod = await edgec(
      ['jobs', 'create', '--variant', variantId, '--pipeline', 'aap,zip'],
      env,
    );
    assert.equal(badMethod.code, 1);
    assert.match(badMethod.stderr, /--pipeline: unknown method "zip"/);
    const noDevices = await edgec(
      ['jobs', 'create', '--variant', variantId, '--metric', 'latency', '--target', '2'],
      env,
    );
    assert.equal(noDevices.code, 1);
    assert.match(noDevices.stderr, /a latency objective needs target devices/);
    const badJson = await edgec(
      ['jobs', 'create', '--variant', variantId, '--options', '{aap'],
      env,
    );
    assert.equal(badJson.code, 1);
    assert.match(badJson.stderr, /--options is not valid JSON/);
    const unknown = await edgec(
      ['jobs', 'create', '--variant', 'var_missing', '--latency-source', 'predicted'],
      env,
    );
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /POST \/api\/v1\/jobs: 404 .*var_missing/);
    const cancelMissing = await edgec(['jobs', 'cancel', 'job_missing'], env);
    assert.equal(cancelMissing.code, 1);
    assert.match(cancelMissing.stderr, /404/);
  });
});
