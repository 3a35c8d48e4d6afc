import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { AuditLogRepository } from '../common/audit-log.repository';
import { ProfilesModule } from '../profiles/profiles.module';
import { DeviceLifecycleEvents } from './device-lifecycle.events';
import { DevicesController } from './devices.controller';
import { DevicesRepository } from './devices.repository';
import { DevicesService } from './devices.service';
import { EnrollmentTokensRepository } from './enrollment-tokens.repository';

@Module({
  imports: [ProfilesModule, ArtifactsModule],
  controllers: [DevicesController],
  providers: [
    DevicesRepository,
    EnrollmentTokensRepository,
    DevicesService,
    DeviceLifecycleEvents,
    AuditLogRepository,
  ],
  exports: [DevicesService, DeviceLifecycleEvents, AuditLogRepository],
})
export class DevicesModule {}
