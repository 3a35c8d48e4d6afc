import { Injectable } from '@nestjs/common';
import { EventEmitter } from 'node:events';

/**
 * What the device registry tells the rest of the process: credentials changed (rewrite
 * mosquitto's password file), a device was revoked (drop its connection), a device came
 * online (send it what waits in the outbox). Keeps the registry free of broker details.
 */
export interface DeviceLifecycleEventMap {
  credentialsChanged: [];
  revoked: [deviceId: string];
  deleted: [deviceId: string];
  online: [deviceId: string];
}

@Injectable()
export class DeviceLifecycleEvents extends EventEmitter<DeviceLifecycleEventMap> {}
