/**
 * `edgec tokens`: REST API tokens, managed on the server host straight in the control plane's
 * database (there is no token yet to call the API with). Tokens are stored hashed and shown once.
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';

export function register(program: Command): void {
  const tokens = program
    .command('tokens')
    .description('create, list and revoke REST API tokens (run on the server host)');
  const dataDir = (opts: { dataDir?: string }) =>
    resolve(opts.dataDir ?? process.env.EC_DATA_DIR ?? './data');

  tokens
    .command('create')
    .description('create an API token and print it once')
    .requiredOption('--name <name>', 'who or what the token is for')
    .option('--data-dir <dir>', 'control plane data dir (EC_DATA_DIR, default ./data)')
    .action(async (opts: { name: string; dataDir?: string }) => {
      const { createApiToken } = await import('../../../control-plane/src/main');
      const created = createApiToken(dataDir(opts), opts.name);
      process.stderr.write(`token ${created.id} (${created.name}); it is shown only now:\n`);
      process.stdout.write(`${created.token}\n`);
    });

  tokens
    .command('list')
    .description('list API tokens (never their values)')
    .option('--data-dir <dir>', 'control plane data dir')
    .action(async (opts: { dataDir?: string }) => {
      const { listApiTokens } = await import('../../../control-plane/src/main');
      for (const t of listApiTokens(dataDir(opts))) {
        process.stdout.write(
          `${t.id}\t${t.name}\t${t.createdAt}\t${t.revoked ? 'revoked' : 'active'}\n`,
        );
      }
    });

  tokens
    .command('revoke <id>')
    .description('revoke an API token')
    .option('--data-dir <dir>', 'control plane data dir')
    .action(async (id: string, opts: { dataDir?: string }) => {
      const { revokeApiToken } = await import('../../../control-plane/src/main');
      if (!revokeApiToken(dataDir(opts), id)) throw new Error(`no active token "${id}"`);
      process.stderr.write(`token ${id} revoked\n`);
    });
}
