import { Inject, Injectable } from '@nestjs/common';
import { decodeMessage, type DecodedMessage } from '@edgecompress/protocol';
import { GroupCommitQueue } from '../database/group-commit.queue';
import { SqliteDatabase } from '../database/sqlite.database';
import { LOGGER, type Logger } from '../common/logger';
import { MetricsService } from '../health/metrics.service';
import { EventsHandler } from './handlers/events.handler';
import { HelloHandler } from './handlers/hello.handler';
import { StateHandler } from './handlers/state.handler';
import { TelemetryHandler } from './handlers/telemetry.handler';
import type { InboundOutcome } from './mqtt-transport';

/**
 * Every inbound device message passes here: decoded and validated by the protocol lib (topic,
 * size, UTF-8, depth, JSON, version, schema, id/topic agreement), then routed to the handler of
 * its kind. Bad input is counted, logged and dropped; it never throws. Only a storage failure
 * propagates, so the message stays unacknowledged and comes again.
 */
type DeviceMessage = Extract<DecodedMessage, { deviceId: string }>;

@Injectable()
export class MqttIngressService {
  private readonly commits: GroupCommitQueue<DeviceMessage, InboundOutcome>;

  constructor(
    private readonly state: StateHandler,
    private readonly hello: HelloHandler,
    private readonly events: EventsHandler,
    private readonly telemetry: TelemetryHandler,
    private readonly metrics: MetricsService,
    @Inject(LOGGER) private readonly logger: Logger,
    database: SqliteDatabase,
  ) {
    // Messages arriving together commit together: one fsync per batch, each still acknowledged
    // only after its own data is durable.
    this.commits = new GroupCommitQueue(database, 'ingest.batch', (m: DeviceMessage) =>
      this.store(m),
    );
  }

  async handle(
    topic: string,
    payload: Buffer,
    publisherId: string | null,
  ): Promise<InboundOutcome> {
    const decoded = decodeMessage(topic, payload);
    if (!decoded.ok) {
      this.metrics.mqttMessagesIn.inc({ kind: 'invalid', outcome: 'rejected' });
      this.logger.warn(
        { topic, publisherId, code: decoded.error.code, reason: decoded.error.message },
        'dropped invalid MQTT message',
      );
      return 'rejected';
    }
    const message = decoded.value;
    if (message.kind === 'cmd' || message.kind === 'manifest' || message.kind === 'chunk') {
      return this.reject(message.kind, topic, publisherId, 'not a device-to-control-plane message');
    }
    if (publisherId !== null && publisherId !== message.deviceId) {
      return this.reject(
        message.kind,
        topic,
        publisherId,
        'publisher is not the device the topic names',
      );
    }
    const outcome = await this.commits.submit(message);
    this.metrics.mqttMessagesIn.inc({ kind: message.kind, outcome });
    if (outcome === 'rejected') {
      this.logger.warn(
        { topic, deviceId: message.deviceId },
        'dropped message from an unknown device',
      );
    }
    return outcome;
  }

  private store(message: DeviceMessage): InboundOutcome {
    switch (message.kind) {
      case 'state':
        return this.state.handle(message.deviceId, message.message);
      case 'hello':
        return this.hello.handle(message.deviceId, message.message);
      case 'events':
        return this.events.handle(message.deviceId, message.message);
      case 'telemetry':
        return this.telemetry.handle(message.deviceId, message.message);
      default:
        return 'rejected';
    }
  }

  private reject(
    kind: string,
    topic: string,
    publisherId: string | null,
    reason: string,
  ): InboundOutcome {
    this.metrics.mqttMessagesIn.inc({ kind, outcome: 'rejected' });
    this.logger.warn({ topic, publisherId, reason }, 'dropped MQTT message');
    return 'rejected';
  }
}
