/**
 * `ec/v1/artifacts/{sha256}/manifest` (QoS 1, retained). Describes an artifact published as
 * chunks on `.../chunk/{n}`; the signature is ed25519 over the canonical JSON of every other
 * field (see manifest-signing.ts). Strict: an unknown field is an error, because a field the
 * verifier would drop could not be covered by the signature check.
 */
import { z } from 'zod';
import { MAX_ARTIFACT_BYTES, MAX_CHUNK_BYTES, MIN_CHUNK_BYTES } from '../protocol-constants';
import {
  epochMsSchema,
  protocolVersionSchema,
  sha256Schema,
  shortTextSchema,
} from './common.schema';

export const ARTIFACT_CONTENT_TYPES = [
  'application/onnx',
  'application/vnd.edgecompress.sample',
  'application/octet-stream',
] as const;

const manifestFields = {
  protocol: protocolVersionSchema,
  kind: z.literal('manifest'),
  sha256: sha256Schema,
  size: z.int().positive().max(MAX_ARTIFACT_BYTES),
  chunkSize: z.int().min(MIN_CHUNK_BYTES).max(MAX_CHUNK_BYTES),
  chunkCount: z.int().positive(),
  /** sha256 of each chunk, in order. */
  chunks: z.array(sha256Schema).min(1),
  contentType: z.enum(ARTIFACT_CONTENT_TYPES),
  createdAt: epochMsSchema,
  /** Human-readable name, e.g. "resnet20-aap-int8.onnx". */
  name: shortTextSchema.optional(),
};

function chunkLayoutIsConsistent(m: {
  size: number;
  chunkSize: number;
  chunkCount: number;
  chunks: string[];
}): boolean {
  return m.chunkCount === Math.ceil(m.size / m.chunkSize) && m.chunks.length === m.chunkCount;
}

const layoutIssue = {
  message: 'chunkCount must be ceil(size / chunkSize) and match the length of chunks',
  path: ['chunkCount'],
};

export const unsignedManifestSchema = z
  .strictObject(manifestFields)
  .refine(chunkLayoutIsConsistent, layoutIssue);

export const manifestMessageSchema = z
  .strictObject({
    ...manifestFields,
    signature: z
      .object({
        algorithm: z.literal('ed25519'),
        /** First 16 hex digits of sha256 over the signer's SPKI DER public key. */
        keyId: z.string().regex(/^[0-9a-f]{16}$/),
        /** Base64 signature over `canonicalJson(manifest without signature)`. */
        value: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'expected a base64 ed25519 signature'),
      })
      .strict(),
  })
  .refine(chunkLayoutIsConsistent, layoutIssue);

export type UnsignedManifest = z.infer<typeof unsignedManifestSchema>;
export type ManifestMessage = z.infer<typeof manifestMessageSchema>;
export type ArtifactContentType = (typeof ARTIFACT_CONTENT_TYPES)[number];
