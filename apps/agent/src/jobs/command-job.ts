/**
 * Commands run as named step arrays. The index of the next step and whatever earlier steps
 * produced are persisted in the command's journal record after every step, so after a crash
 * or kill -9 the job resumes at the step it was in. Each step is written to be safe to run
 * twice (a step interrupted half-way runs again from its start).
 */
import type { EventMessage, ProgressStep } from '@edgecompress/protocol';
import type { CommandRecord } from '../store/command-journal-store';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An event without the fields the agent fills in (protocol, ids, seq, time). */
export type EventBody = DistributiveOmit<
  EventMessage,
  'protocol' | 'kind' | 'deviceId' | 'commandId' | 'seq' | 'sentAt'
>;

export interface JobContext {
  readonly record: CommandRecord;
  /** Values earlier steps stored for later ones (persisted with the record). */
  readonly data: Record<string, unknown>;
  progress(step: ProgressStep, fraction: number, note?: string): void;
  readonly cancelled: () => boolean;
}

export interface JobStep {
  name: string;
  run(ctx: JobContext): Promise<void>;
}

export interface JobDefinition {
  steps: JobStep[];
  /** The success event, built from what the steps stored. */
  result(ctx: JobContext): EventBody;
}

export interface JobPersistence {
  save(record: CommandRecord): void;
}

export async function runJob(
  definition: JobDefinition,
  ctx: JobContext,
  persistence: JobPersistence,
  onStep?: (name: string) => void,
): Promise<EventBody> {
  const { record } = ctx;
  for (let i = record.step; i < definition.steps.length; i++) {
    const step = definition.steps[i]!;
    onStep?.(step.name);
    await step.run(ctx);
    record.step = i + 1;
    record.data = ctx.data;
    persistence.save(record);
  }
  return definition.result(ctx);
}
