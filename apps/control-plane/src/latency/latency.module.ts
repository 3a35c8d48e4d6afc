import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { CommandsModule } from '../commands/commands.module';
import { DevicesModule } from '../devices/devices.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { LatencyMetrics } from './latency.metrics';
import { LatencyPredictorService } from './latency-predictor.service';
import { LatencyRepository } from './latency.repository';
import { LatencyService } from './latency.service';
import { PredictorController } from './predictor.controller';

/** Measured latency of candidates on the fleet, and the calibrated predictor beside it. */
@Module({
  imports: [ArtifactsModule, CommandsModule, DevicesModule, ProfilesModule],
  controllers: [PredictorController],
  providers: [LatencyMetrics, LatencyRepository, LatencyPredictorService, LatencyService],
  exports: [LatencyService, LatencyPredictorService],
})
export class LatencyModule {}
