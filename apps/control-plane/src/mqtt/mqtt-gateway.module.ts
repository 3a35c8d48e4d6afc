import {
  Inject,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { topics } from '@edgecompress/protocol';
import { ArtifactsModule } from '../artifacts/artifacts.module';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { CommandsModule } from '../commands/commands.module';
import { LOGGER, type Logger } from '../common/logger';
import { DeviceLifecycleEvents } from '../devices/device-lifecycle.events';
import { DevicesModule } from '../devices/devices.module';
import { DevicesService } from '../devices/devices.service';
import { MetricsService } from '../health/metrics.service';
import { EventsHandler } from './handlers/events.handler';
import { HelloHandler } from './handlers/hello.handler';
import { StateHandler } from './handlers/state.handler';
import { TelemetryHandler } from './handlers/telemetry.handler';
import { MqttIngressService } from './mqtt-ingress.service';
import { MQTT_TRANSPORT, type MqttTransport } from './mqtt-transport';

/** Inbound MQTT: handlers per message kind, wired to the transport, and the broker's lifecycle. */
@Module({
  imports: [DevicesModule, CommandsModule, ArtifactsModule],
  providers: [StateHandler, HelloHandler, EventsHandler, TelemetryHandler, MqttIngressService],
})
export class MqttGatewayModule
  implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown
{
  constructor(
    @Inject(MQTT_TRANSPORT) private readonly transport: MqttTransport,
    private readonly ingress: MqttIngressService,
    private readonly devices: DevicesService,
    private readonly lifecycle: DeviceLifecycleEvents,
    private readonly artifacts: ArtifactsService,
    private readonly metrics: MetricsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.transport.setInboundHandler((topic, payload, publisherId) =>
      this.ingress.handle(topic, payload, publisherId),
    );
    this.lifecycle.on('revoked', (deviceId) => this.transport.disconnectDevice(deviceId));
    // A deleted device's retained state would otherwise outlive it on the broker.
    this.lifecycle.on('deleted', (deviceId) => {
      this.transport
        .publish(topics.deviceState(deviceId), Buffer.alloc(0), { qos: 1, retain: true })
        .catch((err: Error) =>
          this.logger.warn({ deviceId, err: err.message }, 'clearing retained state failed'),
        );
    });
    this.metrics.connectedDevicesSource = () => this.devices.countOnline();
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.transport.mode === 'embedded') {
      // A broker that has just started has no connections, whatever the last states said.
      const marked = this.devices.markAllOffline();
      if (marked > 0)
        this.logger.info({ devices: marked }, 'marked devices offline until they reconnect');
    }
    await this.transport.start();
    if (this.transport.mode === 'embedded') {
      // The embedded broker keeps retained messages in memory: restore published artifacts.
      const republished = await this.artifacts.republishAll();
      if (republished > 0)
        this.logger.info({ artifacts: republished }, 'republished retained artifacts');
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.transport.stop();
  }
}
