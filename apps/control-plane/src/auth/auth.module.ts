import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { DevicesModule } from '../devices/devices.module';
import { ApiTokensRepository } from './api-tokens.repository';
import { ApiTokensService } from './api-tokens.service';
import { BearerAuthGuard } from './bearer-auth.guard';
import { DeviceCredentialsVerifier } from './device-credentials.verifier';

@Module({
  imports: [DevicesModule],
  providers: [
    ApiTokensRepository,
    ApiTokensService,
    DeviceCredentialsVerifier,
    { provide: APP_GUARD, useClass: BearerAuthGuard },
  ],
  exports: [ApiTokensService, DeviceCredentialsVerifier],
})
export class AuthModule {}
