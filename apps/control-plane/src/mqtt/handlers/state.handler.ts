import { Injectable } from '@nestjs/common';
import type { StateMessage } from '@edgecompress/protocol';
import { DevicesService } from '../../devices/devices.service';
import type { InboundOutcome } from '../mqtt-transport';

/** `devices/{id}/state`: birth and will; a state from an older connection is stale. */
@Injectable()
export class StateHandler {
  constructor(private readonly devices: DevicesService) {}

  handle(deviceId: string, message: StateMessage): InboundOutcome {
    const outcome = this.devices.applyState(deviceId, message);
    return outcome === 'applied' ? 'stored' : outcome === 'stale' ? 'stale' : 'rejected';
  }
}
