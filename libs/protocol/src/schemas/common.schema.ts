/** Field schemas shared by several messages. */
import { z } from 'zod';
import { ERROR_CODES } from '../error-codes';
import {
  COMMAND_ID_PATTERN,
  DEVICE_ID_PATTERN,
  MAX_TEXT_LENGTH,
  PROTOCOL_VERSION,
  SHA256_PATTERN,
} from '../protocol-constants';

export const protocolVersionSchema = z.literal(PROTOCOL_VERSION);
export const deviceIdSchema = z.string().regex(DEVICE_ID_PATTERN, 'invalid device id');
export const commandIdSchema = z.string().regex(COMMAND_ID_PATTERN, 'invalid command id');
export const sha256Schema = z.string().regex(SHA256_PATTERN, 'expected lower-case hex sha256');
/** Milliseconds since the Unix epoch. */
export const epochMsSchema = z.int().nonnegative();
export const nonNegativeIntSchema = z.int().nonnegative();
export const bytesSchema = z.int().nonnegative();
export const textSchema = z.string().max(MAX_TEXT_LENGTH);
/** A short identifier-like string (versions, names of runtimes, providers). */
export const shortTextSchema = z.string().min(1).max(200);
export const errorCodeSchema = z.enum(ERROR_CODES);
/** Input tensor shape including the batch dimension, e.g. [1, 28, 28, 1]. */
export const tensorShapeSchema = z
  .array(
    z
      .int()
      .positive()
      .max(1 << 20),
  )
  .min(1)
  .max(8);
/** Agent version, semver-like. */
export const versionSchema = z.string().regex(/^[0-9A-Za-z.+-]{1,64}$/, 'invalid version');

/** Process architectures as Node's `process.arch` names them. */
export const ARCHES = [
  'x64',
  'arm64',
  'arm',
  'ia32',
  'riscv64',
  'loong64',
  'ppc64',
  's390x',
  'mips',
  'mipsel',
  'ppc',
  's390',
] as const;
export const archSchema = z.enum(ARCHES);
export type Arch = z.infer<typeof archSchema>;
