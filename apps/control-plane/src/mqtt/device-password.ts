import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

/**
 * Device secrets are hashed in mosquitto's `$7$` format (PBKDF2-SHA512:
 * `$7$<iterations>$<base64 salt>$<base64 hash>`), so one stored hash serves the embedded broker's
 * authenticate hook and mosquitto's password_file alike. Secrets are 256-bit random strings, so
 * the iteration count guards against nothing a brute force could reach; it is kept moderate to
 * keep a reconnect storm of thousands of devices cheap.
 */
export const DEFAULT_PBKDF2_ITERATIONS = 1000;
const SALT_BYTES = 12;
const HASH_BYTES = 64;

export async function hashDevicePassword(
  secret: string,
  iterations = DEFAULT_PBKDF2_ITERATIONS,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await pbkdf2Async(secret, salt, iterations, HASH_BYTES, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyDevicePassword(secret: string, encoded: string): Promise<boolean> {
  const match = /^\$7\$(\d{1,7})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(encoded);
  if (!match) return false;
  const iterations = Number(match[1]);
  const salt = Buffer.from(match[2], 'base64');
  const expected = Buffer.from(match[3], 'base64');
  if (iterations < 1 || expected.length !== HASH_BYTES) return false;
  const actual = await pbkdf2Async(secret, salt, iterations, HASH_BYTES, 'sha512');
  return timingSafeEqual(actual, expected);
}
