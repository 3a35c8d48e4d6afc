import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { createServer as createServerFactory } from 'aedes-server-factory';
import type { Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Logger } from '../common/logger';
import type { InboundHandler, MqttTransport, PublishOptions } from './mqtt-transport';
import { canDevicePublish, canDeviceSubscribe } from './topic-acl';
import { indexedRetainedPersistence } from './indexed-retained.persistence';

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  wsPort?: number;
  /** Device credential check (device id = MQTT username). */
  authenticateDevice: (username: string, password: string) => Promise<boolean>;
  controlPlane: { username: string; password: string };
  logger: Logger;
}

type Identity = { kind: 'device'; deviceId: string } | { kind: 'control-plane' };

/** MQTT CONNACK return codes (3.1.1) used by aedes' authenticate error. */
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;

function authError(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/**
 * The default broker: aedes in this process. Its hooks are where the rules live:
 * authenticate checks device credentials (and that the client id is the device id, so one
 * device cannot take over another's session); authorizeSubscribe/authorizePublish apply the
 * topic ACL; and an allowed device publish is handed to the inbound handler *before* aedes
 * sends PUBACK, so a report the device saw acknowledged is already committed to SQLite.
 */
export class EmbeddedBrokerTransport implements MqttTransport {
  readonly mode = 'embedded' as const;
  endpoint: { url: string; wsUrl?: string } = { url: '' };
  private broker?: Aedes;
  private server?: Server;
  private wsServer?: HttpServer;
  private handler: InboundHandler = async () => 'rejected';
  private readonly identities = new WeakMap<Client, Identity>();

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  setInboundHandler(handler: InboundHandler): void {
    this.handler = handler;
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    const broker = await Aedes.createBroker({
      persistence: indexedRetainedPersistence(),
      // SlowITe-style connection hoarding: cap the keepalive a client may ask for.
      keepaliveLimit: 600,
      connectTimeout: 10_000,
      authenticate: (client, username, password, done) => {
        this.authenticate(client, username, password).then(
          (identity) => {
            this.identities.set(client, identity);
            done(null, true);
          },
          (err: AuthenticateError) => {
            logger.warn(
              { clientId: client.id, username, reason: err.message },
              'mqtt connection refused',
            );
            done(err, false);
          },
        );
      },
      authorizeSubscribe: (client, subscription, done) => {
        const identity = this.identities.get(client);
        if (identity?.kind === 'control-plane') return done(null, subscription);
        if (
          identity?.kind === 'device' &&
          canDeviceSubscribe(identity.deviceId, subscription.topic)
        ) {
          return done(null, subscription);
        }
        logger.warn(
          { clientId: client.id, filter: subscription.topic },
          'mqtt subscription refused',
        );
        // A null subscription is a SUBACK failure (0x80), as mosquitto answers; the client stays.
        done(null, null);
      },
      authorizePublish: (client, packet, done) => {
        // Broker-internal publishes (our own commands and artifacts) have no client.
        const identity = client ? this.identities.get(client) : { kind: 'control-plane' as const };
        if (identity?.kind === 'control-plane') return done(null);
        if (!identity || !canDevicePublish(identity.deviceId, packet.topic)) {
          logger.warn({ clientId: client?.id, topic: packet.topic }, 'mqtt publish refused');
          return done(new Error(`not authorized to publish to ${packet.topic}`));
        }
        const payload = Buffer.isBuffer(packet.payload)
          ? packet.payload
          : Buffer.from(packet.payload);
        this.handler(packet.topic, payload, identity.deviceId).then(
          (outcome) => {
            // A rejected or stale message must not become the retained value of its topic
            // (a late will would otherwise hide a newer birth from later subscribers).
            if (outcome === 'rejected' || outcome === 'stale') packet.retain = false;
            done(null);
          },
          (err: Error) => {
            logger.error(
              { topic: packet.topic, err: err.message },
              'storing inbound message failed; not acknowledged',
            );
            done(err);
          },
        );
      },
    });
    broker.on('clientError', (client, err) =>
      logger.debug({ clientId: client.id, err: err.message }, 'mqtt client error'),
    );
    broker.on('connectionError', (client, err) =>
      logger.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error'),
    );
    this.broker = broker;

    this.server = createServer(broker.handle);
    await listen(this.server, this.options.port, this.options.host);
    const port = (this.server.address() as AddressInfo).port;
    this.endpoint = { url: `mqtt://${this.options.host}:${port}` };

    if (this.options.wsPort !== undefined) {
      this.wsServer = createServerFactory(broker, { ws: true }) as HttpServer;
      await listen(this.wsServer, this.options.wsPort, this.options.host);
      const wsPort = (this.wsServer.address() as AddressInfo).port;
      this.endpoint = { ...this.endpoint, wsUrl: `ws://${this.options.host}:${wsPort}` };
    }
    logger.info(this.endpoint, 'embedded MQTT broker listening');
  }

  async stop(): Promise<void> {
    const broker = this.broker;
    this.broker = undefined;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    await Promise.all(
      [this.server, this.wsServer].map(
        (s) =>
          new Promise<void>((resolve) => (s?.listening ? s.close(() => resolve()) : resolve())),
      ),
    );
  }

  publish(topic: string, payload: Buffer, options: PublishOptions): Promise<void> {
    const broker = this.broker;
    if (!broker) return Promise.reject(new Error('embedded broker is not running'));
    return new Promise((resolve, reject) =>
      broker.publish(
        { cmd: 'publish', topic, payload, qos: options.qos, retain: options.retain, dup: false },
        (err?: Error | null) => (err ? reject(err) : resolve()),
      ),
    );
  }

  isReady(): boolean {
    return this.broker !== undefined && !this.broker.closed;
  }

  connectedClients(): number {
    return this.broker?.connectedClients ?? 0;
  }

  disconnectDevice(deviceId: string): void {
    const clients =
      (this.broker as unknown as { clients?: Record<string, Client> } | undefined)?.clients ?? {};
    const client = clients[deviceId];
    if (client) client.close();
  }

  private async authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<Identity> {
    if (!username || !password) throw authError('credentials required', NOT_AUTHORIZED);
    const secret = password.toString('utf8');
    const cp = this.options.controlPlane;
    if (username === cp.username) {
      if (secret === cp.password) return { kind: 'control-plane' };
      throw authError('bad username or password', BAD_USERNAME_OR_PASSWORD);
    }
    if (!(await this.options.authenticateDevice(username, secret))) {
      throw authError('bad username or password', BAD_USERNAME_OR_PASSWORD);
    }
    if (client.id !== username)
      throw authError('client id must equal the device id', NOT_AUTHORIZED);
    return { kind: 'device', deviceId: username };
  }
}

function listen(server: Server | HttpServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
