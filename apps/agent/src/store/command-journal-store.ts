/**
 * One file per command id the agent has accepted: its state, the next event seq, the
 * persisted step of its job and, once done, the final event. This is what makes commands
 * idempotent by id and lets a job resume at its step after a crash.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonAtomic } from './atomic-file';

export const commandRecordSchema = z.object({
  id: z.string(),
  type: z.string(),
  receivedAt: z.number(),
  /** The command as received (already validated), so a resumed job has its parameters. */
  command: z.unknown(),
  state: z.enum(['queued', 'running', 'done']),
  nextSeq: z.int().nonnegative(),
  /** Index of the next job step to run, and what earlier steps left for later ones. */
  step: z.int().nonnegative().default(0),
  data: z.record(z.string(), z.unknown()).default({}),
  /** The final event, re-sent when the command is redelivered after completion. */
  result: z.unknown().optional(),
  /** False between recording the final event and queueing it; fixed up at start. */
  resultQueued: z.boolean().default(false),
});

export type CommandRecord = z.infer<typeof commandRecordSchema>;

export class CommandJournalStore {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'commands');
    mkdirSync(this.dir, { recursive: true });
  }

  private path(id: string): string {
    // Hashed: ids come from the network and must never shape a path.
    return join(this.dir, `${createHash('sha256').update(id).digest('hex').slice(0, 32)}.json`);
  }

  get(id: string): CommandRecord | undefined {
    try {
      return readJsonFile(this.path(id), commandRecordSchema);
    } catch {
      return undefined;
    }
  }

  save(record: CommandRecord): void {
    writeJsonAtomic(this.path(record.id), record);
  }

  /** Commands not finished, or whose final event may not be queued yet (interrupted by a restart), oldest first. */
  unfinished(): CommandRecord[] {
    const out: CommandRecord[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const r = readJsonFile(join(this.dir, f), commandRecordSchema);
        if (r && (r.state !== 'done' || !r.resultQueued)) out.push(r);
      } catch {
        // A record that cannot be read is ignored: the command is answered again if redelivered.
      }
    }
    return out.sort((a, b) => a.receivedAt - b.receivedAt);
  }
}
