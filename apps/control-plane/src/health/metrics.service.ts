import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one control-plane instance. A registry per instance (not the global
 * default) so several instances in one test process do not collide.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  /** Set by the MQTT gateway: how many devices are online right now. */
  connectedDevicesSource: () => number = () => 0;
  readonly connectedDevices: Gauge = new Gauge({
    name: 'ec_connected_devices',
    help: 'Devices whose latest retained state is online',
    registers: [this.registry],
    collect: (): void => this.connectedDevices.set(this.connectedDevicesSource()),
  });
  readonly mqttMessagesIn = new Counter({
    name: 'ec_mqtt_messages_in_total',
    help: 'MQTT messages received from devices, by kind and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly mqttMessagesOut = new Counter({
    name: 'ec_mqtt_messages_out_total',
    help: 'MQTT messages published by the control plane, by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly commandLatency = new Histogram({
    name: 'ec_command_latency_seconds',
    help: 'Time from a command being queued to its final result',
    labelNames: ['kind', 'status'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    registers: [this.registry],
  });
  readonly dbTransactionSeconds = new Histogram({
    name: 'ec_db_transaction_seconds',
    help: 'SQLite write transaction duration, by kind',
    labelNames: ['kind'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
