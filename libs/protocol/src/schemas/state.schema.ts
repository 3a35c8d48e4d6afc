/**
 * `ec/v1/devices/{id}/state` (QoS 1, retained). The agent publishes `online: true` after
 * connecting (birth) and registers `online: false` as its will. Both carry the connection
 * counter the agent persisted and incremented for that connection, so a will from an older
 * connection that the broker fires late can be recognised and ignored (see `supersedesState`).
 */
import { z } from 'zod';
import {
  deviceIdSchema,
  epochMsSchema,
  nonNegativeIntSchema,
  protocolVersionSchema,
  sha256Schema,
  shortTextSchema,
  versionSchema,
} from './common.schema';

export const activeVariantSchema = z.object({
  artifactSha256: sha256Schema,
  /** Control-plane variant id, when the deploy command named one. */
  variantId: shortTextSchema.optional(),
});

export const stateMessageSchema = z.object({
  protocol: protocolVersionSchema,
  kind: z.literal('state'),
  deviceId: deviceIdSchema,
  online: z.boolean(),
  /** Incremented by the agent before every connect and persisted; never reused. */
  connection: nonNegativeIntSchema,
  agentVersion: versionSchema,
  activeVariant: activeVariantSchema.nullable(),
  sentAt: epochMsSchema,
});

export type ActiveVariant = z.infer<typeof activeVariantSchema>;
export type StateMessage = z.infer<typeof stateMessageSchema>;

/**
 * True when `incoming` should replace `current` as the device's known state.
 * - A higher connection counter wins, a lower one never does: a late will from an earlier
 *   connection cannot overwrite the online state of a newer one.
 * - Within one connection, offline is final (the connection has ended); an online message
 *   replaces an online one unless it is older (a re-published birth after a variant change).
 */
export function supersedesState(
  current: Pick<StateMessage, 'connection' | 'online' | 'sentAt'> | null | undefined,
  incoming: Pick<StateMessage, 'connection' | 'online' | 'sentAt'>,
): boolean {
  if (!current) return true;
  if (incoming.connection !== current.connection) return incoming.connection > current.connection;
  if (!current.online) return false;
  // Same connection, currently online: an offline (will or clean exit) ends it; a repeated
  // online (re-published birth, e.g. after a variant change) replaces it when not older.
  return !incoming.online || incoming.sentAt >= current.sentAt;
}

/**
 * For an agent connected as `connection`: true when the retained state it sees on its own
 * topic is not its current online birth (an older connection's late will, or its own state
 * from before), so it should publish its birth again.
 */
export function shouldReassertBirth(
  connection: number,
  retained: Pick<StateMessage, 'connection' | 'online'> | null | undefined,
): boolean {
  if (!retained) return true;
  if (retained.connection > connection) return false;
  return retained.connection < connection || !retained.online;
}
