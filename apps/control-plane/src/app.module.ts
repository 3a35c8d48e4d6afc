import { type DynamicModule, Global, Module, ValidationPipe } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AuthModule } from './auth/auth.module';
import { CommandsModule } from './commands/commands.module';
import { CLOCK, type Clock } from './common/clock';
import { DomainErrorFilter } from './common/domain-error.filter';
import { LOGGER, type Logger } from './common/logger';
import { CONFIG, type ControlPlaneConfig } from './config/control-plane.config';
import { DatabaseModule } from './database/database.module';
import { DevicesModule } from './devices/devices.module';
import { HealthModule } from './health/health.module';
import { JobsModule } from './jobs/jobs.module';
import { LatencyModule } from './latency/latency.module';
import { MeasurementsModule } from './measurements/measurements.module';
import { ModelsModule } from './models/models.module';
import { MqttGatewayModule } from './mqtt/mqtt-gateway.module';
import { MqttTransportModule } from './mqtt/mqtt-transport.module';
import { ProfilesModule } from './profiles/profiles.module';
import { ReportsModule } from './reports/reports.module';
import { RolloutsModule } from './rollouts/rollouts.module';

export interface AppDependencies {
  config: ControlPlaneConfig;
  clock: Clock;
  logger: Logger;
}

@Global()
@Module({})
class CoreModule {
  static register(deps: AppDependencies): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: CONFIG, useValue: deps.config },
        { provide: CLOCK, useValue: deps.clock },
        { provide: LOGGER, useValue: deps.logger },
      ],
      exports: [CONFIG, CLOCK, LOGGER],
    };
  }
}

/**
 * Wiring only. One module per domain; a new domain (compression jobs, rollouts, reports) is a
 * new module imported here.
 */
@Module({})
export class AppModule {
  static register(deps: AppDependencies): DynamicModule {
    return {
      module: AppModule,
      imports: [
        CoreModule.register(deps),
        DatabaseModule,
        AuthModule,
        ProfilesModule,
        DevicesModule,
        MqttTransportModule,
        MeasurementsModule,
        JobsModule,
        ModelsModule,
        CommandsModule,
        MqttGatewayModule,
        HealthModule,
        RolloutsModule,
        ReportsModule,
        LatencyModule,
      ],
      providers: [
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({
            whitelist: true,
            forbidNonWhitelisted: true,
            transform: true,
          }),
        },
        { provide: APP_FILTER, useClass: DomainErrorFilter },
      ],
    };
  }
}
