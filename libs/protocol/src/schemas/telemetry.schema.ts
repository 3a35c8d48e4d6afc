/** `ec/v1/devices/{id}/telemetry` (QoS 0): periodic load figures, losing one is harmless. */
import { z } from 'zod';
import {
  bytesSchema,
  deviceIdSchema,
  epochMsSchema,
  nonNegativeIntSchema,
  protocolVersionSchema,
} from './common.schema';

export const telemetryMessageSchema = z.object({
  protocol: protocolVersionSchema,
  kind: z.literal('telemetry'),
  deviceId: deviceIdSchema,
  sentAt: epochMsSchema,
  /** Whole-machine CPU load, percent of all cores. */
  cpuLoadPercent: z.number().min(0).max(100),
  memory: z.object({ totalBytes: bytesSchema, usedBytes: bytesSchema }),
  /** Hottest sensor in degrees Celsius; null where the machine exposes none. */
  temperatureC: z.number().min(-100).max(200).nullable(),
  /** Resident memory of the agent and its runner. */
  agentRssBytes: bytesSchema,
  uptimeMs: nonNegativeIntSchema,
});

export type TelemetryMessage = z.infer<typeof telemetryMessageSchema>;
