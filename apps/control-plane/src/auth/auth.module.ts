import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ApiTokensRepository } from './api-tokens.repository';
import { ApiTokensService } from './api-tokens.service';
import { BearerAuthGuard } from './bearer-auth.guard';

@Module({
  providers: [
    ApiTokensRepository,
    ApiTokensService,
    { provide: APP_GUARD, useClass: BearerAuthGuard },
  ],
  exports: [ApiTokensService],
})
export class AuthModule {}
