import type { BenchmarkReportEvent } from '@edgecompress/protocol';
import type { Clock } from '../common/clock';
import type { CommandCompletion, CommandsService } from '../commands/commands.service';
import type { DevicesService } from '../devices/devices.service';

export interface BenchmarkAttempt {
  deviceId: string;
  artifactSha256: string;
  inputShape: number[];
  warmup: number;
  runs?: number;
  timeBudgetMs?: number;
  timeoutMs: number;
}

export type AttemptOutcome =
  | { ok: true; deviceId: string; commandId: string; report: BenchmarkReportEvent }
  | { ok: false; deviceId: string; reason: string };

/** How often a running attempt checks that its device is still online. */
const PRESENCE_CHECK_MS = 250;
/** A cancel for an abandoned benchmark only matters while the device could still run it. */
const CANCEL_TTL_MS = 60_000;

/**
 * One benchmark of one artifact on one device through the command outbox. Settles with the
 * report, or with the reason it will not come: the device failed the command, went offline,
 * did not answer within the timeout, or the caller aborted. An abandoned attempt sends the
 * device a `cancel`, so a slow benchmark stops using the device.
 */
export function runBenchmarkAttempt(
  deps: { commands: CommandsService; devices: DevicesService; clock: Clock },
  attempt: BenchmarkAttempt,
  signal?: AbortSignal,
): Promise<AttemptOutcome> {
  const { commands, devices, clock } = deps;
  const { deviceId } = attempt;
  return new Promise<AttemptOutcome>((resolve) => {
    let commandId: string | null = null;
    let timeout: unknown = null;
    let presence: unknown = null;
    let settled = false;
    const timeoutReason = `no report within ${attempt.timeoutMs} ms`;

    const finish = (outcome: AttemptOutcome, cancel: boolean) => {
      if (settled) return;
      settled = true;
      unsubscribe();
      if (timeout !== null) clock.clearTimeout(timeout);
      if (presence !== null) clock.clearTimeout(presence);
      signal?.removeEventListener('abort', onAbort);
      if (cancel && commandId !== null) sendCancel(commandId);
      resolve(outcome);
    };
    const sendCancel = (target: string) => {
      try {
        commands.enqueue([deviceId], { type: 'cancel', target }, CANCEL_TTL_MS);
      } catch {
        // The device was deleted meanwhile: nothing left to cancel.
      }
    };
    const onCompletion = (c: CommandCompletion) => {
      // enqueue is synchronous and completions come from later events: the id is known here.
      if (c.id !== commandId) return;
      if (c.status === 'succeeded' && c.result?.type === 'benchmark-report') {
        finish({ ok: true, deviceId, commandId, report: c.result }, false);
      } else if (c.status === 'expired') {
        // The outbox gave up at the same deadline; the device may still be running it.
        finish({ ok: false, deviceId, reason: timeoutReason }, true);
      } else {
        finish({ ok: false, deviceId, reason: c.error ?? `benchmark ${c.status}` }, false);
      }
    };
    const onAbort = () => finish({ ok: false, deviceId, reason: 'measurement cancelled' }, true);
    const checkPresence = () => {
      presence = null;
      if (settled) return;
      let online = false;
      try {
        online = devices.get(deviceId).status === 'online';
      } catch {
        online = false; // deleted
      }
      if (!online) finish({ ok: false, deviceId, reason: 'device went offline' }, true);
      else presence = clock.setTimeout(checkPresence, PRESENCE_CHECK_MS);
    };

    const unsubscribe = commands.onCompleted(onCompletion);
    if (signal?.aborted) {
      finish({ ok: false, deviceId, reason: 'measurement cancelled' }, false);
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const [view] = commands.enqueue(
        [deviceId],
        {
          type: 'benchmark',
          artifact: { sha256: attempt.artifactSha256 },
          input: { shape: attempt.inputShape, dtype: 'float32' },
          warmup: attempt.warmup,
          ...(attempt.runs !== undefined ? { runs: attempt.runs } : {}),
          ...(attempt.timeBudgetMs !== undefined ? { timeBudgetMs: attempt.timeBudgetMs } : {}),
          threads: {},
        },
        attempt.timeoutMs,
      );
      commandId = view?.id ?? null;
    } catch (err) {
      finish({ ok: false, deviceId, reason: (err as Error).message }, false);
      return;
    }
    timeout = clock.setTimeout(
      () => finish({ ok: false, deviceId, reason: timeoutReason }, true),
      attempt.timeoutMs,
    );
    presence = clock.setTimeout(checkPresence, PRESENCE_CHECK_MS);
  });
}
