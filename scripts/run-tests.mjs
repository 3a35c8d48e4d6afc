#!/usr/bin/env node
// The README's test command: type-check, lint, then every spec and cross-process test
// under Node's own test runner, with TypeScript compiled on the fly by swc.
//
//   npm test                      everything
//   npm test -- --unit            only the *.spec.ts beside the code (fast)
//   npm test -- libs/engine       only specs/tests under the given paths
//   npm test -- --no-static       skip type-check and lint
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const skipStatic = args.includes('--no-static') || args.some((a) => !a.startsWith('--'));
const roots = args.filter((a) => !a.startsWith('--'));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.spec.ts') || (!unitOnly && name.endsWith('.test.ts'))) out.push(path);
  }
  return out;
}

function run(cmd, cmdArgs) {
  const result = spawnSync(cmd, cmdArgs, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

if (!skipStatic) {
  console.log('# type-check');
  run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
  console.log('# lint');
  run('npx', ['eslint', '.']);
}

const searchRoots = roots.length ? roots : ['libs', 'apps', ...(unitOnly ? [] : ['test'])];
const files = searchRoots
  .flatMap((r) => {
    const abs = join(root, r);
    try {
      return statSync(abs).isDirectory() ? walk(abs, []) : [abs];
    } catch {
      return [];
    }
  })
  .map((f) => relative(root, f))
  .sort();
if (files.length === 0) {
  console.error('no test files found under', searchRoots.join(', '));
  process.exit(1);
}
const concurrency = Math.max(1, Math.min(2, availableParallelism()));
run(process.execPath, [
  '-r',
  '@swc-node/register',
  '--test',
  `--test-concurrency=${concurrency}`,
  ...files,
]);
