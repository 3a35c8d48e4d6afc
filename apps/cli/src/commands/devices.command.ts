/**
 * `edgec devices`: the device registry through the REST API (EC_API_URL, EC_API_TOKEN).
 */
import type { Command } from 'commander';

interface ApiOptions {
  apiUrl?: string;
  token?: string;
}

async function call(
  opts: ApiOptions,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const base = opts.apiUrl ?? process.env.EC_API_URL ?? 'http://127.0.0.1:8080';
  const token = opts.token ?? process.env.EC_API_TOKEN;
  if (!token)
    throw new Error(
      'no API token: pass --token or set EC_API_TOKEN (create one with `edgec tokens create`)',
    );
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (err) {
    // fetch hides the socket error (ECONNREFUSED, ENOTFOUND) in `cause`: name it and the URL.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach the control plane at ${base} (${cause?.code ?? cause?.message ?? (err as Error).message}); ` +
        'is `edgec server` running? (--api-url or EC_API_URL)',
    );
  }
  const text = await res.text();
  const parsed = text ? (JSON.parse(text) as unknown) : null;
  if (!res.ok) {
    const message = (parsed as { message?: unknown } | null)?.message;
    throw new Error(
      `${method} ${path}: ${res.status} ${Array.isArray(message) ? message.join('; ') : String(message ?? text)}`,
    );
  }
  return parsed;
}

const print = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};
const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  const devices = program
    .command('devices')
    .description('provision, list, inspect and revoke devices (REST API)')
    .option('--api-url <url>', 'control plane URL (EC_API_URL, default http://127.0.0.1:8080)')
    .option('--token <token>', 'API token (EC_API_TOKEN)');
  const api = (cmd: Command) => cmd.optsWithGlobals() as ApiOptions;

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
          await call(api(cmd), 'POST', '/api/v1/devices', {
            id,
            name: opts.name,
            tags: opts.tag,
            groups: opts.group,
            profileId: opts.profile,
          }),
        );
      },
    );

  devices
    .command('list')
    .description('list devices')
    .option('--tag <tag>')
    .option('--group <group>')
    .option('--status <status>', 'online | offline | unknown')
    .option('--profile <id>')
    .action(
      async (
        opts: { tag?: string; group?: string; status?: string; profile?: string },
        cmd: Command,
      ) => {
        const query = new URLSearchParams(
          Object.entries({
            tag: opts.tag,
            group: opts.group,
            status: opts.status,
            profileId: opts.profile,
          }).filter((e): e is [string, string] => e[1] !== undefined),
        );
        const rows = (await call(api(cmd), 'GET', `/api/v1/devices?${query}`)) as {
          id: string;
          status: string;
          profile: { id: string } | null;
          tags: string[];
          lastSeenAt: string | null;
        }[];
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
      print(await call(api(cmd), 'GET', `/api/v1/devices/${encodeURIComponent(id)}`)),
    );

  devices
    .command('revoke <id>')
    .description("revoke a device's MQTT credentials and disconnect it")
    .action(async (id: string, _opts: unknown, cmd: Command) =>
      print(
        await call(api(cmd), 'DELETE', `/api/v1/devices/${encodeURIComponent(id)}/credentials`),
      ),
    );

  devices
    .command('remove <id>')
    .description('delete a device and its history')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await call(api(cmd), 'DELETE', `/api/v1/devices/${encodeURIComponent(id)}`);
      process.stderr.write(`device ${id} removed\n`);
    });
}
