import { Injectable } from '@nestjs/common';
import type { EventMessage } from '@edgecompress/protocol';
import { CommandsService } from '../../commands/commands.service';
import { DevicesService } from '../../devices/devices.service';
import type { InboundOutcome } from '../mqtt-transport';

/** `devices/{id}/events`: acks, progress, reports and errors about commands. */
@Injectable()
export class EventsHandler {
  constructor(
    private readonly commands: CommandsService,
    private readonly devices: DevicesService,
  ) {}

  handle(deviceId: string, message: EventMessage): InboundOutcome {
    if (!this.devices.exists(deviceId)) return 'rejected';
    return this.commands.recordEvent(deviceId, message);
  }
}
