/**
 * Building, signing and verifying artifact manifests with ed25519 (node:crypto). The signed
 * bytes are `canonicalJson(manifest without its signature)`, so key order or whitespace in
 * transit never matter, and changing any signed field breaks the signature.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  KeyObject,
} from 'node:crypto';
import { canonicalJson } from './canonical-json';
import { splitIntoChunks } from './artifact-chunking';
import { DEFAULT_CHUNK_BYTES, PROTOCOL_VERSION } from './protocol-constants';
import {
  manifestMessageSchema,
  unsignedManifestSchema,
  type ArtifactContentType,
  type ManifestMessage,
  type UnsignedManifest,
} from './schemas/manifest.schema';
import { describeIssues } from './decode-message';

export type KeyInput = KeyObject | string | Buffer;

function asPrivateKey(key: KeyInput): KeyObject {
  const k = key instanceof KeyObject ? key : createPrivateKey(key);
  if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519') {
    throw new TypeError('manifest signing needs an ed25519 private key');
  }
  return k;
}

function parsePublicKey(key: KeyInput): KeyObject {
  const k = key instanceof KeyObject ? key : createPublicKey(key);
  if (k.asymmetricKeyType !== 'ed25519')
    throw new TypeError('manifest verification needs an ed25519 key');
  return k.type === 'private' ? createPublicKey(k) : k;
}

interface TrustedKey {
  publicKey: KeyObject;
  keyId: string;
}

/**
 * Parsed keys and their ids, by the key object or PEM text they came from: a device checks a
 * manifest per artifact against the same few configured keys, and parsing a PEM and exporting
 * its DER for the id cost more than the ed25519 check itself. Keys are immutable, so an entry
 * never goes stale; PEM text is bounded (a config holds a handful of keys).
 */
const keysByObject = new WeakMap<KeyObject, TrustedKey>();
const keysByText = new Map<string, TrustedKey>();
const MAX_KEYS_BY_TEXT = 64;

function trustedKey(key: KeyInput): TrustedKey {
  if (key instanceof KeyObject) {
    const hit = keysByObject.get(key);
    if (hit) return hit;
  } else if (typeof key === 'string') {
    const hit = keysByText.get(key);
    if (hit) return hit;
  }
  const publicKey = parsePublicKey(key);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const entry = { publicKey, keyId: sha256Hex(der).slice(0, 16) };
  if (key instanceof KeyObject) keysByObject.set(key, entry);
  else if (typeof key === 'string') {
    if (keysByText.size >= MAX_KEYS_BY_TEXT) keysByText.clear();
    keysByText.set(key, entry);
  }
  return entry;
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fresh ed25519 key pair as PEM strings (PKCS#8 private, SPKI public). */
export function generateSigningKeyPair(): {
  privateKeyPem: string;
  publicKeyPem: string;
  keyId: string;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: signingKeyId(publicKey),
  };
}

/** First 16 hex digits of sha256 over the SPKI DER public key: names a key in manifests. */
export function signingKeyId(key: KeyInput): string {
  return trustedKey(key).keyId;
}

export interface BuildManifestOptions {
  contentType: ArtifactContentType;
  createdAt: number;
  chunkSize?: number;
  name?: string;
}

/** The unsigned manifest of `data`: its hash, size and per-chunk hashes. */
export function buildManifest(data: Uint8Array, options: BuildManifestOptions): UnsignedManifest {
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_BYTES;
  const chunks = splitIntoChunks(data, chunkSize).map((chunk) => sha256Hex(chunk));
  const manifest: UnsignedManifest = {
    protocol: PROTOCOL_VERSION,
    kind: 'manifest',
    sha256: sha256Hex(data),
    size: data.byteLength,
    chunkSize,
    chunkCount: chunks.length,
    chunks,
    contentType: options.contentType,
    createdAt: options.createdAt,
    ...(options.name !== undefined ? { name: options.name } : {}),
  };
  const checked = unsignedManifestSchema.safeParse(manifest);
  if (!checked.success) throw new RangeError(`invalid manifest: ${describeIssues(checked.error)}`);
  return manifest;
}

/** The exact bytes the signature covers. */
export function manifestSigningBytes(manifest: UnsignedManifest | ManifestMessage): Buffer {
  const { signature: _signature, ...unsigned } = manifest as ManifestMessage;
  return Buffer.from(canonicalJson(unsigned), 'utf8');
}

export function signManifest(manifest: UnsignedManifest, privateKey: KeyInput): ManifestMessage {
  const key = asPrivateKey(privateKey);
  const value = sign(null, manifestSigningBytes(manifest), key).toString('base64');
  return { ...manifest, signature: { algorithm: 'ed25519', keyId: signingKeyId(key), value } };
}

export type VerifyManifestResult =
  | { ok: true; manifest: ManifestMessage }
  | { ok: false; code: 'SCHEMA_INVALID' | 'SIGNATURE_INVALID'; message: string };

/**
 * Verifies a manifest (typed or straight from JSON.parse) against any of the trusted public
 * keys. Never throws on bad input.
 */
export function verifyManifest(
  manifest: unknown,
  trustedKeys: KeyInput | readonly KeyInput[],
): VerifyManifestResult {
  const parsed = manifestMessageSchema.safeParse(manifest);
  if (!parsed.success)
    return { ok: false, code: 'SCHEMA_INVALID', message: describeIssues(parsed.error) };
  const signed = parsed.data;
  const signature = Buffer.from(signed.signature.value, 'base64');
  const bytes = manifestSigningBytes(signed);
  const keys = Array.isArray(trustedKeys) ? trustedKeys : [trustedKeys as KeyInput];
  for (const candidate of keys) {
    let key: TrustedKey;
    try {
      key = trustedKey(candidate);
    } catch {
      continue;
    }
    if (key.keyId !== signed.signature.keyId) continue;
    if (verify(null, bytes, key.publicKey, signature)) return { ok: true, manifest: signed };
    return {
      ok: false,
      code: 'SIGNATURE_INVALID',
      message: 'signature does not match the manifest',
    };
  }
  return {
    ok: false,
    code: 'SIGNATURE_INVALID',
    message: `no trusted key with id ${signed.signature.keyId}`,
  };
}
