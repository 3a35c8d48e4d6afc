import { randomBytes, randomUUID } from 'node:crypto';

/** Opaque ids: a kind prefix keeps them recognisable in logs (`var_...`, `cmd_...`). */
export function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 20)}`;
}

/** A secret shown once to its owner: 32 random bytes, URL-safe. */
export function newSecret(prefix = ''): string {
  return prefix + randomBytes(32).toString('base64url');
}
