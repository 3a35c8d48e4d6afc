import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { DevicesModule } from '../devices/devices.module';
import { MeasurementsModule } from '../measurements/measurements.module';
import { ModelsController } from './models.controller';
import { ModelsRepository } from './models.repository';
import { ModelsService } from './models.service';

@Module({
  imports: [ArtifactsModule, MeasurementsModule, DevicesModule],
  controllers: [ModelsController],
  providers: [ModelsRepository, ModelsService],
  exports: [ModelsService],
})
export class ModelsModule {}
