import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { DevicesModule } from '../devices/devices.module';
import { MeasurementsModule } from '../measurements/measurements.module';
import { ModelsModule } from '../models/models.module';
import { CommandsController } from './commands.controller';
import { CommandsRepository } from './commands.repository';
import { CommandsService } from './commands.service';
import { OutboxDispatcher } from './outbox.dispatcher';

@Module({
  imports: [DevicesModule, MeasurementsModule, ModelsModule, ArtifactsModule],
  controllers: [CommandsController],
  providers: [CommandsRepository, CommandsService, OutboxDispatcher],
  exports: [CommandsService],
})
export class CommandsModule {}
