/**
 * Runs queued jobs in child processes, at most `concurrency` at once. Each child's messages are
 * handled in order (a round is recorded before the job can finish); its latency questions are
 * answered by the fleet's latency service. At start, jobs a previous process left running are
 * queued again and resume from their last checkpoint; at shutdown the children are stopped and
 * their jobs stay `running`, to be resumed by the next start.
 */
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { LOGGER, type Logger } from '../common/logger';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { ModelsService } from '../models/models.service';
import { JOB_LATENCY, type JobLatencyPort } from './job-latency.port';
import { JobProcess } from './job-process.runner';
import type { JobSpec } from './job.types';
import { deviceKey, JobsService } from './jobs.service';
import { writeFileAtomically } from './worker/job-checkpoint.store';
import type { ChildMessage, WorkerLatencyAnswer } from './worker/job-worker.protocol';

interface RunningJob {
  process: JobProcess;
  abort: AbortController;
  /** Messages are handled one after another, in the order the child sent them. */
  chain: Promise<void>;
  outcome: { type: 'done' } | { type: 'failed'; error: string } | null;
  cancelled: boolean;
}

@Injectable()
export class JobRunnerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly running = new Map<string, RunningJob>();
  private stopping = false;

  constructor(
    private readonly jobs: JobsService,
    private readonly models: ModelsService,
    private readonly artifacts: ArtifactsService,
    @Inject(JOB_LATENCY) private readonly latency: JobLatencyPort,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    const requeued = this.jobs.requeueInterrupted();
    if (requeued) this.logger.info({ requeued }, 'jobs interrupted by a restart are queued again');
    this.jobs.onQueued(() => this.fill());
    this.jobs.onCancelRequested((id) => void this.stopForCancel(id));
    this.fill();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.running.values()].map((r) => this.stop(r)));
  }

  /** Jobs running in this process now. */
  runningIds(): string[] {
    return [...this.running.keys()];
  }

  private fill(): void {
    while (!this.stopping && this.running.size < this.config.jobs.concurrency) {
      const row = this.jobs.claimNext();
      if (!row) return;
      try {
        this.launch(row.id);
      } catch (err) {
        this.jobs.finish(
          row.id,
          'failed',
          `could not start the job process: ${(err as Error).message}`,
        );
      }
    }
  }

  private workDir(jobId: string): string {
    return join(this.config.dataDir, 'jobs', jobId);
  }

  private launch(jobId: string): void {
    const spec = this.jobs.spec(jobId);
    const row = this.jobs.row(jobId);
    const variant = this.models.getVariant(row.variant_id);
    const format = variant.format === 'onnx' ? 'onnx' : 'engine';
    const job: RunningJob = {
      process: undefined as unknown as JobProcess,
      abort: new AbortController(),
      chain: Promise.resolve(),
      outcome: null,
      cancelled: false,
    };
    // The child reads the base model from its work dir: it never opens the artifact store.
    const workDir = this.workDir(jobId);
    const baseModelPath = join(workDir, format === 'onnx' ? 'base.onnx' : 'base.ecm');
    if (!existsSync(baseModelPath)) {
      mkdirSync(workDir, { recursive: true });
      writeFileAtomically(baseModelPath, this.artifacts.read(variant.artifactSha256));
    }
    job.process = new JobProcess({
      onMessage: (message) => {
        job.chain = job.chain
          .then(() => this.handle(jobId, spec, job, message))
          .catch((err: Error) => {
            job.outcome = { type: 'failed', error: `recording the job's output: ${err.message}` };
            void job.process.kill();
          });
      },
      onExit: (code, signal, stderrTail) => {
        void job.chain.then(() => this.onExit(jobId, job, code, signal, stderrTail));
      },
    });
    this.running.set(jobId, job);
    job.process.send({
      type: 'start',
      jobId,
      spec,
      baseModelPath,
      baseFormat: format,
      workDir,
      deviceKey: deviceKey(spec),
    });
    this.logger.info({ jobId, pid: job.process.pid }, 'job process started');
  }

  private async handle(
    jobId: string,
    spec: JobSpec,
    job: RunningJob,
    message: ChildMessage,
  ): Promise<void> {
    switch (message.type) {
      case 'progress':
        this.jobs.setProgress(jobId, message.progress);
        return;
      case 'log':
        this.jobs.addLog(jobId, message.message);
        return;
      case 'round':
        await this.jobs.recordRound(jobId, message);
        return;
      case 'latency':
        // Answered concurrently: a long fleet measurement must not hold up progress messages.
        void this.answerLatency(spec, job, message).then((answer) => job.process.send(answer));
        return;
      case 'done':
      case 'failed':
        // A failure to record the child's output stands even if the child then ends well.
        if (job.outcome?.type !== 'failed') job.outcome = message;
        return;
    }
  }

  private async answerLatency(
    spec: JobSpec,
    job: RunningJob,
    request: Extract<ChildMessage, { type: 'latency' }>,
  ): Promise<WorkerLatencyAnswer> {
    const base = { type: 'latency-answer' as const, requestId: request.requestId };
    const o = spec.objective;
    try {
      const onnx = Buffer.from(request.onnxBase64, 'base64');
      const profileId = this.jobs.profileFor(spec);
      if (o.latencySource === 'predicted' || (request.mode === 'predict' && profileId)) {
        if (!profileId) throw new Error('no device profile to predict for');
        const { ms } = this.latency.predict(onnx, profileId);
        return { ...base, ok: true, p50Ms: ms, source: 'predicted', predictedMs: ms };
      }
      const answer = await this.latency.measure(
        {
          onnx,
          inputShape: request.inputShape,
          selector: o.device!,
          fallback: o.fallback ?? 'fail',
          ...(o.k !== undefined ? { k: o.k } : {}),
          ...(o.waitForDevicesMs !== undefined ? { waitForDevicesMs: o.waitForDevicesMs } : {}),
          ...(profileId ? { profileId } : {}),
          label: request.label,
        },
        job.abort.signal,
      );
      const median = (values: number[]): number | undefined => {
        if (values.length === 0) return undefined;
        const sorted = [...values].sort((a, b) => a - b);
        return sorted[Math.floor((sorted.length - 1) / 2)];
      };
      const p90 = median(answer.perDevice.map((d) => d.p90Ms));
      const p99 = median(answer.perDevice.map((d) => d.p99Ms));
      return {
        ...base,
        ok: true,
        p50Ms: answer.p50Ms,
        ...(p90 !== undefined ? { p90Ms: p90 } : {}),
        ...(p99 !== undefined ? { p99Ms: p99 } : {}),
        source: answer.source,
        predictedMs: answer.predictedMs,
      };
    } catch (err) {
      return { ...base, ok: false, error: (err as Error).message };
    }
  }

  private onExit(
    jobId: string,
    job: RunningJob,
    code: number | null,
    signal: NodeJS.Signals | null,
    stderrTail: string,
  ): void {
    this.running.delete(jobId);
    job.abort.abort();
    if (this.stopping && !job.cancelled) return; // stays running; resumed at the next start
    if (job.cancelled) {
      this.jobs.finish(jobId, 'cancelled');
    } else if (job.outcome?.type === 'done') {
      this.jobs.finish(jobId, 'succeeded');
    } else {
      const why =
        job.outcome?.type === 'failed'
          ? job.outcome.error
          : `the job process ended unexpectedly (${signal ?? `exit code ${code}`})` +
            (stderrTail.trim() ? `: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}` : '');
      this.jobs.finish(jobId, 'failed', why);
    }
    if (this.jobs.row(jobId).state !== 'failed') {
      // Checkpoints are only for resuming; the variants are in the artifact store.
      rmSync(this.workDir(jobId), { recursive: true, force: true });
    }
    this.fill();
  }

  private async stopForCancel(jobId: string): Promise<void> {
    const job = this.running.get(jobId);
    if (!job) return;
    job.cancelled = true;
    await this.stop(job);
  }

  private async stop(job: RunningJob): Promise<void> {
    job.abort.abort();
    await job.process.kill();
    await job.chain;
  }
}
