#!/usr/bin/env node
// `npm run build:agent -- --target linux-x64|linux-arm64`
//
// Builds the device agent as one executable (Node single-executable application) plus
// onnxruntime-node's native files beside it, packed as build/agent/edgec-agent-<target>.tar.gz:
//   1. bundle apps/agent/src/bin.ts with esbuild into one CommonJS file (ORT stays external; the
//      engine is reduced to its ONNX packing module, and the build fails if tfjs got in), and the
//      runner child's code into a second one, stored in the binary as a SEA asset,
//   2. fetch the pinned Node 22 binary for the target from the npm package node-linux-<arch>
//      (with `npm pack`, cached under build/agent/cache; never installed, so it cannot shadow
//      the repository's own `node`),
//   3. write the SEA blob (no code cache or snapshot, so one blob serves both architectures),
//   4. inject it into a copy of the target binary with postject,
//   5. copy onnxruntime-node (only the target's native library) and onnxruntime-common beside it.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const NODE_VERSION = '22.23.3';
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const TARGETS = { 'linux-x64': 'x64', 'linux-arm64': 'arm64' };

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: { target: { type: 'string', default: `linux-${process.arch}` } },
});
const target = values.target;
const arch = TARGETS[target];
if (!arch) {
  console.error(`unknown target "${target}"; use one of ${Object.keys(TARGETS).join(', ')}`);
  process.exit(2);
}

const out = join(root, 'build', 'agent');
const cache = join(out, 'cache');
const stage = join(out, target, 'edgec-agent');
rmSync(join(out, target), { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
mkdirSync(cache, { recursive: true });

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    ...opts,
  });
  if (r.status !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed (${r.status})`);
    process.exit(1);
  }
  return r.stdout;
}

/** bin/node of node-linux-<arch>@NODE_VERSION, unpacked once into the cache. */
function nodeBinary(forArch) {
  const dir = join(cache, `node-linux-${forArch}-${NODE_VERSION}`);
  const bin = join(dir, 'package', 'bin', 'node');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  console.log(`fetching node-linux-${forArch}@${NODE_VERSION} from the npm registry`);
  const tgz = run('npm', [
    'pack',
    `node-linux-${forArch}@${NODE_VERSION}`,
    '--silent',
    '--pack-destination',
    dir,
  ])
    .trim()
    .split('\n')
    .pop();
  run('tar', ['xzf', join(dir, tgz), '-C', dir, 'package/bin/node']);
  rmSync(join(dir, tgz), { force: true });
  return bin;
}

// The agent uses one thing from the engine: expanding bit-packed low-bit weights before ORT
// loads a model. That module needs only protobufjs/onnx-proto; the engine's barrel would pull in
// tfjs (megabytes of code, and memory at start). esbuild fails if the agent asks for any name
// this module does not export.
const ENGINE_FOR_AGENT = join(root, 'libs/engine/src/onnx/packed-weights.ts');
const engineForAgent = {
  name: 'engine-for-agent',
  setup(b) {
    b.onResolve({ filter: /^@edgecompress\/engine$/ }, () => ({ path: ENGINE_FOR_AGENT }));
  },
};

// zod re-exports its error messages in every language it has (`z.locales`, a quarter of the
// bundle); the agent uses its default English ones, which zod imports by itself.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${join('node_modules', 'zod')}`)
        ? { path: join(args.resolveDir, '../locales/index.js'), namespace: 'zod-locales' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from './en.js';`,
      resolveDir: join(args.path, '..'),
      loader: 'js',
    }));
  },
};

// The runner's code (ORT calls, systeminformation for the hardware facts) is a bundle of its own,
// stored in the binary as a SEA asset and compiled only in runner children: the agent process
// keeps its main script's source on its heap, so what it never runs should not be in it.
const RUNNER_ASSET = 'runner.cjs';
const runnerFromAsset = {
  name: 'runner-from-asset',
  setup(b) {
    b.onResolve({ filter: /\/runners\/runner-child$/ }, () => ({
      path: 'runner-child',
      namespace: 'runner-asset',
    }));
    b.onLoad({ filter: /.*/, namespace: 'runner-asset' }, () => ({
      loader: 'js',
      contents: `
        const { getAsset } = require('node:sea');
        const { createRequire } = require('node:module');
        const { dirname, join } = require('node:path');
        const { compileFunction } = require('node:vm');
        exports.runRunnerChild = () => {
          const filename = join(dirname(process.execPath), ${JSON.stringify(RUNNER_ASSET)});
          const params = ['exports', 'require', 'module', '__filename', '__dirname'];
          const run = compileFunction(getAsset(${JSON.stringify(RUNNER_ASSET)}, 'utf8'), params, { filename });
          const module = { exports: {} };
          run(module.exports, createRequire(filename), module, filename, dirname(filename));
        };`,
    }));
  },
};

/** One CommonJS bundle; fails the build if tfjs got in. */
async function bundleEntry(entry, outfile, plugins, external) {
  const bundled = await build({
    plugins: [engineForAgent, zodEnglishOnly, ...plugins],
    metafile: true,
    entryPoints: [join(root, entry)],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    outfile,
    external: ['onnxruntime-node', ...external],
    minify: true,
    legalComments: 'none',
    tsconfig: join(root, 'tsconfig.json'),
    logLevel: 'warning',
  });
  const tfjsInputs = Object.keys(bundled.metafile.inputs).filter((p) => p.includes('@tensorflow'));
  if (tfjsInputs.length > 0) {
    console.error(
      `${outfile} must not contain tfjs, but holds ${tfjsInputs.slice(0, 3).join(', ')}`,
    );
    process.exit(1);
  }
  return bundled.metafile;
}

console.log(`bundling the agent for ${target}`);
const bundle = join(out, target, 'agent.cjs');
const runnerBundle = join(out, target, RUNNER_ASSET);
// systeminformation is loaded by the runner's hardware probe only.
const agentMeta = await bundleEntry(
  'apps/agent/src/bin.ts',
  bundle,
  [runnerFromAsset],
  ['systeminformation'],
);
const runnerMeta = await bundleEntry('apps/agent/src/runners/runner-main.ts', runnerBundle, [], []);
writeFileSync(join(out, target, 'agent-meta.json'), JSON.stringify(agentMeta));
writeFileSync(join(out, target, 'runner-meta.json'), JSON.stringify(runnerMeta));

// The agent mostly waits, so the binary starts with lean V8 settings (a 1 MiB young generation
// instead of 16 MiB per semi-space; the idle heap shrunk after 1 s instead of 8 s). Runner
// children get them set back to the defaults through `--node-options=`, which the binary takes
// from its command line (execArgvExtension 'cli'); the lists live in one file for both sides.
const RUNTIME_FLAGS = JSON.parse(
  readFileSync(join(root, 'apps/agent/src/runners/runtime-flags.config.json'), 'utf8'),
);

const hostNode = nodeBinary(process.arch === 'arm64' ? 'arm64' : 'x64');
const targetNode = nodeBinary(arch);
const seaConfig = join(out, target, 'sea-config.json');
const blob = join(out, target, 'sea-prep.blob');
writeFileSync(
  seaConfig,
  JSON.stringify({
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useCodeCache: false,
    useSnapshot: false,
    execArgv: RUNTIME_FLAGS.agent,
    execArgvExtension: 'cli',
    assets: { [RUNNER_ASSET]: runnerBundle },
  }),
);
run(hostNode, ['--experimental-sea-config', seaConfig]);

const exe = join(stage, 'edgec-agent');
cpSync(targetNode, exe);
chmodSync(exe, 0o755);
run(process.execPath, [
  join(root, 'node_modules/postject/dist/cli.js'),
  exe,
  'NODE_SEA_BLOB',
  blob,
  '--sentinel-fuse',
  SEA_FUSE,
]);

const ortSrc = join(root, 'node_modules/onnxruntime-node');
const ortDst = join(stage, 'node_modules/onnxruntime-node');
cpSync(join(ortSrc, 'package.json'), join(ortDst, 'package.json'));
cpSync(join(ortSrc, 'dist'), join(ortDst, 'dist'), { recursive: true });
cpSync(join(ortSrc, 'bin/napi-v6/linux', arch), join(ortDst, 'bin/napi-v6/linux', arch), {
  recursive: true,
});
const commonSrc = join(root, 'node_modules/onnxruntime-common');
const commonDst = join(stage, 'node_modules/onnxruntime-common');
cpSync(join(commonSrc, 'package.json'), join(commonDst, 'package.json'));
cpSync(join(commonSrc, 'dist/cjs'), join(commonDst, 'dist/cjs'), { recursive: true });
cpSync(join(root, 'deploy/agent'), join(stage, 'deploy'), { recursive: true });

const tarball = join(out, `edgec-agent-${target}.tar.gz`);
run('tar', ['czf', tarball, '-C', join(out, target), 'edgec-agent']);

const mb = (p) => (statSync(p).size / 1024 / 1024).toFixed(1);
console.log(`binary   ${exe}  ${mb(exe)} MB`);
console.log(`tarball  ${tarball}  ${mb(tarball)} MB`);
