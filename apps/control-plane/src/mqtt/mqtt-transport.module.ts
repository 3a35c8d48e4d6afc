import { Global, Module } from '@nestjs/common';
import { LOGGER, type Logger } from '../common/logger';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { AuthModule } from '../auth/auth.module';
import { DeviceCredentialsVerifier } from '../auth/device-credentials.verifier';
import { DevicesModule } from '../devices/devices.module';
import { ControlPlaneCredentialsRepository } from './control-plane-credentials.repository';
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
      inject: [CONFIG, LOGGER, DeviceCredentialsVerifier, ControlPlaneCredentialsRepository],
      useFactory: (
        config: ControlPlaneConfig,
        logger: Logger,
        devices: DeviceCredentialsVerifier,
        identity: ControlPlaneCredentialsRepository,
      ): MqttTransport =>
        config.mqtt.mode === 'external'
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
            }),
    },
  ],
  exports: [MQTT_TRANSPORT, ControlPlaneCredentialsRepository],
})
export class MqttTransportModule {}
