import { Controller, Get, Header, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiServiceUnavailableResponse, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { SqliteDatabase } from '../database/sqlite.database';
import { MQTT_TRANSPORT, type MqttTransport } from '../mqtt/mqtt-transport';
import { MetricsService } from './metrics.service';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly database: SqliteDatabase,
    private readonly metrics: MetricsService,
    @Inject(MQTT_TRANSPORT) private readonly transport: MqttTransport,
  ) {}

  /** Liveness: the process answers. */
  @Public()
  @Get('healthz')
  @ApiOkResponse()
  health() {
    return { status: 'ok' };
  }

  /** Readiness: the database answers and the broker is up (embedded) or connected (external). */
  @Public()
  @Get('readyz')
  @ApiOkResponse()
  @ApiServiceUnavailableResponse()
  ready() {
    const checks = {
      database: this.databaseOk(),
      mqtt: this.transport.isReady(),
    };
    if (!checks.database || !checks.mqtt)
      throw new ServiceUnavailableException({ status: 'not ready', checks });
    return { status: 'ready', checks, mqtt: this.transport.endpoint };
  }

  @Public()
  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  metricsText() {
    return this.metrics.registry.metrics();
  }

  private databaseOk(): boolean {
    try {
      return this.database.db.prepare('SELECT 1 AS ok').get() !== undefined;
    } catch {
      return false;
    }
  }
}
