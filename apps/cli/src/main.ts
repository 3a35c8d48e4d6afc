/**
 * `edgec`: the command line. Every file `commands/*.command.ts` exports `register(program)`
 * and adds its own subcommands, so a new command is one new file.
 */
import { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface CommandModule {
  register(program: Command): void;
}

export function buildProgram(): Command {
  const program = new Command('edgec')
    .description('edgecompress: compress models for each edge device class and run them on a fleet')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  const dir = join(__dirname, 'commands');
  for (const file of readdirSync(dir).sort()) {
    if (!/\.command\.(ts|js)$/.test(file)) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(join(dir, file)) as Partial<CommandModule>;
    if (typeof mod.register !== 'function') throw new Error(`${file} does not export register()`);
    mod.register(program);
  }
  return program;
}

if (require.main === module || process.argv[1]?.endsWith('edgec.js')) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      process.stderr.write(`edgec: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
