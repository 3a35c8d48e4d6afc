/**
 * Control-plane entry points: `startControlPlane` (used by `edgec server` and the tests) and
 * `createApiToken` (the admin command that issues REST tokens, run on the server host).
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { jsonNestingDepth } from '@edgecompress/protocol';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AppModule } from './app.module';
import { ApiTokensRepository } from './auth/api-tokens.repository';
import { ApiTokensService, type CreatedApiToken } from './auth/api-tokens.service';
import { systemClock, type Clock } from './common/clock';
import { createLogger, PinoNestLogger, type Logger } from './common/logger';
import { loadConfig, type ControlPlaneConfig } from './config/control-plane.config';
import { SqliteDatabase } from './database/sqlite.database';
import { MQTT_TRANSPORT, type MqttTransport } from './mqtt/mqtt-transport';

/**
 * Connections the kernel queues for the HTTP port before they are accepted (capped by
 * net.core.somaxconn). At Node's default of 511, a wave of thousands of devices fetching an
 * artifact at once overflowed the queue: 1,321 of 10,000 downloads timed out or were reset and
 * fell back to MQTT chunks (docs/benchmarks.md, Fleet).
 */
const HTTP_LISTEN_BACKLOG = 4096;

export { loadConfig, ConfigError, type ControlPlaneConfig } from './config/control-plane.config';

/** REST bodies: JSON up to 1 MiB and 32 levels deep; larger or deeper is a 4xx before parsing. */
const MAX_JSON_BODY = '1mb';
const MAX_JSON_BODY_DEPTH = 32;

export interface RunningControlPlane {
  readonly app: NestExpressApplication;
  readonly httpUrl: string;
  readonly mqttUrl: string;
  readonly mqttWsUrl?: string;
  close(): Promise<void>;
}

export async function startControlPlane(
  config: ControlPlaneConfig,
  options: { clock?: Clock; logger?: Logger } = {},
): Promise<RunningControlPlane> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.register({ config, clock: options.clock ?? systemClock, logger }),
    { logger: new PinoNestLogger(logger.child({ component: 'nest' })), bodyParser: false },
  );
  app.useBodyParser('json', {
    limit: MAX_JSON_BODY,
    verify: (_req: IncomingMessage, _res: unknown, buffer: Buffer) => {
      if (jsonNestingDepth(buffer.toString('utf8')) > MAX_JSON_BODY_DEPTH) {
        throw Object.assign(
          new Error(`JSON body nests deeper than ${MAX_JSON_BODY_DEPTH} levels`),
          {
            status: 400,
            expose: true,
          },
        );
      }
    },
  });
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('edgecompress control plane')
      .setDescription('Devices, device profiles, models and variants, commands and measurements')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('api/docs', app, document, { jsonDocumentUrl: 'api/docs-json' });
  app.enableShutdownHooks();
  // Nest hands extra arguments on to http.Server#listen(port, host, backlog, callback); its types
  // stop at (port, host).
  const listen = app.listen.bind(app) as unknown as (
    port: number,
    host: string,
    backlog: number,
  ) => Promise<unknown>;
  await listen(config.http.port, config.http.host, HTTP_LISTEN_BACKLOG);
  const address = app.getHttpServer().address() as AddressInfo;
  const transport = app.get<MqttTransport>(MQTT_TRANSPORT);
  const httpUrl = `http://${config.http.host}:${address.port}`;
  logger.info({ httpUrl, mqtt: transport.endpoint }, 'control plane started');
  return {
    app,
    httpUrl,
    mqttUrl: transport.endpoint.url,
    mqttWsUrl: transport.endpoint.wsUrl,
    close: () => app.close(),
  };
}

/** Issues a REST API token straight into the database (admin command on the server host). */
export function createApiToken(dataDir: string, name: string): CreatedApiToken {
  return withTokens(dataDir, (tokens) => tokens.create(name));
}

function withTokens<T>(dataDir: string, work: (tokens: ApiTokensService) => T): T {
  const database = new SqliteDatabase(join(dataDir, 'control-plane.db'));
  try {
    return work(new ApiTokensService(new ApiTokensRepository(database), systemClock));
  } finally {
    database.close();
  }
}

export function listApiTokens(dataDir: string) {
  return withTokens(dataDir, (tokens) => tokens.list());
}

export function revokeApiToken(dataDir: string, id: string): boolean {
  return withTokens(dataDir, (tokens) => tokens.revoke(id));
}

if (require.main === module) {
  startControlPlane(loadConfig()).catch((err: Error) => {
    process.stderr.write(`control plane failed to start: ${err.message}\n`);
    process.exit(1);
  });
}
