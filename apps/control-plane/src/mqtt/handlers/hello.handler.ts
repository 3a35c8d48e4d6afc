import { Injectable } from '@nestjs/common';
import type { HelloMessage } from '@edgecompress/protocol';
import { DevicesService } from '../../devices/devices.service';
import type { InboundOutcome } from '../mqtt-transport';

/** `devices/{id}/hello`: hardware and runtime facts, and profile matching. */
@Injectable()
export class HelloHandler {
  constructor(private readonly devices: DevicesService) {}

  handle(deviceId: string, message: HelloMessage): InboundOutcome {
    return this.devices.registerHello(deviceId, message) === 'applied' ? 'stored' : 'rejected';
  }
}
