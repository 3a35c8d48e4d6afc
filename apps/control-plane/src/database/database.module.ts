import { Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { join } from 'node:path';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { MetricsService } from '../health/metrics.service';
import { SqliteDatabase } from './sqlite.database';

@Global()
@Module({
  providers: [
    MetricsService,
    {
      provide: SqliteDatabase,
      inject: [CONFIG, MetricsService],
      useFactory: (config: ControlPlaneConfig, metrics: MetricsService) => {
        const database = new SqliteDatabase(join(config.dataDir, 'control-plane.db'));
        database.observeTransactions((kind, seconds) =>
          metrics.dbTransactionSeconds.observe({ kind }, seconds),
        );
        return database;
      },
    },
  ],
  exports: [SqliteDatabase, MetricsService],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(SqliteDatabase) private readonly database: SqliteDatabase) {}

  onApplicationShutdown(): void {
    this.database.close();
  }
}
