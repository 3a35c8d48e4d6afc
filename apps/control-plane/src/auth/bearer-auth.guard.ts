import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { CLOCK, type Clock } from '../common/clock';
import { DeviceLifecycleEvents } from '../devices/device-lifecycle.events';
import { DevicesService } from '../devices/devices.service';
import { ApiTokensService } from './api-tokens.service';
import { parseBasicCredentials } from './basic-credentials';
import { ACCEPTS_DEVICE_CREDENTIALS } from './device-credentials.decorator';
import { IS_PUBLIC } from './public.decorator';
import { setPrincipal } from './request-principal';
import { VerifiedCredentialsCache } from './verified-credentials.cache';

/**
 * Device credentials verified over HTTP are trusted again without PBKDF2 for this long, unless
 * the device's credentials change first (then at once no longer). Enough entries for a fleet of
 * tens of thousands downloading one rollout's artifact.
 */
const VERIFIED_DEVICE_CREDENTIALS = { maxEntries: 50_000, ttlMs: 10 * 60_000 };

/**
 * Every route needs `Authorization: Bearer <token>` unless it is marked @Public(). Routes marked
 * @AcceptsDeviceCredentials() also take a device's MQTT credentials as HTTP Basic, so an agent
 * needs no operator token to download artifacts; a device's verified credentials are remembered
 * (verified-credentials.cache.ts) until they change. The principal is left on the request.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  private readonly verifiedDevices: VerifiedCredentialsCache;

  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: ApiTokensService,
    devices: DevicesService,
    lifecycle: DeviceLifecycleEvents,
    @Inject(CLOCK) clock: Clock,
  ) {
    this.verifiedDevices = new VerifiedCredentialsCache(
      (username, password) => devices.authenticate(username, password),
      clock,
      VERIFIED_DEVICE_CREDENTIALS,
    );
    // Rotation, revocation and deletion all announce `revoked`.
    lifecycle.on('revoked', (deviceId) => this.verifiedDevices.invalidate(deviceId));
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const header = request.headers.authorization ?? '';
    const acceptsDevice =
      this.reflector.getAllAndOverride<boolean>(ACCEPTS_DEVICE_CREDENTIALS, targets) === true;
    if (acceptsDevice && /^Basic\s/i.test(header)) {
      const credentials = parseBasicCredentials(header);
      if (!credentials) throw new UnauthorizedException('malformed basic credentials');
      if (!(await this.verifiedDevices.verify(credentials.username, credentials.password)))
        throw new UnauthorizedException('invalid or revoked device credentials');
      setPrincipal(request, { kind: 'device', deviceId: credentials.username });
      return true;
    }
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new UnauthorizedException(
        /^Basic\s/i.test(header)
          ? 'this route needs an API bearer token; device credentials are accepted for artifact downloads only'
          : 'missing bearer token',
      );
    }
    const tokenId = this.tokens.authenticate(match[1]!);
    if (!tokenId) throw new UnauthorizedException('invalid or revoked token');
    setPrincipal(request, { kind: 'api-token', tokenId });
    return true;
  }
}
