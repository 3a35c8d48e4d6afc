/**
 * `edgec agent`: runs the device agent from the repository (the same code as the agent
 * binary), in its own process so the CLI never loads the agent's dependencies.
 */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export function register(program: Command): void {
  program
    .command('agent')
    .description(
      'run the device agent: connect to the broker, benchmark and deploy models with ONNX Runtime',
    )
    .option('-c, --config <file>', 'agent config JSON (also EC_AGENT_CONFIG)')
    .option('--broker <url>', 'MQTT broker URL, e.g. mqtt://127.0.0.1:1883 (also EC_BROKER_URL)')
    .option('--device-id <id>', 'device id = MQTT username (also EC_DEVICE_ID)')
    .option('--password <password>', 'MQTT password (also EC_DEVICE_PASSWORD)')
    .option('--data-dir <dir>', 'where models, state and the outbox live (also EC_DATA_DIR)')
    .option(
      '--trusted-key <pem-or-path>',
      'control-plane public key for manifests (also EC_TRUSTED_KEY; enrolled devices get it)',
    )
    .option(
      '--enrollment-token <token>',
      'fleet token: enroll on the first start without credentials (also EC_ENROLLMENT_TOKEN)',
    )
    .option(
      '--control-plane-url <url>',
      'control plane REST URL, for enrollment and HTTP downloads (also EC_CONTROL_PLANE_URL)',
    )
    .option('--device-name <name>', 'name to enroll under (also EC_DEVICE_NAME)')
    .action(
      (opts: {
        config?: string;
        broker?: string;
        deviceId?: string;
        password?: string;
        dataDir?: string;
        trustedKey?: string;
        enrollmentToken?: string;
        controlPlaneUrl?: string;
        deviceName?: string;
      }) =>
        new Promise<void>((resolve) => {
          const args: string[] = [];
          const add = (flag: string, value: string | undefined) => {
            if (value !== undefined) args.push(flag, value);
          };
          add('--config', opts.config);
          add('--broker', opts.broker);
          add('--device-id', opts.deviceId);
          add('--password', opts.password);
          add('--data-dir', opts.dataDir);
          add('--trusted-key', opts.trustedKey);
          add('--enrollment-token', opts.enrollmentToken);
          add('--control-plane-url', opts.controlPlaneUrl);
          add('--device-name', opts.deviceName);
          const entry = join(__dirname, '../../../agent/src/bin.ts');
          const child = spawn(
            process.execPath,
            ['-r', require.resolve('@swc-node/register'), entry, ...args],
            {
              stdio: 'inherit',
            },
          );
          const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
          process.on('SIGINT', forward('SIGINT'));
          process.on('SIGTERM', forward('SIGTERM'));
          child.on('exit', (code) => {
            process.exitCode = code ?? 1;
            resolve();
          });
        }),
    );
}
