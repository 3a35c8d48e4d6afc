/**
 * `npm run bench -- fleet [--agents 1000,10000] [--processes 4] [--transfer http|full|manifest]
 *                         [--mb 1] [--soak-ms 0] [--mode auto|rollout|fanout]
 *                         [--rest-devices 1000] [--max-rollout-s 900] [--no-job]
 *                         [--cpu-prof <dir>] [--swarm-cpu-prof <dir>] [--swarm-nice 0]`
 *
 * A fleet of simulated devices (test/bench/fleet/simulated-agent.ts: plain mqtt.js clients,
 * many per process, several processes, each with its own provisioned credentials, speaking the
 * real protocol; latency from the roofline predictor, marked `source: simulated`) against the
 * control plane as its own process (`edgec server`, embedded broker, SQLite in a temp dir).
 * For each fleet size it measures:
 *
 *   provisioning  POST /api/v1/devices for every device (credentials hashed, rows committed)
 *   connection    every device connected, birth + hello stored, the control plane sees it online
 *   rollout       a ~1 MB variant to every device: POST /api/v1/rollouts (canary 1%, waves
 *                 10/50/100) when the control plane has rollouts (`--mode rollout`), else one
 *                 benchmark command per device through POST /api/v1/commands/benchmark
 *                 (`--mode fanout`): artifact published once, fanned out by the broker, every
 *                 device fetches it and reports
 *
 * Per phase: the control plane's CPU and RSS (from /proc) and its SQLite write time by
 * transaction kind (from /metrics); reports/s stored. On the first fleet size also the same
 * small AAP job with predicted and with measured latency (fleet/aap-job.phase.ts): wall time
 * and device benchmarks spent. The peer is AWS IoT Jobs' maximum rollout rate, 1,000 devices
 * per minute (documented limit); the printed ratio is our devices per minute over it. Target: 10,000 devices in under 60 s.
 * Writes bench-results/fleet.json.
 */
import BetterSqlite3 from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildSmallCnn, exportOnnx } from '@edgecompress/engine';
import { getFreePort, makeTempDir } from '@edgecompress/testing';
import { createApiToken } from '../../apps/control-plane/src/main';
import { AgentSwarm } from './fleet/agent-swarm.driver';
import { ProcessSampler, type PhaseUsage } from './fleet/process-sampler';
import { compareAapJobs, type AapJobComparison } from './fleet/aap-job.phase';
import { commandTimings, percentiles, type CommandTiming } from './fleet/command-timings';
import { provisionInBulk, type BulkDevice } from './fleet/bulk-provisioning';
import { ControlPlaneApi as Api, HttpError } from './fleet/control-plane.api';
import type { SwarmDevice } from './fleet/swarm-messages';
import type { TransferMode } from './fleet/simulated-agent';
import {
  scrapeTransactions,
  transactionsBetween,
  type TransactionShare,
} from './fleet/transaction-metrics';

const ROOT = join(__dirname, '..', '..');
const GROUP = 'fleet-bench';
/** Device classes the simulated fleet is spread over (round robin), by profile id. */
const PROFILES = ['raspberry-pi-5', 'raspberry-pi-4b', 'jetson-orin-nano'];
const INPUT_SHAPE = [1, 28, 28, 1];
/** AWS IoT Jobs: `maximumPerMinute` is at most 1000 (AWS IoT Jobs limits). */
const PEER_DEVICES_PER_MINUTE = 1000;

interface Phase extends PhaseUsage {
  controlPlane: { cpuPercent: number; cpuSeconds: number; peakRssMiB: number };
  /** Control-plane SQLite write transactions in the phase, by kind, most time first. */
  transactions: TransactionShare[];
}

interface RunResult {
  devices: number;
  mode: 'rollout' | 'fanout';
  transfer: TransferMode;
  artifactBytes: number;
  /** Over REST for the first `restDevices`, in one transaction before start for the rest. */
  provisioning: {
    restDevices: number;
    seconds: number;
    perSec: number;
    bulkDevices: number;
    bulkSeconds: number;
    usage: Phase;
  };
  connection: {
    seconds: number;
    connected: number;
    online: number;
    /** Slowest swarm process from its first CONNECT to its last SUBACK. */
    connectMs: number;
    usage: Phase;
  };
  rollout: {
    seconds: number;
    state: string;
    reason: string | null;
    devicesDone: number;
    devicesPerMinute: number;
    ratioToPeer: number;
    waves: { label: string; devices: number; doneAtSeconds: number | null }[];
    reportsStored: number;
    reportsPerSec: number;
    eventsStored: number;
    eventsPerSec: number;
    commandsByStatus: Record<string, number>;
    /** GET /api/v1/rollouts/:id?targets=summary while watching. */
    rolloutViewMs: { polls: number; mean: number; max: number } | null;
    /** Per command kind: dispatch, delivery + ack, and device work, from the outbox rows. */
    commandTimings: CommandTiming[];
    swarm: {
      commandsByType: Record<string, number>;
      fetches: number;
      manifests: number;
      chunkMiB: number;
      httpDownloads: number;
      httpMiB: number;
      httpFallbacks: number;
      duplicates: number;
      errors: number;
      rssMiB: number;
      /** CPU time of the simulated devices' processes in the rollout phase. */
      cpuSeconds: number;
      /** Device-side durations (manifest wait, HTTP download, whole deploy), ms. */
      deviceMs: Record<string, { p50: number; p90: number; max: number } | null>;
      /** Why HTTP downloads fell back to MQTT, by message. */
      httpErrors: Record<string, number>;
    };
    usage: Phase;
  };
  /** AAP job with predicted vs measured latency on this fleet (first fleet size only). */
  aapJob: AapJobComparison | null;
  /** 1-minute load average of the machine when the run started and ended (2 cores here). */
  loadAverage: { start: number; end: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mib = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;

function usageOf(u: PhaseUsage, transactions: TransactionShare[]): Phase {
  return {
    ...u,
    transactions,
    controlPlane: {
      cpuPercent: Math.round(u.cpuPercent),
      cpuSeconds: Math.round(u.cpuSeconds * 10) / 10,
      peakRssMiB: mib(u.peakRssBytes),
    },
  };
}

async function waitFor<T>(
  probe: () => Promise<T> | T,
  ok: (v: T) => boolean,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await sleep(intervalMs);
  }
}

/** A small CNN widened until its float ONNX export is about `mb` MiB (a real, importable model). */
function variantOfSize(mb: number): Buffer {
  const target = mb * 2 ** 20;
  const sizeAt = (w: number) =>
    exportOnnx(
      buildSmallCnn({
        inputShape: [28, 28, 1],
        numClasses: 10,
        widths: [32, 96, w],
        shapeOnly: true,
      }),
    ).byteLength;
  let lo = 8;
  let hi = 4096;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (sizeAt(mid) <= target) lo = mid;
    else hi = mid;
  }
  const model = buildSmallCnn({
    inputShape: [28, 28, 1],
    numClasses: 10,
    widths: [32, 96, lo],
    seed: 9,
  });
  return Buffer.from(exportOnnx(model));
}

function deviceAt(i: number): BulkDevice {
  const profileId = PROFILES[i % PROFILES.length]!;
  return {
    id: `sim-${String(i).padStart(5, '0')}`,
    name: `simulated ${i}`,
    profileId,
    tags: [profileId, 'simulated'],
    groups: [GROUP],
  };
}

/** POST /api/v1/devices for devices [0, count), a few requests in flight. */
async function provisionOverRest(api: Api, count: number, concurrency = 8): Promise<SwarmDevice[]> {
  const devices: SwarmDevice[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const d = deviceAt(i);
      const created = await api.call<{ mqtt: { username: string; password: string } }>(
        'POST',
        '/api/v1/devices',
        d,
      );
      devices[i] = { id: d.id, password: created.mqtt.password, profileId: d.profileId };
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return devices;
}

interface RolloutView {
  id: string;
  state: string;
  reason: string | null;
  waves: { index: number; label: string; deviceIds: string[]; state: string }[];
  targets: { deviceId: string; step: string }[];
  targetCounts: Record<string, number>;
}

async function runRollout(
  api: Api,
  variantId: string,
  soakMs: number,
  timeoutMs: number,
): Promise<{
  id?: string;
  state: string;
  reason: string | null;
  done: number;
  waves: RunResult['rollout']['waves'];
  viewMs: RunResult['rollout']['rolloutViewMs'];
}> {
  const t0 = Date.now();
  const created = await api.call<RolloutView>('POST', '/api/v1/rollouts', {
    variantId,
    selector: { group: GROUP },
    strategy: { canary: { percent: 1 }, waves: [10, 50, 100], soakMs },
    abortRules: { maxFailureRate: 0.05, minDevices: 10 },
  });
  const doneAt = new Map<number, number>();
  const viewMs: number[] = [];
  const deadline = t0 + timeoutMs;
  let final: RolloutView;
  for (;;) {
    const asked = Date.now();
    // Summary: the counts per step without the target list (cheap at 10,000 targets).
    final = await api.call<RolloutView>('GET', `/api/v1/rollouts/${created.id}?targets=summary`);
    viewMs.push(Date.now() - asked);
    for (const w of final.waves) {
      if (w.state === 'done' && !doneAt.has(w.index)) doneAt.set(w.index, Date.now() - t0);
    }
    if (final.state === 'succeeded' || final.state === 'aborted') break;
    // Past the limit the run stops here and reports how far the rollout got (a rate).
    if (Date.now() > deadline) break;
    // The pause is ten times the last answer's time, so watching takes at most ~10% of the
    // control plane's time even when it answers slowly.
    // ... but never past the limit, so a slow view cannot stretch the run.
    await sleep(
      Math.min(Math.max(1000, 10 * viewMs[viewMs.length - 1]!), Math.max(0, deadline - Date.now())),
    );
  }
  const finished = final.state === 'succeeded' || final.state === 'aborted';
  return {
    id: created.id,
    state: finished ? final.state : `${final.state}, stopped at the ${timeoutMs / 1000} s limit`,
    reason: final.reason,
    done: final.targetCounts.done ?? 0,
    waves: final.waves.map((w) => ({
      label: w.label,
      devices: w.deviceIds.length,
      doneAtSeconds: doneAt.has(w.index) ? doneAt.get(w.index)! / 1000 : null,
    })),
    viewMs: {
      polls: viewMs.length,
      mean: Math.round(viewMs.reduce((a, b) => a + b, 0) / Math.max(1, viewMs.length)),
      max: Math.max(0, ...viewMs),
    },
  };
}

async function runFanout(
  api: Api,
  db: BetterSqlite3.Database,
  variantId: string,
  devices: number,
  timeoutMs: number,
): Promise<{
  state: string;
  reason: string | null;
  done: number;
  waves: RunResult['rollout']['waves'];
  viewMs: RunResult['rollout']['rolloutViewMs'];
}> {
  await api.call('POST', '/api/v1/commands/benchmark', {
    variantId,
    group: GROUP,
    input: { shape: INPUT_SHAPE },
    warmup: 2,
    runs: 20,
    ttlSeconds: Math.ceil(timeoutMs / 1000),
  });
  const finished = () =>
    (
      db
        .prepare(
          "SELECT COUNT(*) AS n FROM commands WHERE status IN ('succeeded', 'failed', 'expired')",
        )
        .get() as { n: number }
    ).n;
  const n = await waitFor(finished, (v) => v >= devices, timeoutMs, 250).catch(() => finished());
  const ok = (
    db.prepare("SELECT COUNT(*) AS n FROM commands WHERE status = 'succeeded'").get() as {
      n: number;
    }
  ).n;
  return {
    state: n >= devices ? 'finished' : 'timed out',
    reason: null,
    done: ok,
    waves: [{ label: 'all', devices, doneAtSeconds: null }],
    viewMs: null,
  };
}

async function run(
  devices: number,
  options: {
    processes: number;
    transfer: TransferMode;
    variant: Buffer;
    soakMs: number;
    mode: 'auto' | 'rollout' | 'fanout';
    restDevices: number;
    maxRolloutS: number;
    withJob: boolean;
    /** Directory for the control plane's V8 CPU profile (node --cpu-prof), if any. */
    cpuProfDir: string | undefined;
    /** Directory for the swarm processes' V8 CPU profiles, if any. */
    swarmCpuProfDir: string | undefined;
    /** How much nicer than the control plane the swarm processes run (0: the same). */
    swarmNice: number;
  },
): Promise<RunResult> {
  const dir = makeTempDir('edgec-bench-fleet-');
  const children: ChildProcess[] = [];
  const swarm = new AgentSwarm(options.processes, options.swarmCpuProfDir, options.swarmNice);
  let sampler: ProcessSampler | undefined;
  let db: BetterSqlite3.Database | undefined;
  const loadAverageAtStart = loadavg()[0]!;
  try {
    const { token } = createApiToken(dir.path, 'bench');
    // Devices beyond the REST share go straight into the database before the server starts.
    const restCount = Math.min(devices, options.restDevices);
    const bulk = Array.from({ length: devices - restCount }, (_, k) => deviceAt(restCount + k));
    let t = Date.now();
    const bulkSecrets = await provisionInBulk(dir.path, bulk);
    const bulkSeconds = (Date.now() - t) / 1000;
    if (bulk.length > 0)
      console.log(`  ${bulk.length} devices provisioned in bulk in ${bulkSeconds.toFixed(1)} s`);
    const [httpPort, mqttPort] = [await getFreePort(), await getFreePort()];
    const server = spawn(
      process.execPath,
      [
        ...(options.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', options.cpuProfDir] : []),
        join(ROOT, 'bin/edgec.js'),
        'server',
        '--data-dir',
        dir.path,
        '--port',
        String(httpPort),
        '--mqtt-port',
        String(mqttPort),
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], cwd: ROOT },
    );
    children.push(server);
    const api = new Api(`http://127.0.0.1:${httpPort}`, token);
    await waitFor(
      () =>
        fetch(`${api.base}/readyz`).then(
          (r) => r.status,
          () => 0,
        ),
      (s) => s === 200,
      60_000,
    );
    sampler = new ProcessSampler(server.pid!);
    db = new BetterSqlite3(join(dir.path, 'control-plane.db'), { readonly: true });
    const count = (sql: string) => (db!.prepare(sql).get() as { n: number }).n;
    let tx = await scrapeTransactions(api.base);
    const phaseStart = async () => {
      sampler!.phase();
      tx = await scrapeTransactions(api.base);
    };
    const phaseEnd = async () => {
      const usage = sampler!.phase();
      const after = await scrapeTransactions(api.base);
      const shares = transactionsBetween(tx, after);
      tx = after;
      return usageOf(usage, shares);
    };

    // 1. provisioning
    await phaseStart();
    t = Date.now();
    const creds = [
      ...(await provisionOverRest(api, restCount)),
      ...bulk.map((d) => ({ id: d.id, password: bulkSecrets.get(d.id)!, profileId: d.profileId })),
    ];
    const provisionSeconds = (Date.now() - t) / 1000;
    const provisionUsage = await phaseEnd();
    console.log(
      `  ${restCount} devices provisioned over REST in ${provisionSeconds.toFixed(1)} s (${(restCount / provisionSeconds).toFixed(0)}/s)`,
    );
    await swarm.launch();
    await phaseStart();

    // 2. connection: every device connected and seen online by the control plane
    t = Date.now();
    const { publicKeyPem } = await api.call<{ publicKeyPem: string }>('GET', '/api/v1/signing-key');
    const started = await swarm.start(creds, {
      brokerUrl: `mqtt://127.0.0.1:${mqttPort}`,
      controlPlaneUrl: api.base,
      publicKeyPem,
      transfer: options.transfer,
    });
    if (started.failed > 0)
      console.log(`  ${started.failed} devices failed to connect: ${started.firstError}`);
    const online = await waitFor(
      () => count("SELECT COUNT(*) AS n FROM devices WHERE status = 'online'"),
      (n) => n >= started.connected,
      Math.max(120_000, devices * 30),
      250,
    ).catch(() => count("SELECT COUNT(*) AS n FROM devices WHERE status = 'online'"));
    const connectSeconds = (Date.now() - t) / 1000;
    const connectUsage = await phaseEnd();
    console.log(
      `  ${started.connected} connected, ${online} online in the control plane after ${connectSeconds.toFixed(1)} s`,
    );

    // 3. the variant, then the rollout (or the fan-out)
    const model = await api.call<{ variants: { id: string; bytes: number }[] }>(
      'POST',
      `/api/v1/models?name=fleet-bench-${devices}&format=onnx`,
      undefined,
      options.variant,
    );
    const variant = model.variants[0]!;
    let mode: 'rollout' | 'fanout' = options.mode === 'fanout' ? 'fanout' : 'rollout';
    const reportsBefore = count('SELECT COUNT(*) AS n FROM measurements');
    const eventsBefore = count('SELECT COUNT(*) AS n FROM command_events');
    const swarmCpuBefore = (await swarm.stats()).cpuSeconds;
    await phaseStart();
    t = Date.now();
    const rolloutStartedAt = t;
    const timeoutMs = options.maxRolloutS * 1000;
    let outcome: Awaited<ReturnType<typeof runRollout>>;
    try {
      outcome =
        mode === 'rollout'
          ? await runRollout(api, variant.id, options.soakMs, timeoutMs)
          : await runFanout(api, db, variant.id, devices, timeoutMs);
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 404 && options.mode === 'auto')) throw err;
      console.log('  no POST /api/v1/rollouts on this control plane: measuring the fan-out');
      mode = 'fanout';
      t = Date.now();
      outcome = await runFanout(api, db, variant.id, devices, timeoutMs);
    }
    let seconds = (Date.now() - t) / 1000;
    // The watcher polls at intervals; a finished rollout's own timestamps say when it ended.
    const row = outcome.id
      ? (db.prepare('SELECT created_at, finished_at FROM rollouts WHERE id = ?').get(outcome.id) as
          { created_at: number; finished_at: number | null } | undefined)
      : undefined;
    if (row?.finished_at) {
      seconds = (row.finished_at - row.created_at) / 1000;
      const waveEnds = db
        .prepare('SELECT idx, finished_at FROM rollout_waves WHERE rollout_id = ? ORDER BY idx')
        .all(outcome.id) as { idx: number; finished_at: number | null }[];
      outcome.waves.forEach((w, i) => {
        const end = waveEnds[i]?.finished_at;
        if (end) w.doneAtSeconds = (end - row.created_at) / 1000;
      });
    }
    const usage = await phaseEnd();
    const stats = await swarm.stats();
    const reportsStored = count('SELECT COUNT(*) AS n FROM measurements') - reportsBefore;
    const eventsStored = count('SELECT COUNT(*) AS n FROM command_events') - eventsBefore;
    const commandsByStatus = Object.fromEntries(
      (
        db.prepare('SELECT status, COUNT(*) AS n FROM commands GROUP BY status').all() as {
          status: string;
          n: number;
        }[]
      ).map((r) => [r.status, r.n]),
    );
    const timings = commandTimings(db, rolloutStartedAt);
    const devicesPerMinute = (outcome.done / seconds) * 60;
    let aapJob: AapJobComparison | null = null;
    if (options.withJob) {
      console.log('  AAP job, predicted then measured latency (3 raspberry-pi-5 devices)');
      aapJob = await compareAapJobs(api, db, { group: GROUP, profileId: PROFILES[0]!, k: 3 });
    }
    return {
      devices,
      mode,
      transfer: options.transfer,
      artifactBytes: variant.bytes,
      provisioning: {
        restDevices: restCount,
        seconds: provisionSeconds,
        perSec: restCount / provisionSeconds,
        bulkDevices: bulk.length,
        bulkSeconds,
        usage: provisionUsage,
      },
      connection: {
        seconds: connectSeconds,
        connected: started.connected,
        online,
        connectMs: started.slowestProcessMs,
        usage: connectUsage,
      },
      rollout: {
        seconds,
        state: outcome.state,
        reason: outcome.reason,
        devicesDone: outcome.done,
        devicesPerMinute,
        ratioToPeer: devicesPerMinute / PEER_DEVICES_PER_MINUTE,
        waves: outcome.waves,
        reportsStored,
        reportsPerSec: reportsStored / seconds,
        eventsStored,
        eventsPerSec: eventsStored / seconds,
        commandsByStatus,
        commandTimings: timings,
        rolloutViewMs: outcome.viewMs,
        swarm: {
          commandsByType: stats.counters.commandsByType,
          fetches: stats.counters.fetches,
          manifests: stats.counters.manifests,
          chunkMiB: mib(stats.counters.chunkBytes),
          httpDownloads: stats.counters.httpDownloads,
          httpMiB: mib(stats.counters.httpBytes),
          httpFallbacks: stats.counters.httpFallbacks,
          duplicates: stats.counters.duplicates,
          errors: stats.counters.errors,
          rssMiB: mib(stats.rssBytes),
          cpuSeconds: Math.round((stats.cpuSeconds - swarmCpuBefore) * 10) / 10,
          httpErrors: stats.counters.httpErrors,
          deviceMs: Object.fromEntries(
            Object.entries(stats.counters.timingsMs).map(([k, v]) => [k, percentiles(v)]),
          ),
        },
        usage,
      },
      aapJob,
      loadAverage: { start: loadAverageAtStart, end: loadavg()[0]! },
    };
  } finally {
    sampler?.stop();
    db?.close();
    await swarm.stop();
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await new Promise((r) => c.once('exit', r));
      }
    }
    dir.cleanup();
  }
}

function printRuns(results: RunResult[]): void {
  const col = (s: string | number, w: number) => String(s).padStart(w);
  console.log(
    `\nfleet (source: simulated devices; control plane and embedded broker as one process)`,
  );
  for (const r of results) {
    console.log(
      `${r.devices} devices: load average ${r.loadAverage.start.toFixed(1)} at start, ${r.loadAverage.end.toFixed(1)} at end, on ${availableParallelism()} cores`,
    );
  }
  console.log(
    `${'devices'.padStart(8)}${'mode'.padStart(9)}${'transfer'.padStart(10)}${'prov/s'.padStart(8)}${'connect s'.padStart(11)}${'rollout s'.padStart(11)}${'done'.padStart(7)}${'dev/min'.padStart(9)}${'x AWS'.padStart(7)}${'reports/s'.padStart(11)}${'events/s'.padStart(10)}${'cp CPU%'.padStart(9)}${'cp RSS MiB'.padStart(12)}`,
  );
  for (const r of results) {
    const o = r.rollout;
    console.log(
      `${col(r.devices, 8)}${col(r.mode, 9)}${col(r.transfer, 10)}${col(r.provisioning.perSec.toFixed(0), 8)}${col(r.connection.seconds.toFixed(1), 11)}${col(o.seconds.toFixed(1), 11)}${col(o.devicesDone, 7)}${col(o.devicesPerMinute.toFixed(0), 9)}${col(o.ratioToPeer.toFixed(1), 7)}${col(o.reportsPerSec.toFixed(0), 11)}${col(o.eventsPerSec.toFixed(0), 10)}${col(o.usage.controlPlane.cpuPercent, 9)}${col(o.usage.controlPlane.peakRssMiB, 12)}`,
    );
  }
  for (const r of results) {
    for (const [name, phase] of [
      ['connection', r.connection.usage],
      ['rollout', r.rollout.usage],
    ] as const) {
      const top = phase.transactions
        .slice(0, 4)
        .map((t) => `${t.kind} ${t.transactions} x ${t.meanMs} ms = ${t.seconds} s`)
        .join('; ');
      console.log(
        `${r.devices} devices, ${name} phase (${phase.seconds.toFixed(1)} s): control-plane SQLite writes ${top}`,
      );
    }
  }
  for (const r of results) {
    const fmt = (p: { p50: number; p90: number } | null) => (p ? `${p.p50}/${p.p90}` : '-');
    console.log(
      `\n${r.devices} devices, rollout commands (ms, p50/p90): queued->sent, sent->acked, acked->done`,
    );
    for (const c of r.rollout.commandTimings) {
      console.log(
        `  ${c.kind.padEnd(10)} ${String(c.commands).padStart(6)} commands, ${String(c.unsent).padStart(5)} never sent: ${fmt(c.queuedToSentMs)}, ${fmt(c.sentToAckedMs)}, ${fmt(c.ackedToDoneMs)}`,
      );
    }
    const sw = r.rollout.swarm;
    console.log(
      `  devices: ${sw.fetches} fetches, ${sw.httpDownloads} over HTTP (${sw.httpMiB} MiB, ${sw.httpFallbacks} fell back to MQTT), ${sw.chunkMiB} MiB of MQTT chunks, ${sw.errors} errors; swarm CPU ${sw.cpuSeconds} s (control plane ${r.rollout.usage.controlPlane.cpuSeconds} s) in ${r.rollout.seconds.toFixed(1)} s`,
    );
    if (r.rollout.devicesDone > 0) {
      // What one device done costs each side: the sum bounds the rate on a machine that runs both.
      const per = (cpuSeconds: number) => ((1000 * cpuSeconds) / r.rollout.devicesDone).toFixed(1);
      console.log(
        `  CPU-seconds per 1,000 devices done: control plane ${per(r.rollout.usage.controlPlane.cpuSeconds)}, simulated devices ${per(sw.cpuSeconds)}`,
      );
    }
    const device = Object.entries(sw.deviceMs)
      .map(([k, p]) => `${k} ${p ? `${p.p50}/${p.p90}/${p.max}` : '-'}`)
      .join(', ');
    console.log(`  on the devices (ms, p50/p90/max): ${device}`);
    for (const [why, n] of Object.entries(sw.httpErrors)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3))
      console.log(`  HTTP failure x${n}: ${why}`);
  }
  for (const r of results) {
    const job = r.aapJob;
    if (!job) continue;
    console.log(
      `\nAAP job on ${r.devices} devices (target ${job.profileId}, k = ${job.k}; device latencies simulated)`,
    );
    console.log(
      `${'latency'.padEnd(10)}${'state'.padStart(11)}${'wall s'.padStart(8)}${'rounds'.padStart(8)}${'measured'.padStart(10)}${'device benchmarks'.padStart(19)}`,
    );
    for (const f of [job.predicted, job.measured]) {
      console.log(
        `${f.latencySource.padEnd(10)}${f.state.padStart(11)}${f.wallSeconds.toFixed(1).padStart(8)}${String(f.rounds).padStart(8)}${String(f.roundsMeasured).padStart(10)}${String(f.deviceBenchmarks).padStart(19)}`,
      );
    }
    console.log(
      `measured / predicted wall time x${job.wallTimeRatio.toFixed(2)}; device benchmarks saved by the predictor: ${job.deviceBenchmarksSaved}`,
    );
  }
  for (const r of results) {
    if (r.devices >= 10_000) {
      console.log(
        `target 10,000 devices in < 60 s: ${r.rollout.seconds < 60 && r.rollout.devicesDone >= 10_000 ? 'met' : 'not met'} (${r.rollout.seconds.toFixed(1)} s, ${r.rollout.devicesDone} done)`,
      );
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      agents: { type: 'string', default: '1000' },
      processes: { type: 'string', default: '4' },
      transfer: { type: 'string', default: 'http' },
      mb: { type: 'string', default: '1' },
      'soak-ms': { type: 'string', default: '0' },
      mode: { type: 'string', default: 'auto' },
      'rest-devices': { type: 'string', default: '1000' },
      'max-rollout-s': { type: 'string', default: '900' },
      'no-job': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      'swarm-cpu-prof': { type: 'string' },
      'swarm-nice': { type: 'string', default: '0' },
    },
  });
  const sizes = values.agents.split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error('--agents: e.g. 1000,10000');
  if (!['http', 'full', 'manifest'].includes(values.transfer))
    throw new Error('--transfer is http, full or manifest');
  if (!['auto', 'rollout', 'fanout'].includes(values.mode))
    throw new Error('--mode is auto, rollout or fanout');
  const swarmNice = Number(values['swarm-nice']);
  if (!Number.isInteger(swarmNice) || swarmNice < 0 || swarmNice > 19)
    throw new Error('--swarm-nice: an integer from 0 to 19');
  if (swarmNice > 0)
    console.log(`simulated devices run at nice +${swarmNice} relative to the control plane`);
  const variant = variantOfSize(Number(values.mb));
  console.log(`variant: small CNN, ${variant.byteLength} bytes of float ONNX`);
  const results: RunResult[] = [];
  for (const devices of sizes) {
    console.log(`\n${devices} simulated devices`);
    results.push(
      await run(devices, {
        processes: Number(values.processes),
        transfer: values.transfer as TransferMode,
        variant,
        soakMs: Number(values['soak-ms']),
        mode: values.mode as 'auto' | 'rollout' | 'fanout',
        restDevices: Number(values['rest-devices']),
        maxRolloutS: Number(values['max-rollout-s']),
        withJob: !values['no-job'] && results.length === 0,
        cpuProfDir: values['cpu-prof'],
        swarmCpuProfDir: values['swarm-cpu-prof'],
        swarmNice,
      }),
    );
  }
  printRuns(results);
  const out = join(ROOT, 'bench-results');
  if (!existsSync(out)) mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'fleet.json'),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        source: 'simulated',
        simulated:
          'devices are mqtt.js clients speaking the real protocol; no inference runs: benchmark reports carry the roofline prediction for the device profile times a fixed per-device factor, and load/self-test are instantaneous',
        machine: { cpus: availableParallelism(), model: cpus()[0]?.model },
        peer: {
          name: 'AWS IoT Jobs maximum rollout rate (maximumPerMinute <= 1000)',
          devicesPerMinute: PEER_DEVICES_PER_MINUTE,
        },
        results,
      },
      null,
      2,
    )}\n`,
  );
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
