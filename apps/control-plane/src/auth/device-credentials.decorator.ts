import { SetMetadata } from '@nestjs/common';

export const ACCEPTS_DEVICE_CREDENTIALS = 'ec:acceptsDeviceCredentials';

/**
 * Marks a route a device may call with its own MQTT credentials (HTTP Basic, username = device
 * id, password = its MQTT secret) besides an API bearer token. The handler must still check
 * that the device may see what it asks for (`principalOf(request)`).
 */
export const AcceptsDeviceCredentials = () => SetMetadata(ACCEPTS_DEVICE_CREDENTIALS, true);
