/**
 * `edgec compress <method>`: one subcommand per compression method. Each method lives in
 * `compress/<name>.method.ts` and exports `register(compress)`, so adding a method is one file.
 */
import type { Command } from 'commander';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface CompressMethodModule {
  register(compress: Command): void;
}

export function register(program: Command): void {
  const compress = program
    .command('compress')
    .description('compress a model with a method (aap, ...) towards an objective');
  const dir = join(__dirname, 'compress');
  for (const file of readdirSync(dir).sort()) {
    if (!/\.method\.(ts|js)$/.test(file)) continue;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(join(dir, file)) as Partial<CompressMethodModule>;
    if (typeof mod.register !== 'function') throw new Error(`${file} does not export register()`);
    mod.register(compress);
  }
}
