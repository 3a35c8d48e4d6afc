#!/usr/bin/env node
// `npm run bench -- <suite> [args]`: runs test/bench/<suite>.bench.ts; with no suite, lists them.
// Each suite prints its figures as ratios against a peer measured in the same run and writes
// JSON to bench-results/<suite>.json.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const benchDir = join(root, 'test', 'bench');
const suites = existsSync(benchDir)
  ? readdirSync(benchDir)
      .filter((f) => f.endsWith('.bench.ts'))
      .map((f) => f.replace(/\.bench\.ts$/, ''))
      .sort()
  : [];
const [suite, ...rest] = process.argv.slice(2);
if (!suite || !suites.includes(suite)) {
  if (suite) console.error(`unknown benchmark suite "${suite}"`);
  console.error(
    `usage: npm run bench -- <suite> [args]\nsuites: ${suites.join(', ') || '(none yet)'}`,
  );
  process.exit(suite ? 2 : 0);
}
const result = spawnSync(
  process.execPath,
  ['-r', '@swc-node/register', join(benchDir, `${suite}.bench.ts`), ...rest],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
