import { Global, Module } from '@nestjs/common';
import { LOGGER, type Logger } from '../common/logger';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { AuthModule } from '../auth/auth.module';
import { DeviceCredentialsVerifier } from '../auth/device-credentials.verifier';
import { SqliteDatabase } from '../database/sqlite.database';
import { DevicesModule } from '../devices/devices.module';
import { ControlPlaneCredentialsRepository } from './control-plane-credentials.repository';
import { DurableFirstTransport } from './durable-first.transport';
import { EmbeddedBrokerTransport } from './embedded-broker.transport';
import { ExternalBrokerTransport } from './external-broker.transport';
import { MosquittoFilesWriter } from './mosquitto-files.writer';
import { MQTT_TRANSPORT, type MqttTransport } from './mqtt-transport';

/** Chooses the broker from the config: embedded aedes (default) or an external URL. */
@Global()
@Module({
  imports: [DevicesModule, AuthModule],
  providers: [
    ControlPlaneCredentialsRepository,
    MosquittoFilesWriter,
    {
      provide: MQTT_TRANSPORT,
      inject: [
        CONFIG,
        LOGGER,
        DeviceCredentialsVerifier,
        ControlPlaneCredentialsRepository,
        SqliteDatabase,
      ],
      useFactory: (
        config: ControlPlaneConfig,
        logger: Logger,
        devices: DeviceCredentialsVerifier,
        identity: ControlPlaneCredentialsRepository,
        database: SqliteDatabase,
      ): MqttTransport =>
        new DurableFirstTransport(
          brokerTransport(config, logger, devices, identity),
          // Nothing leaves before the commits it may depend on are on disk (deferred fsyncs).
          () => database.durable(),
        ),
    },
  ],
  exports: [MQTT_TRANSPORT, ControlPlaneCredentialsRepository],
})
export class MqttTransportModule {}

function brokerTransport(
  config: ControlPlaneConfig,
  logger: Logger,
  devices: DeviceCredentialsVerifier,
  identity: ControlPlaneCredentialsRepository,
): MqttTransport {
  return config.mqtt.mode === 'external'
    ? new ExternalBrokerTransport({
        url: config.mqtt.url!,
        username: identity.username,
        password: identity.password,
        ingestConnections: config.mqtt.ingestConnections,
        logger: logger.child({ component: 'mqtt' }),
      })
    : new EmbeddedBrokerTransport({
        host: config.mqtt.host,
        port: config.mqtt.port,
        wsPort: config.mqtt.wsPort,
        // Shared with the artifact route: one PBKDF2 per device, not per CONNECT and request.
        authenticateDevice: (username, password) => devices.verify(username, password),
        controlPlane: { username: identity.username, password: identity.password },
        logger: logger.child({ component: 'mqtt' }),
      });
}
