import { Injectable } from '@nestjs/common';
import type { TelemetryMessage } from '@edgecompress/protocol';
import { DevicesService } from '../../devices/devices.service';
import type { InboundOutcome } from '../mqtt-transport';

/** `devices/{id}/telemetry`: load samples, kept up to the per-device retention bound. */
@Injectable()
export class TelemetryHandler {
  constructor(private readonly devices: DevicesService) {}

  handle(deviceId: string, message: TelemetryMessage): InboundOutcome {
    return this.devices.recordTelemetry(deviceId, message) === 'applied' ? 'stored' : 'rejected';
  }
}
