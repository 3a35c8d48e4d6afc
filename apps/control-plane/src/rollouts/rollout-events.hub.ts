import { Injectable } from '@nestjs/common';
import type { RolloutView } from './rollout.view';

export type RolloutEvent =
  | { type: 'state'; data: { id: string; state: RolloutView['state']; reason: string | null } }
  | { type: 'wave'; data: RolloutView['waves'][number] & { rolloutId: string } }
  | { type: 'target'; data: RolloutView['targets'][number] & { rolloutId: string } };

type Listener = (event: RolloutEvent) => void;

/**
 * Live changes for SSE watchers. Whoever changes a rollout offers its fresh view; the hub
 * compares it with the last view it saw and sends only what changed (state, a wave, a target).
 * Views are built only while someone watches that rollout.
 */
@Injectable()
export class RolloutEventsHub {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly last = new Map<string, RolloutView>();

  watching(rolloutId: string): boolean {
    return (this.listeners.get(rolloutId)?.size ?? 0) > 0;
  }

  subscribe(rolloutId: string, current: RolloutView, listener: Listener): () => void {
    let set = this.listeners.get(rolloutId);
    if (!set) this.listeners.set(rolloutId, (set = new Set()));
    set.add(listener);
    if (!this.last.has(rolloutId)) this.last.set(rolloutId, current);
    return () => {
      set.delete(listener);
      if (set.size === 0) {
        this.listeners.delete(rolloutId);
        this.last.delete(rolloutId);
      }
    };
  }

  offer(view: RolloutView): void {
    const set = this.listeners.get(view.id);
    if (!set || set.size === 0) return;
    const before = this.last.get(view.id);
    this.last.set(view.id, view);
    const events: RolloutEvent[] = [];
    view.waves.forEach((w, i) => {
      if (!before || JSON.stringify(before.waves[i]) !== JSON.stringify(w))
        events.push({ type: 'wave', data: { rolloutId: view.id, ...w } });
    });
    view.targets.forEach((t, i) => {
      if (!before || JSON.stringify(before.targets[i]) !== JSON.stringify(t))
        events.push({ type: 'target', data: { rolloutId: view.id, ...t } });
    });
    if (!before || before.state !== view.state || before.reason !== view.reason)
      events.push({ type: 'state', data: { id: view.id, state: view.state, reason: view.reason } });
    for (const event of events) for (const listener of [...set]) listener(event);
  }
}
