import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiTokensService } from './api-tokens.service';
import { parseBasicCredentials } from './basic-credentials';
import { DeviceCredentialsVerifier } from './device-credentials.verifier';
import { ACCEPTS_DEVICE_CREDENTIALS } from './device-credentials.decorator';
import { IS_PUBLIC } from './public.decorator';
import { setPrincipal } from './request-principal';

/**
 * Every route needs `Authorization: Bearer <token>` unless it is marked @Public(). Routes marked
 * @AcceptsDeviceCredentials() also take a device's MQTT credentials as HTTP Basic, so an agent
 * needs no operator token to download artifacts; a device's verified credentials are remembered
 * (device-credentials.verifier.ts) until they change. The principal is left on the request.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: ApiTokensService,
    private readonly verifiedDevices: DeviceCredentialsVerifier,
  ) {}

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
