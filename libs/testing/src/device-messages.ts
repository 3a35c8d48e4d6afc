/**
 * The device side of the protocol's envelopes, for test devices that stand in for the agent
 * (the fleet benchmark's simulated devices, the rollout tests' scripted ones): an event around
 * a result body, and the retained state message.
 */
import { encodeMessage, PROTOCOL_VERSION, type EventMessage } from '@edgecompress/protocol';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** What a device reports about a command, without the envelope `deviceEvent` adds. */
export type DeviceEventBody = DistributiveOmit<
  EventMessage,
  'protocol' | 'kind' | 'deviceId' | 'commandId' | 'seq' | 'sentAt'
>;

export function deviceEvent(
  deviceId: string,
  commandId: string,
  seq: number,
  body: DeviceEventBody,
  sentAt: number,
): EventMessage {
  return {
    ...body,
    protocol: PROTOCOL_VERSION,
    kind: 'event',
    deviceId,
    commandId,
    seq,
    sentAt,
  } as EventMessage;
}

/** The encoded retained state (birth, offline will, or a change of active variant). */
export function deviceStateMessage(state: {
  deviceId: string;
  online: boolean;
  connection: number;
  agentVersion: string;
  active: { sha256: string; variantId?: string } | null;
  sentAt: number;
}): Buffer {
  const { active } = state;
  return encodeMessage('state', {
    protocol: PROTOCOL_VERSION,
    kind: 'state',
    deviceId: state.deviceId,
    online: state.online,
    connection: state.connection,
    agentVersion: state.agentVersion,
    activeVariant: active
      ? {
          artifactSha256: active.sha256,
          ...(active.variantId ? { variantId: active.variantId } : {}),
        }
      : null,
    sentAt: state.sentAt,
  });
}
