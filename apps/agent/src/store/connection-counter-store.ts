/**
 * The connection counter carried by state messages: incremented and persisted before every
 * connect, never reused, so a late will from an older connection is recognisably stale.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { readJsonFile, writeJsonAtomic } from './atomic-file';

const schema = z.object({ connection: z.int().nonnegative() });

export class ConnectionCounterStore {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'connection.json');
  }

  next(): number {
    const current = readJsonFile(this.path, schema)?.connection ?? 0;
    const next = current + 1;
    writeJsonAtomic(this.path, { connection: next });
    return next;
  }
}
