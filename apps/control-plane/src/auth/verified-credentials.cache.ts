import { createHash } from 'node:crypto';
import type { Clock } from '../common/clock';

/** Checks a device's password the slow way (PBKDF2 against the stored hash). */
export type SlowVerify = (username: string, password: string) => Promise<boolean>;

export interface VerifiedCredentialsOptions {
  /** Most entries kept; the least recently used goes first. */
  maxEntries: number;
  /** An entry is trusted this long after its check, as a bound on anything an event missed. */
  ttlMs: number;
}

interface Entry {
  deviceId: string;
  /** The device's credential generation when the check started. */
  generation: number;
  verifiedAt: number;
}

/**
 * Remembers device credentials that passed the slow check, so 10,000 devices downloading an
 * artifact (or reconnecting) cost one PBKDF2 each rather than one per request. Entries are keyed
 * by the SHA-256 of the username and password (the secret itself is never kept), bounded in
 * number (LRU) and in age, and dropped when the device's credentials change: `invalidate` bumps
 * the device's generation, and a check that was already running when that happened is not
 * remembered, so a rotation or revocation racing a request cannot leave the old secret trusted.
 * Failed checks are never remembered.
 */
export class VerifiedCredentialsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<string, number>();
  private readonly inFlight = new Map<string, { deviceId: string; check: Promise<boolean> }>();

  constructor(
    private readonly slowVerify: SlowVerify,
    private readonly clock: Pick<Clock, 'now'>,
    private readonly options: VerifiedCredentialsOptions,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  async verify(username: string, password: string): Promise<boolean> {
    const key = keyOf(username, password);
    const entry = this.entries.get(key);
    if (entry) {
      const fresh = this.clock.now() - entry.verifiedAt < this.options.ttlMs;
      if (fresh && entry.generation === this.generationOf(username)) {
        // Re-inserting moves the entry to the end: Map order is the LRU order.
        this.entries.delete(key);
        this.entries.set(key, entry);
        return true;
      }
      this.entries.delete(key);
    }
    // Concurrent requests with the same credentials share one slow check.
    const running = this.inFlight.get(key);
    if (running) return running.check;
    const generation = this.generationOf(username);
    const check = this.slowVerify(username, password).then((ok) => {
      if (ok && generation === this.generationOf(username))
        this.remember(key, username, generation);
      return ok;
    });
    const flight = { deviceId: username, check };
    this.inFlight.set(key, flight);
    try {
      return await check;
    } finally {
      if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
    }
  }

  /** The device's credentials changed (rotated, revoked, deleted): forget what was verified. */
  invalidate(deviceId: string): void {
    this.generations.set(deviceId, this.generationOf(deviceId) + 1);
    for (const [key, entry] of this.entries) {
      if (entry.deviceId === deviceId) this.entries.delete(key);
    }
    // A check still running against the old secret is not shared with later requests.
    for (const [key, flight] of this.inFlight) {
      if (flight.deviceId === deviceId) this.inFlight.delete(key);
    }
  }

  private remember(key: string, deviceId: string, generation: number): void {
    this.entries.set(key, { deviceId, generation, verifiedAt: this.clock.now() });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  private generationOf(deviceId: string): number {
    return this.generations.get(deviceId) ?? 0;
  }
}

function keyOf(username: string, password: string): string {
  return createHash('sha256').update(`${username.length}:${username}:${password}`).digest('hex');
}
