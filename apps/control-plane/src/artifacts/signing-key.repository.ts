import { Inject, Injectable } from '@nestjs/common';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKeyPair, signingKeyId } from '@edgecompress/protocol';
import { writeFileAtomic } from '../common/atomic-file';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';

/**
 * The ed25519 key that signs artifact manifests: generated at first start, kept in the data
 * dir (private key mode 0600). Agents trust its public key (GET /api/v1/signing-key).
 */
@Injectable()
export class SigningKeyRepository {
  readonly privateKey: KeyObject;
  readonly publicKeyPem: string;
  readonly keyId: string;

  constructor(@Inject(CONFIG) config: ControlPlaneConfig) {
    const path = join(config.dataDir, 'keys', 'manifest-signing.key');
    if (!existsSync(path)) writeFileAtomic(path, generateSigningKeyPair().privateKeyPem, 0o600);
    this.privateKey = createPrivateKey(readFileSync(path, 'utf8'));
    this.publicKeyPem = createPublicKey(this.privateKey)
      .export({ type: 'spki', format: 'pem' })
      .toString();
    this.keyId = signingKeyId(this.privateKey);
  }
}
