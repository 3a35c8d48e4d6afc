/**
 * The MQTT credentials a device received when it enrolled itself, and the control plane's
 * signing key that came with them, in `dataDir/credentials.json` (mode 0600, written atomically): a crash while enrolling leaves either no file (enroll again)
 * or the whole file, never half a password.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { DEVICE_ID_PATTERN } from '@edgecompress/protocol';
import { readJsonFile, writeJsonAtomic } from './atomic-file';

const credentialsSchema = z.object({
  deviceId: z.string().regex(DEVICE_ID_PATTERN),
  password: z.string().min(1),
  /** Where they came from, for the operator reading the file. */
  enrolledAt: z.string(),
  controlPlaneUrl: z.string(),
  /**
   * The control plane's manifest-signing public key (PEM) from the enroll answer; absent when
   * the control plane did not send one. Configured `trustedKeys` take precedence over it.
   */
  trustedKey: z.string().includes('PUBLIC KEY').optional(),
});

export type StoredCredentials = z.infer<typeof credentialsSchema>;

export class CredentialsStore {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'credentials.json');
  }

  /** The stored credentials; undefined when the device has not enrolled. Corrupt: throws. */
  read(): StoredCredentials | undefined {
    return readJsonFile(this.path, credentialsSchema);
  }

  write(credentials: StoredCredentials): void {
    writeJsonAtomic(this.path, credentials);
  }
}
