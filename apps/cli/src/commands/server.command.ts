/**
 * `edgec server`: runs the control plane (REST API, embedded MQTT broker or a client of an
 * external one, SQLite store). Options override the EC_* environment variables of the same
 * meaning; see docs/operations.md.
 */
import type { Command } from 'commander';

interface ServerOptions {
  dataDir?: string;
  host?: string;
  port?: string;
  mqttHost?: string;
  mqttPort?: string;
  mqttWsPort?: string;
  mqttUrl?: string;
  mosquittoDir?: string;
  profilesDir?: string;
  logLevel?: string;
}

const ENV_BY_OPTION: Record<keyof ServerOptions, string> = {
  dataDir: 'EC_DATA_DIR',
  host: 'EC_HTTP_HOST',
  port: 'EC_HTTP_PORT',
  mqttHost: 'EC_MQTT_HOST',
  mqttPort: 'EC_MQTT_PORT',
  mqttWsPort: 'EC_MQTT_WS_PORT',
  mqttUrl: 'EC_MQTT_URL',
  mosquittoDir: 'EC_MOSQUITTO_DIR',
  profilesDir: 'EC_PROFILES_DIR',
  logLevel: 'EC_LOG_LEVEL',
};

export function register(program: Command): void {
  program
    .command('server')
    .description(
      'run the control plane: REST API, MQTT broker (embedded or external), device registry',
    )
    .option('--data-dir <dir>', 'SQLite database, artifacts and keys (EC_DATA_DIR, default ./data)')
    .option('--host <host>', 'HTTP listen address (EC_HTTP_HOST, default 127.0.0.1)')
    .option('--port <port>', 'HTTP port (EC_HTTP_PORT, default 8080)')
    .option(
      '--mqtt-host <host>',
      'embedded broker listen address (EC_MQTT_HOST, default 127.0.0.1)',
    )
    .option('--mqtt-port <port>', 'embedded broker TCP port (EC_MQTT_PORT, default 1883)')
    .option(
      '--mqtt-ws-port <port>',
      'embedded broker WebSocket port (EC_MQTT_WS_PORT, off by default)',
    )
    .option('--mqtt-url <url>', 'use an external broker instead of the embedded one (EC_MQTT_URL)')
    .option(
      '--mosquitto-dir <dir>',
      "keep mosquitto's password and ACL files here (EC_MOSQUITTO_DIR)",
    )
    .option(
      '--profiles-dir <dir>',
      'device profile JSON files (EC_PROFILES_DIR, default ./device-profiles)',
    )
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (EC_LOG_LEVEL)')
    .action(async (opts: ServerOptions) => {
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const [key, name] of Object.entries(ENV_BY_OPTION)) {
        const value = opts[key as keyof ServerOptions];
        if (value !== undefined) env[name] = value;
      }
      if (opts.mqttUrl) env.EC_MQTT_MODE = 'external';
      // Loaded here, not at the top: other commands must not pay for Nest.
      const { loadConfig, startControlPlane } = await import('../../../control-plane/src/main');
      const running = await startControlPlane(loadConfig(env));
      process.stderr.write(
        `control plane: API ${running.httpUrl}  MQTT ${running.mqttUrl}  docs ${running.httpUrl}/api/docs\n`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          running.close().then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
