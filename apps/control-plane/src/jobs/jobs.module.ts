import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { DevicesModule } from '../devices/devices.module';
import { LatencyModule } from '../latency/latency.module';
import { LatencyService } from '../latency/latency.service';
import { MeasurementsModule } from '../measurements/measurements.module';
import { ModelsModule } from '../models/models.module';
import { ProfilesModule } from '../profiles/profiles.module';
import { ModelsRepository } from '../models/models.repository';
import { JobDeployableStore } from './job-deployable.store';
import { JobEventsBus } from './job-events.bus';
import { JOB_LATENCY } from './job-latency.port';
import { JobRunnerService } from './job-runner.service';
import { JobsController } from './jobs.controller';
import { JobsRepository } from './jobs.repository';
import { JobsService } from './jobs.service';
import { ParetoController } from './pareto.controller';

/** Compression jobs (queued in SQLite, run in child processes) and the Pareto view of their variants. */
@Module({
  imports: [
    ArtifactsModule,
    DevicesModule,
    LatencyModule,
    MeasurementsModule,
    ModelsModule,
    ProfilesModule,
  ],
  controllers: [ParetoController, JobsController],
  providers: [
    JobsRepository,
    JobEventsBus,
    JobDeployableStore,
    ModelsRepository,
    JobsService,
    JobRunnerService,
    // The fleet's latency service answers the jobs' latency questions (measured or predicted).
    { provide: JOB_LATENCY, useExisting: LatencyService },
  ],
  exports: [JobsService],
})
export class JobsModule {}
