/**
 * `edgec devices`: the device registry through the REST API (--url/--token, EDGEC_URL and
 * EDGEC_TOKEN or EC_API_URL and EC_API_TOKEN). `ls` prints a table; `list` tab-separated lines
 * for scripts.
 */
import type { Command } from 'commander';
import { addApiOptions, apiClientFor } from '../ui/api-client';
import type { DeviceView } from '../ui/api-types';
import { renderTable } from '../ui/table';

async function call(cmd: Command, method: string, path: string, body?: unknown): Promise<unknown> {
  return apiClientFor(cmd).request(method, path, body);
}

interface DeviceFilterFlags {
  tag?: string;
  group?: string;
  status?: string;
  profile?: string;
}

function deviceQuery(opts: DeviceFilterFlags): URLSearchParams {
  return new URLSearchParams(
    Object.entries({
      tag: opts.tag,
      group: opts.group,
      status: opts.status,
      profileId: opts.profile,
    }).filter((e): e is [string, string] => e[1] !== undefined),
  );
}

export function renderDevices(rows: readonly DeviceView[]): string {
  return renderTable<DeviceView>(
    [
      { header: 'ID', value: (d) => d.id },
      { header: 'NAME', value: (d) => d.name },
      { header: 'STATUS', value: (d) => d.status },
      { header: 'PROFILE', value: (d) => d.profile?.id },
      { header: 'GROUPS', value: (d) => d.groups.join(',') || null },
      { header: 'TAGS', value: (d) => d.tags.join(',') || null },
      {
        header: 'ACTIVE VARIANT',
        value: (d) =>
          d.activeVariant
            ? (d.activeVariant.variantId ?? d.activeVariant.artifactSha256.slice(0, 12))
            : null,
      },
      { header: 'AGENT', value: (d) => d.agentVersion },
      { header: 'LAST SEEN', value: (d) => d.lastSeenAt?.replace('T', ' ').slice(0, 19) },
    ],
    rows,
  );
}

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};
const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  const devices = addApiOptions(
    program
      .command('devices')
      .description('provision, list, inspect and revoke devices (REST API)'),
  );

  devices
    .command('add [id]')
    .description('provision a device and print its MQTT credentials (the password is shown once)')
    .requiredOption('--name <name>', 'human-readable name')
    .option('--tag <tag>', 'tag (repeatable)', collect)
    .option('--group <group>', 'group (repeatable)', collect)
    .option('--profile <id>', 'pin a device profile')
    .action(
      async (
        id: string | undefined,
        opts: { name: string; tag?: string[]; group?: string[]; profile?: string },
        cmd: Command,
      ) => {
        print(
          await call(cmd, 'POST', '/api/v1/devices', {
            id,
            name: opts.name,
            tags: opts.tag,
            groups: opts.group,
            profileId: opts.profile,
          }),
        );
      },
    );

  const filterOptions = (command: Command) =>
    command
      .option('--tag <tag>')
      .option('--group <group>')
      .option('--status <status>', 'online | offline | unknown')
      .option('--profile <id>');

  filterOptions(
    devices
      .command('ls')
      .description('devices as a table: status, profile, groups, active variant'),
  ).action(async (opts: DeviceFilterFlags, cmd: Command) => {
    const rows = (await call(cmd, 'GET', `/api/v1/devices?${deviceQuery(opts)}`)) as DeviceView[];
    process.stdout.write(renderDevices(rows));
  });

  filterOptions(devices.command('list').description('devices, one tab-separated line each')).action(
    async (opts: DeviceFilterFlags, cmd: Command) => {
      const rows = (await call(cmd, 'GET', `/api/v1/devices?${deviceQuery(opts)}`)) as DeviceView[];
      for (const d of rows) {
        process.stdout.write(
          `${d.id}\t${d.status}\t${d.profile?.id ?? '-'}\t${d.tags.join(',') || '-'}\t${d.lastSeenAt ?? '-'}\n`,
        );
      }
    },
  );

  devices
    .command('show <id>')
    .description('one device with its hardware facts')
    .action(async (id: string, _opts: unknown, cmd: Command) =>
      print(await call(cmd, 'GET', `/api/v1/devices/${encodeURIComponent(id)}`)),
    );

  devices
    .command('revoke <id>')
    .description("revoke a device's MQTT credentials and disconnect it")
    .action(async (id: string, _opts: unknown, cmd: Command) =>
      print(await call(cmd, 'DELETE', `/api/v1/devices/${encodeURIComponent(id)}/credentials`)),
    );

  devices
    .command('remove <id>')
    .description('delete a device and its history')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await call(cmd, 'DELETE', `/api/v1/devices/${encodeURIComponent(id)}`);
      process.stderr.write(`device ${id} removed\n`);
    });
}
