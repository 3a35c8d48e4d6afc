/**
 * Follows a resource (a job, a rollout) until it reaches a final state: re-reads it on every
 * server-sent event (at most every `minRefreshMs`) and at least every `pollMs`, so the display
 * stays live when the event stream is missing, breaks or is filtered by a proxy. A control
 * plane that is briefly unreachable (a restart) is waited for up to `unreachableGraceMs`.
 */
import { ApiError, UnreachableError, type ApiClient } from './api-client';
import type { SseEvent } from './sse-parser';

export interface WatchOptions<V> {
  client: ApiClient;
  path: string;
  eventsPath?: string;
  isDone: (view: V) => boolean;
  onView: (view: V) => void;
  onEvent?: (event: SseEvent) => void;
  /** Told once when the control plane stops answering, and once when it answers again. */
  onConnection?: (state: 'lost' | 'back', detail: string) => void;
  pollMs?: number;
  minRefreshMs?: number;
  unreachableGraceMs?: number;
  signal?: AbortSignal;
  now?: () => number;
}

export async function watchResource<V>(o: WatchOptions<V>): Promise<V> {
  const pollMs = o.pollMs ?? 1000;
  const minRefreshMs = o.minRefreshMs ?? 250;
  const graceMs = o.unreachableGraceMs ?? 60_000;
  const now = o.now ?? Date.now;
  const stream = new AbortController();
  const stopStream = () => stream.abort();
  o.signal?.addEventListener('abort', stopStream, { once: true });
  let wake: (() => void) | undefined;
  // An event that arrives while a read is in flight must still cause the next read.
  let eventPending = false;

  if (o.eventsPath) {
    void (async () => {
      try {
        for await (const event of o.client.events(o.eventsPath!, stream.signal)) {
          o.onEvent?.(event);
          eventPending = true;
          wake?.();
        }
      } catch (err) {
        // No stream (404 on an older server) or a broken one: polling carries on alone.
        if (
          !(err instanceof ApiError) &&
          !(err instanceof UnreachableError) &&
          !stream.signal.aborted
        )
          throw err;
      }
    })().catch(() => undefined);
  }

  let unreachableSince: number | null = null;
  try {
    for (;;) {
      if (o.signal?.aborted) throw new Error('watch stopped');
      const fetchedAt = now();
      let view: V | null = null;
      try {
        view = await o.client.get<V>(o.path);
        if (unreachableSince !== null) o.onConnection?.('back', o.client.baseUrl);
        unreachableSince = null;
      } catch (err) {
        if (!(err instanceof UnreachableError)) throw err;
        if (unreachableSince === null) {
          unreachableSince = fetchedAt;
          o.onConnection?.('lost', err.message);
        } else if (fetchedAt - unreachableSince > graceMs) throw err;
      }
      if (view !== null) {
        o.onView(view);
        if (o.isDone(view)) return view;
      }
      if (!eventPending)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, pollMs);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      wake = undefined;
      eventPending = false;
      const wait = fetchedAt + minRefreshMs - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  } finally {
    stream.abort();
    o.signal?.removeEventListener('abort', stopStream);
  }
}
