import { Injectable } from '@nestjs/common';
import type { JobEvent } from './job.types';

/** In-process fan-out of job events to the open event streams (the database is the record). */
@Injectable()
export class JobEventsBus {
  private readonly listeners = new Map<string, Set<(event: JobEvent) => void>>();

  subscribe(jobId: string, listener: (event: JobEvent) => void): () => void {
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
    };
  }

  emit(jobId: string, event: JobEvent): void {
    for (const listener of this.listeners.get(jobId) ?? []) listener(event);
  }
}
