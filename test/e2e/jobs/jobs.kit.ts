/**
 * What the job tests share: a tiny engine model uploaded as a model, job requests on synthetic
 * data small enough for seconds per round, and polling of a job's state over REST.
 */
import { buildSmallCnn, exportOnnx, serializeModel } from '@edgecompress/engine';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import type { JobView } from '../../../apps/control-plane/src/jobs/job.types';

export interface BaseModel {
  modelId: string;
  variantId: string;
}

/** A control plane that runs one job at a time, with the small CNN uploaded as its base model. */
export async function startJobsFixture(): Promise<{ fx: ControlPlaneFixture; base: BaseModel }> {
  const fx = await startFixture({ EC_JOB_CONCURRENCY: '1' });
  return { fx, base: await uploadBaseModel(fx) };
}

/** Closes the control plane and removes its data dir. */
export async function stopFixture(fx: ControlPlaneFixture | undefined): Promise<void> {
  if (!fx) return;
  await fx.close();
  fx.dir.cleanup();
}

/** POST /api/v1/jobs with the operator's token. */
export function postJob(fx: ControlPlaneFixture, body: object) {
  return fx.api().post('/api/v1/jobs').set(fx.auth).send(body);
}

/**
 * Uploads a small CNN and returns its original variant id: as an engine model file, or as ONNX
 * (the form devices run, so its variants can be rolled out).
 */
export async function uploadBaseModel(
  fx: ControlPlaneFixture,
  inputShape: [number, number, number] = [8, 8, 1],
  numClasses = 4,
  format: 'engine' | 'onnx' = 'engine',
): Promise<BaseModel> {
  const model = buildSmallCnn({ inputShape, numClasses, widths: [6, 8, 12], seed: 1 });
  const res = await fx
    .api()
    .post(`/api/v1/models?name=tiny-cnn&format=${format}`)
    .set(fx.auth)
    .set('Content-Type', 'application/octet-stream')
    .send(Buffer.from(format === 'onnx' ? exportOnnx(model) : serializeModel(model)));
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(res.body)}`);
  return { modelId: res.body.id as string, variantId: res.body.variants[0].id as string };
}

export function jobRequest(variantId: string, extra: Record<string, unknown> = {}) {
  return {
    variantId,
    dataset: { name: 'synthetic', limitTrain: 300, limitTest: 100 },
    pipeline: ['aap'],
    options: {
      aap: { maxRounds: 3, steps: 4, batchSize: 32, validationCount: 60, calibrationBatches: 1 },
    },
    objective: {
      metric: 'params',
      target: 0.5,
      maxAccuracyDrop: 50,
      device: { profileId: 'generic-x86-64' },
      latencySource: 'predicted',
    },
    ...extra,
  };
}

/**
 * A parameter objective whose latencies the agents of `group` measure: the first online device
 * (k=1 unless said), failing the job when none comes online within 10 s.
 */
export function measuredObjective(group: string, extra: Record<string, unknown>) {
  return {
    metric: 'params',
    device: { group },
    latencySource: 'measured',
    fallback: 'fail',
    k: 1,
    waitForDevicesMs: 10_000,
    ...extra,
  };
}

export async function getJob(fx: ControlPlaneFixture, id: string): Promise<JobView> {
  const res = await fx.api().get(`/api/v1/jobs/${id}`).set(fx.auth);
  if (res.status !== 200) throw new Error(`GET job: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as JobView;
}

/** Polls until `check` holds for the job; the job's last view is in the error otherwise. */
export async function waitForJob(
  fx: ControlPlaneFixture,
  id: string,
  check: (job: JobView) => boolean,
  timeoutMs: number,
  what: string,
): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(fx, id);
    if (check(job)) return job;
    if (Date.now() > deadline) {
      throw new Error(`${what} not reached in ${timeoutMs} ms: ${JSON.stringify(job)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const finished = (job: JobView): boolean =>
  job.state === 'succeeded' || job.state === 'failed' || job.state === 'cancelled';
