/**
 * Inbound commands: decode and validate, answer bad ones with a typed error event, apply each
 * id at most once (a redelivered id is acknowledged again, and its final event re-sent if it
 * has one), and run jobs one at a time so benchmarks never overlap. Every accepted command
 * ends in exactly one final event: its success event or an error.
 */
import { createHash } from 'node:crypto';
import {
  COMMAND_ID_PATTERN,
  COMMAND_TYPES,
  decodeMessage,
  parseJsonPayload,
  type CommandMessage,
  type ProgressStep,
} from '@edgecompress/protocol';
import { toAgentError } from '../agent-error';
import type { AgentServices } from '../agent-services';
import { runJob, type EventBody, type JobContext, type JobDefinition } from '../jobs/command-job';
import type { CommandJournalStore, CommandRecord } from '../store/command-journal-store';
import { activateJob } from './activate.handler';
import { benchmarkJob } from './benchmark.handler';
import { deployJob } from './deploy.handler';
import { rollbackJob } from './rollback.handler';

export interface EventSink {
  /** Persists and queues one event for `commandId` with the given seq. */
  send(commandId: string, seq: number, body: EventBody): void;
}

export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

const PROGRESS_MIN_INTERVAL_MS = 1000;

export class CommandDispatcher {
  private queue: Promise<void> = Promise.resolve();
  private readonly cancelled = new Set<string>();
  private current: string | undefined;

  constructor(
    private readonly services: AgentServices,
    private readonly journal: CommandJournalStore,
    private readonly sink: EventSink,
    private readonly log: Logger,
  ) {}

  /** One message from the command topic. Never throws. */
  receive(topic: string, payload: Buffer): void {
    try {
      this.receiveUnsafe(topic, payload);
    } catch (err) {
      this.log.warn('command handling failed', { error: (err as Error).message });
    }
  }

  private receiveUnsafe(topic: string, payload: Buffer): void {
    const decoded = decodeMessage(topic, payload);
    if (!decoded.ok) {
      const id = this.idOfInvalid(payload);
      const code = this.isUnknownType(payload) ? 'UNKNOWN_COMMAND' : decoded.error.code;
      this.log.warn('rejected command', { id, code, reason: decoded.error.message });
      this.reject(id, code, decoded.error.message);
      return;
    }
    if (decoded.value.kind !== 'cmd') return;
    const cmd = decoded.value.message;
    const known = this.journal.get(cmd.id);
    if (known) {
      this.sendEvent(known, { type: 'ack', duplicate: true });
      if (known.state === 'done' && known.result) {
        this.sink.send(known.id, (known.result as { seq: number }).seq, known.result as EventBody);
      }
      return;
    }
    const record: CommandRecord = {
      id: cmd.id,
      type: cmd.type,
      receivedAt: this.services.clock.now(),
      command: cmd,
      state: 'queued',
      nextSeq: 0,
      step: 0,
      data: {},
      resultQueued: false,
    };
    this.journal.save(record);
    this.sendEvent(record, { type: 'ack', duplicate: false });
    if (cmd.deadline < this.services.clock.now()) {
      this.finish(record, {
        type: 'error',
        code: 'DEADLINE_EXCEEDED',
        message: 'received after its deadline',
        retryable: false,
      });
      return;
    }
    if (cmd.type === 'ping') {
      this.finish(record, {
        type: 'pong',
        uptimeMs: Math.max(0, this.services.clock.now() - this.services.startedAt),
      });
      return;
    }
    if (cmd.type === 'cancel') {
      this.cancel(cmd.target);
      this.finish(record, {
        type: 'pong',
        uptimeMs: Math.max(0, this.services.clock.now() - this.services.startedAt),
      });
      return;
    }
    this.enqueue(record);
  }

  /** Re-queues commands a restart interrupted, and queues final events a crash did not. */
  resumeUnfinished(): void {
    for (const record of this.journal.unfinished()) {
      if (record.state === 'done') {
        if (record.result) this.queueFinal(record);
        continue;
      }
      this.log.info('resuming command', { id: record.id, type: record.type, step: record.step });
      this.enqueue(record);
    }
  }

  /** Resolves when every queued job has finished (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(record: CommandRecord): void {
    this.queue = this.queue.then(() => this.execute(record));
  }

  private cancel(target: string): void {
    const record = this.journal.get(target);
    if (!record || record.state === 'done') return;
    this.cancelled.add(target);
    if (this.current === target) this.services.runner.killAll();
  }

  private jobFor(cmd: CommandMessage): JobDefinition | undefined {
    switch (cmd.type) {
      case 'deploy':
        return deployJob(this.services, cmd);
      case 'benchmark':
        return benchmarkJob(this.services, cmd);
      case 'activate':
        return activateJob(this.services, cmd);
      case 'rollback':
        return rollbackJob(this.services, cmd);
      default:
        return undefined;
    }
  }

  private async execute(record: CommandRecord): Promise<void> {
    const cmd = record.command as CommandMessage;
    if (this.cancelled.delete(record.id)) {
      this.finish(record, {
        type: 'error',
        code: 'CANCELLED',
        message: 'cancelled before it started',
        retryable: false,
      });
      return;
    }
    const job = this.jobFor(cmd);
    if (!job) {
      this.finish(record, {
        type: 'error',
        code: 'UNKNOWN_COMMAND',
        message: `no job for ${cmd.type}`,
        retryable: false,
      });
      return;
    }
    record.state = 'running';
    this.journal.save(record);
    this.current = record.id;
    let lastProgress = 0;
    const ctx: JobContext = {
      record,
      data: { ...record.data },
      cancelled: () => this.cancelled.has(record.id),
      progress: (step: ProgressStep, fraction: number, note?: string) => {
        const now = this.services.clock.now();
        if (fraction > 0 && fraction < 1 && now - lastProgress < PROGRESS_MIN_INTERVAL_MS) return;
        lastProgress = now;
        this.sendEvent(record, { type: 'progress', step, fraction, ...(note ? { note } : {}) });
      },
    };
    let final: EventBody;
    try {
      final = await runJob(job, ctx, this.journal);
    } catch (err) {
      const e = this.cancelled.has(record.id)
        ? { code: 'CANCELLED' as const, message: 'cancelled while running', retryable: false }
        : toAgentError(err);
      final = {
        type: 'error',
        code: e.code,
        message: e.message.slice(0, 2000),
        retryable: e.retryable,
      };
    } finally {
      this.current = undefined;
      this.cancelled.delete(record.id);
    }
    this.log.info('command finished', { id: record.id, type: record.type, result: final.type });
    this.finish(record, final);
  }

  private sendEvent(record: CommandRecord, body: EventBody): void {
    const seq = record.nextSeq++;
    this.journal.save(record);
    this.sink.send(record.id, seq, body);
  }

  /** Records the final event first, then queues it: a crash in between re-queues it at start. */
  private finish(record: CommandRecord, body: EventBody): void {
    record.state = 'done';
    record.result = { ...body, seq: record.nextSeq++ };
    record.resultQueued = false;
    this.journal.save(record);
    this.queueFinal(record);
  }

  private queueFinal(record: CommandRecord): void {
    const result = record.result as EventBody & { seq: number };
    const { seq, ...body } = result;
    this.sink.send(record.id, seq, body as EventBody);
    record.resultQueued = true;
    this.journal.save(record);
  }

  /** An invalid command still names its id when it has a usable one; else a stable stand-in. */
  private idOfInvalid(payload: Buffer): string {
    const json = parseJsonPayload(payload);
    if (json.ok && typeof json.value === 'object' && json.value !== null) {
      const id = (json.value as { id?: unknown }).id;
      if (typeof id === 'string' && COMMAND_ID_PATTERN.test(id)) return id;
    }
    return `invalid-${createHash('sha256').update(payload).digest('hex').slice(0, 16)}`;
  }

  private isUnknownType(payload: Buffer): boolean {
    const json = parseJsonPayload(payload);
    if (!json.ok || typeof json.value !== 'object' || json.value === null) return false;
    const type = (json.value as { type?: unknown }).type;
    return typeof type === 'string' && !(COMMAND_TYPES as readonly string[]).includes(type);
  }

  /** Error for a command that failed validation; an id seen before is not answered twice. */
  private reject(
    id: string,
    code: Extract<EventBody, { type: 'error' }>['code'],
    message: string,
  ): void {
    const known = this.journal.get(id);
    if (known) {
      if (known.result)
        this.sink.send(known.id, (known.result as { seq: number }).seq, known.result as EventBody);
      return;
    }
    const record: CommandRecord = {
      id,
      type: 'invalid',
      receivedAt: this.services.clock.now(),
      command: null,
      state: 'queued',
      nextSeq: 0,
      step: 0,
      data: {},
      resultQueued: false,
    };
    this.finish(record, { type: 'error', code, message: message.slice(0, 2000), retryable: false });
  }
}
