import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';
import type { JobProgress, JobRoundRecord, JobState } from './job.types';

export interface JobRow {
  id: string;
  name: string;
  state: JobState;
  model_id: string;
  variant_id: string;
  spec_json: string;
  progress_json: string;
  result_variant_id: string | null;
  error: string | null;
  attempts: number;
  cancel_requested: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface JobRoundRow {
  job_id: string;
  seq: number;
  method: string;
  round: number;
  record_json: string;
  variant_id: string | null;
  recorded_at: number;
}

/** SQL of the jobs tables. Writers are called inside the service's transactions. */
@Injectable()
export class JobsRepository {
  constructor(private readonly database: SqliteDatabase) {}

  insert(
    row: Omit<JobRow, 'attempts' | 'cancel_requested' | 'progress_json'> & {
      progress: JobProgress;
    },
  ): void {
    this.database.db
      .prepare(
        `INSERT INTO jobs (id, name, state, model_id, variant_id, spec_json, progress_json, result_variant_id,
           error, created_at, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        row.id,
        row.name,
        row.state,
        row.model_id,
        row.variant_id,
        row.spec_json,
        JSON.stringify(row.progress),
        row.result_variant_id,
        row.error,
        row.created_at,
        row.started_at,
        row.finished_at,
      );
  }

  get(id: string): JobRow | undefined {
    return this.database.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as
      JobRow | undefined;
  }

  list(limit: number): JobRow[] {
    return this.database.db
      .prepare('SELECT * FROM jobs ORDER BY created_at DESC, id LIMIT ?')
      .all(limit) as JobRow[];
  }

  inState(state: JobState): JobRow[] {
    return this.database.db
      .prepare('SELECT * FROM jobs WHERE state = ? ORDER BY created_at, id')
      .all(state) as JobRow[];
  }

  /** Moves the oldest queued job to running; undefined when none is queued. */
  claimNext(now: number): JobRow | undefined {
    const next = this.database.db
      .prepare(`SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at, id LIMIT 1`)
      .get() as { id: string } | undefined;
    if (!next) return undefined;
    this.database.db
      .prepare(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1,
           started_at = COALESCE(started_at, ?) WHERE id = ?`,
      )
      .run(now, next.id);
    return this.get(next.id);
  }

  setState(
    id: string,
    state: JobState,
    fields: { error?: string | null; resultVariantId?: string | null; finishedAt?: number | null },
  ): void {
    this.database.db
      .prepare(
        `UPDATE jobs SET state = ?, error = COALESCE(?, error),
           result_variant_id = COALESCE(?, result_variant_id), finished_at = ? WHERE id = ?`,
      )
      .run(
        state,
        fields.error ?? null,
        fields.resultVariantId ?? null,
        fields.finishedAt ?? null,
        id,
      );
  }

  requestCancel(id: string): void {
    this.database.db.prepare('UPDATE jobs SET cancel_requested = 1 WHERE id = ?').run(id);
  }

  setProgress(id: string, progress: JobProgress): void {
    this.database.db
      .prepare('UPDATE jobs SET progress_json = ? WHERE id = ?')
      .run(JSON.stringify(progress), id);
  }

  rounds(jobId: string): JobRoundRow[] {
    return this.database.db
      .prepare('SELECT * FROM job_rounds WHERE job_id = ? ORDER BY seq')
      .all(jobId) as JobRoundRow[];
  }

  round(jobId: string, method: string, round: number): JobRoundRow | undefined {
    return this.database.db
      .prepare('SELECT * FROM job_rounds WHERE job_id = ? AND method = ? AND round = ?')
      .get(jobId, method, round) as JobRoundRow | undefined;
  }

  insertRound(jobId: string, record: JobRoundRecord, now: number): void {
    const seq = this.database.db
      .prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM job_rounds WHERE job_id = ?')
      .get(jobId) as { seq: number };
    this.database.db
      .prepare(
        `INSERT INTO job_rounds (job_id, seq, method, round, record_json, variant_id, recorded_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        jobId,
        seq.seq,
        record.method,
        record.round,
        JSON.stringify(record),
        record.variantId,
        now,
      );
  }

  log(jobId: string, message: string, now: number): void {
    this.database.db
      .prepare('INSERT INTO job_log (job_id, at, message) VALUES (?, ?, ?)')
      .run(jobId, now, message.slice(0, 4000));
  }

  logLines(jobId: string): { at: number; message: string }[] {
    return this.database.db
      .prepare('SELECT at, message FROM job_log WHERE job_id = ? ORDER BY id')
      .all(jobId) as { at: number; message: string }[];
  }
}
