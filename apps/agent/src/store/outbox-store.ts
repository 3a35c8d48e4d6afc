/**
 * Outgoing messages persisted before they are published and deleted only after the broker
 * acknowledged them, so events produced while offline (or before a crash) are sent after the
 * next connect, in the order they were produced.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from './atomic-file';

export interface OutgoingMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
}

export interface QueuedMessage extends OutgoingMessage {
  seq: number;
}

const NAME = /^(\d{12})\.json$/;

export class OutboxStore {
  private readonly dir: string;
  private nextSeq: number;

  constructor(
    dataDir: string,
    /** Oldest entries are dropped beyond this, so a device offline for months cannot fill its disk. */
    private readonly maxEntries = 10_000,
  ) {
    this.dir = join(dataDir, 'outbox');
    mkdirSync(this.dir, { recursive: true });
    const seqs = this.seqs();
    this.nextSeq = seqs.length ? seqs[seqs.length - 1]! + 1 : 0;
  }

  private seqs(): number[] {
    return readdirSync(this.dir)
      .map((f) => NAME.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  private path(seq: number): string {
    return join(this.dir, `${String(seq).padStart(12, '0')}.json`);
  }

  enqueue(message: OutgoingMessage): QueuedMessage {
    const queued = { ...message, seq: this.nextSeq++ };
    writeJsonAtomic(this.path(queued.seq), queued);
    const seqs = this.seqs();
    for (const seq of seqs.slice(0, Math.max(0, seqs.length - this.maxEntries))) this.remove(seq);
    return queued;
  }

  /** Pending messages, oldest first. Unreadable entries (torn by power loss) are dropped. */
  pending(): QueuedMessage[] {
    const out: QueuedMessage[] = [];
    for (const seq of this.seqs()) {
      try {
        out.push(JSON.parse(readFileSync(this.path(seq), 'utf8')) as QueuedMessage);
      } catch {
        this.remove(seq);
      }
    }
    return out;
  }

  remove(seq: number): void {
    rmSync(this.path(seq), { force: true });
  }

  get size(): number {
    return this.seqs().length;
  }
}
