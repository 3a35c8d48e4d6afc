import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { CommandsModule } from '../commands/commands.module';
import { DevicesModule } from '../devices/devices.module';
import { MeasurementsModule } from '../measurements/measurements.module';
import { ModelsModule } from '../models/models.module';
import { RolloutEventsHub } from './rollout-events.hub';
import { RolloutDriver } from './rollout.driver';
import { RolloutsController } from './rollouts.controller';
import { RolloutsRepository } from './rollouts.repository';
import { RolloutsService } from './rollouts.service';

@Module({
  imports: [ArtifactsModule, CommandsModule, DevicesModule, MeasurementsModule, ModelsModule],
  controllers: [RolloutsController],
  providers: [RolloutsRepository, RolloutsService, RolloutDriver, RolloutEventsHub],
  exports: [RolloutsService],
})
export class RolloutsModule {}
