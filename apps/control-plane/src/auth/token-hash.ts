import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * API and enrollment tokens are 256-bit random strings, so a plain SHA-256 at rest is enough:
 * there is no low-entropy password to brute-force, and a lookup by hash stays one index probe.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
