/**
 * The relay load benchmark (issue 3; `npm run bench:relay`). Runs on this machine, everything in
 * separate processes: the relay (dist/server/main.js, production settings: SQLite WAL with
 * synchronous = FULL, group commit), the baseline bare WebSocket forwarder (forwarder.ts), and
 * load generators (loadgen.ts), each started as `bash -c 'ulimit -n …; exec node …'`.
 *
 * Measures, for the relay and the baseline in the same run:
 *  - memory per held connection at 1,000 / 5,000 / 10,000 authenticated connections (RSS and heap
 *    growth over the idle process, divided by the connection count);
 *  - with 1,000 connections, delivered envelopes per second and send → delivery latency
 *    (p50/p95/p99) at increasing offered rates, where an envelope is one device ciphertext
 *    committed, delivered and acknowledged (acks are confirmed by the relay after commit); relay
 *    and baseline steps alternate at each rate, each with the server's CPU per envelope and the
 *    machine's CPU pressure (PSI), since a shared machine's load varies from minute to minute;
 *  - the bottleneck: a `--cpu-prof` of the relay at a fixed rate, summarised per function and per
 *    component.
 * Prints a summary on stderr and the results as one JSON document on stdout (and to --out).
 * Goals: 10,000 connections held; ≥ 5,000 envelopes/s at p99 ≤ 100 ms with 1,000 connections.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { summariseProfile, type ProfileSummary } from './profile.js';
import type { Command, LoadStats, Reply, Target } from './protocol.js';

const DIST = fileURLToPath(new URL('../../', import.meta.url));
const RELAY_MAIN = path.join(DIST, 'server/main.js');
const LOADGEN = path.join(DIST, 'bench/relay-load/loadgen.js');
const FORWARDER = path.join(DIST, 'bench/relay-load/forwarder.js');
const WANTED_NOFILE = 65_535;
/** The relay serves /metrics only with a token (or on a listener of its own). */
const METRICS_TOKEN = 'bench-relay-load-metrics-token';
/** Loopback is one IP: the per-IP limits of a public relay would throttle the setup, not the relay. */
const BENCH_LIMITS = {
  registrationPerIp: { points: 1e6, duration: 1 },
  authPerIp: { points: 1e6, duration: 1 },
  requestsPerIp: { points: 1e6, duration: 1 },
  upgradesPerIp: { points: 1e6, duration: 1 },
  wsAuthPerIp: { points: 1e6, duration: 1 },
  maxPreAuthPerIp: 1e6,
  maxMailboxEnvelopes: 1e9,
};

const { values: args } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000,5000,10000' },
    rates: { type: 'string', default: '1000,2500,5000,7500,10000' },
    'throughput-connections': { type: 'string', default: '1000' },
    'window-s': { type: 'string', default: '10' },
    'warmup-s': { type: 'string', default: '2' },
    'drain-s': { type: 'string', default: '3' },
    loadgens: { type: 'string', default: '2' },
    'content-bytes': { type: 'string', default: '256' },
    'profile-rate': { type: 'string', default: '5000' },
    repeat: { type: 'string', default: '1' },
    'no-forwarder': { type: 'boolean', default: false },
    'no-profile': { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const quick = args.quick === true;
const list = (s: string) => s.split(',').map(Number);
const config = {
  connections: quick ? [200, 400] : list(args.connections!),
  rates: quick ? [500, 1000] : list(args.rates!),
  throughputConnections: quick ? 200 : Number(args['throughput-connections']),
  windowMs: (quick ? 3 : Number(args['window-s'])) * 1000,
  warmupMs: (quick ? 1 : Number(args['warmup-s'])) * 1000,
  drainMs: (quick ? 1 : Number(args['drain-s'])) * 1000,
  loadgens: Number(args.loadgens),
  contentBytes: Number(args['content-bytes']),
  profileRate: quick ? 1000 : Number(args['profile-rate']),
  repeat: Number(args.repeat),
  forwarder: !args['no-forwarder'],
  profile: !args['no-profile'],
};

const log = (message: string): void => {
  process.stderr.write(`[bench:relay] ${message}\n`);
};

function spawnNode(script: string, nodeArgs: readonly string[], scriptArgs: readonly string[], env: NodeJS.ProcessEnv, ipc: boolean): ChildProcess {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [
    `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"`,
    'export PARLEY_BENCH_NOFILE="$(ulimit -n)"',
    `exec ${[process.execPath, ...nodeArgs, script, ...scriptArgs].map(quote).join(' ')}`,
  ].join('; ');
  return spawn('bash', ['-c', command], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit', ...(ipc ? (['ipc'] as const) : [])] });
}

function waitForLine(child: ChildProcess, event: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (!line.includes(event)) return;
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        // not the line
      }
    });
    child.once('exit', (code) => reject(new Error(`${event}: process exited with ${code}`)));
  });
}

/** User + system CPU time of a process, in ms (Linux clock ticks are 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Share of the last 10 s in which some runnable task waited for a CPU (PSI), or null. */
function cpuPressure(): number | null {
  try {
    return Number(/some avg10=([\d.]+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN);
  } catch {
    return null;
  }
}

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

async function relayHeapBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).text();
  return Number(/^parley_relay_nodejs_heap_size_used_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class LoadGen {
  private waiting: ((r: Reply) => void)[] = [];
  constructor(readonly child: ChildProcess) {
    child.on('message', (m) => this.waiting.shift()?.(m as Reply));
  }
  async call(command: Command): Promise<Reply & { ok: true }> {
    const reply = await new Promise<Reply>((resolve) => {
      this.waiting.push(resolve);
      this.child.send(command);
    });
    if (!reply.ok) throw new Error(`loadgen: ${reply.error}`);
    return reply;
  }
}

async function all<T extends Reply & { ok: true }>(gens: readonly LoadGen[], command: (i: number) => Command): Promise<T[]> {
  return (await Promise.all(gens.map((g, i) => g.call(command(i))))) as T[];
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const v = sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return Number.isFinite(v) ? Math.round(v * 10) / 10 : null;
}

type StepResult = {
  offeredPerSec: number;
  sentPerSec: number;
  deliveredPerSec: number;
  ackedPerSec: number;
  lost: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  commitP50Ms: number | null;
  commitP99Ms: number | null;
  errors: Record<string, number>;
  /** CPU time of the server process per delivered envelope over the whole step (warmup, window, drain). */
  serverCpuUsPerEnvelope?: number;
  serverCpuPercent?: number;
  /** Machine CPU pressure (PSI some avg10, %) at the end of the step: other tenants' load. */
  cpuPressure?: number | null;
  /** CPU time of all load generators per envelope (they share the machine with the server). */
  loadgenCpuUsPerEnvelope?: number;
};

function mergeStep(rate: number, stats: readonly LoadStats[]): StepResult {
  const windowS = stats[0]!.windowMs / 1000;
  const sentInWindow = stats.reduce((n, s) => n + s.sentInWindow, 0);
  const latencies = stats.flatMap((s) => s.latencies);
  const lost = Math.max(0, sentInWindow - latencies.length);
  // Undelivered envelopes count as infinitely late.
  const sorted = [...latencies, ...Array<number>(lost).fill(Infinity)].sort((a, b) => a - b);
  const commits = stats.flatMap((s) => s.commitLatencies).sort((a, b) => a - b);
  const errors: Record<string, number> = {};
  for (const s of stats) for (const [k, v] of Object.entries(s.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    offeredPerSec: rate,
    sentPerSec: Math.round(sentInWindow / windowS),
    deliveredPerSec: Math.round(latencies.length / windowS),
    ackedPerSec: Math.round(stats.reduce((n, s) => n + s.ackedInWindow, 0) / windowS),
    lost,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: percentile(sorted, 100),
    commitP50Ms: percentile(commits, 50),
    commitP99Ms: percentile(commits, 99),
    errors,
  };
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'parley-bench-relay-'));
  const children: ChildProcess[] = [];
  const stop = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const results: Record<string, unknown> = {
    benchmark: 'relay-load',
    command: `npm run bench:relay --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version },
    config,
  };
  try {
    const maxConnections = Math.max(...config.connections, config.throughputConnections);
    const perGen = Math.ceil(maxConnections / config.loadgens);
    const dataDir = path.join(work, 'relay');
    const startRelay = async (nodeArgs: readonly string[] = []) => {
      const child = spawnNode(RELAY_MAIN, nodeArgs, ['--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'warn'], { PARLEY_RELAY_LIMITS: JSON.stringify(BENCH_LIMITS), PARLEY_RELAY_METRICS_TOKEN: METRICS_TOKEN }, false);
      children.push(child);
      const port = await waitForLine(child, 'parley-relay.listening');
      return { child, url: `http://127.0.0.1:${port}` };
    };
    let relay = await startRelay();
    log(`relay pid ${relay.child.pid} at ${relay.url}`);
    const gens = Array.from({ length: config.loadgens }, () => {
      const child = spawnNode(LOADGEN, [], [], {}, true);
      children.push(child);
      return new LoadGen(child);
    });

    log(`registering ${perGen * config.loadgens} accounts`);
    const setup = await all<Extract<Reply, { cmd: 'setup' }>>(gens, () => ({ cmd: 'setup', relayUrl: relay.url, accounts: perGen, concurrency: 16 }));
    log(`registered and authenticated in ${Math.max(...setup.map((s) => s.ms))} ms; load generators hold up to ${setup[0]!.nofile} fds each`);
    results.setup = { accounts: setup.reduce((n, s) => n + s.accountIds.length, 0), ms: Math.max(...setup.map((s) => s.ms)), loadgenNofile: setup[0]!.nofile };

    // ── Memory per held connection ──
    const memory = async (target: Target, url: string, pid: number) => {
      await sleep(3_000);
      const baseRss = rssKb(pid);
      const baseHeap = target === 'relay' ? await relayHeapBytes(url) : NaN;
      const rows = [];
      for (const level of config.connections) {
        const counts = await all<Extract<Reply, { cmd: 'connect' }>>(gens, (i) => ({
          cmd: 'connect',
          target,
          url,
          count: Math.floor(level / config.loadgens) + (i < level % config.loadgens ? 1 : 0),
          concurrency: 100,
        }));
        const held = counts.reduce((n, c) => n + c.connected, 0);
        await sleep(3_000);
        const rss = rssKb(pid);
        const heap = target === 'relay' ? await relayHeapBytes(url) : NaN;
        const row = {
          connections: held,
          rssMb: Math.round(rss / 1024),
          rssPerConnectionKb: Math.round(((rss - baseRss) / held) * 10) / 10,
          heapMb: Number.isNaN(heap) ? null : Math.round(heap / 2 ** 20),
          heapPerConnectionKb: Number.isNaN(heap) ? null : Math.round(((heap - baseHeap) / held / 1024) * 10) / 10,
        };
        log(`${target}: ${JSON.stringify(row)}`);
        rows.push(row);
      }
      await all(gens, () => ({ cmd: 'disconnect', target }));
      return { idleRssMb: Math.round(baseRss / 1024), levels: rows };
    };

    // ── Throughput and latency ──
    const hold = async (target: Target, url: string): Promise<void> => {
      const connected = await all<Extract<Reply, { cmd: 'connect' }>>(gens, () => ({
        cmd: 'connect',
        target,
        url,
        count: Math.floor(config.throughputConnections / config.loadgens),
        concurrency: 100,
      }));
      // Every envelope goes to a connected device: a mailbox filling up offline is not this test.
      const accountIds = connected.flatMap((c) => c.accountIds);
      await all(gens, () => ({ cmd: 'targets', target, accountIds }));
    };
    const genPids = gens.map((g) => g.child.pid!);
    const step = async (target: Target, pid: number, rate: number): Promise<StepResult> => {
      const cpuBefore = cpuMs(pid);
      const genCpuBefore = genPids.reduce((n, p) => n + cpuMs(p), 0);
      const started = Date.now();
      const startAt = performance.timeOrigin + performance.now() + 250;
      const stats = await all<Extract<Reply, { cmd: 'load' }>>(gens, () => ({
        cmd: 'load',
        target,
        startAt,
        rate: rate / config.loadgens,
        warmupMs: config.warmupMs,
        windowMs: config.windowMs,
        drainMs: config.drainMs,
        contentBytes: config.contentBytes,
      }));
      const result = mergeStep(rate, stats.map((s) => s.stats));
      const cpu = cpuMs(pid) - cpuBefore;
      const sentTotal = stats.reduce((n, s) => n + s.stats.sent, 0);
      result.serverCpuUsPerEnvelope = Math.round((cpu * 1000) / Math.max(1, sentTotal));
      result.serverCpuPercent = Math.round((100 * cpu) / (Date.now() - started));
      result.cpuPressure = cpuPressure();
      result.loadgenCpuUsPerEnvelope = Math.round(((genPids.reduce((n, p) => n + cpuMs(p), 0) - genCpuBefore) * 1000) / Math.max(1, sentTotal));
      log(`${target} @ ${rate}/s: ${JSON.stringify(result)}`);
      return result;
    };

    const memoryResults: Record<string, unknown> = { relay: await memory('relay', relay.url, relay.child.pid!) };
    let forwarder: { child: ChildProcess; url: string } | undefined;
    if (config.forwarder) {
      const child = spawnNode(FORWARDER, [], [], {}, false);
      children.push(child);
      forwarder = { child, url: `http://127.0.0.1:${await waitForLine(child, 'forwarder.listening')}` };
      memoryResults.forwarder = await memory('forwarder', forwarder.url, child.pid!);
    }
    results.memory = memoryResults;

    // Relay and baseline steps alternate at each rate, so both see the same machine (other tenants'
    // load on a shared machine varies by the minute).
    await hold('relay', relay.url);
    if (forwarder) await hold('forwarder', forwarder.url);
    const throughputResults: { relay: StepResult[]; forwarder: StepResult[] } = { relay: [], forwarder: [] };
    for (const rate of config.rates) {
      for (let r = 0; r < config.repeat; r++) {
        throughputResults.relay.push(await step('relay', relay.child.pid!, rate));
        if (forwarder) throughputResults.forwarder.push(await step('forwarder', forwarder.child.pid!, rate));
      }
    }
    await all(gens, () => ({ cmd: 'disconnect', target: 'relay' }));
    if (forwarder) {
      await all(gens, () => ({ cmd: 'disconnect', target: 'forwarder' }));
      await stop(forwarder.child);
    }
    results.throughput = throughputResults;

    // ── Bottleneck: CPU profile of the relay at a fixed rate ──
    if (config.profile) {
      await stop(relay.child);
      const profileDir = path.join(work, 'cpu-prof');
      relay = await startRelay(['--cpu-prof', `--cpu-prof-dir=${profileDir}`]);
      await hold('relay', relay.url);
      const profiled = await step('relay', relay.child.pid!, config.profileRate);
      await all(gens, () => ({ cmd: 'disconnect', target: 'relay' }));
      await stop(relay.child);
      // One profile per thread: the event loop's, and the store worker's (its code is sqlite-worker.js).
      const threads: Record<string, ProfileSummary> = {};
      for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
        const full = path.join(profileDir, file);
        const name = readFileSync(full, 'utf8').includes('sqlite-worker.js') ? 'storeWorker' : 'eventLoop';
        threads[name] = summariseProfile(full);
      }
      results.profile = { rate: config.profileRate, step: profiled, threads };
      for (const [name, summary] of Object.entries(threads)) {
        log(`profile ${name}: busy ${summary.busyMs} of ${summary.totalMs} ms; ${summary.components.map((c) => `${c.component} ${c.percentOfBusy}%`).join(', ')}`);
        log(`profile ${name} top: ${summary.topFunctions.slice(0, 8).map((f) => `${f.name} (${f.where}) ${f.percentOfBusy}%`).join('; ')}`);
      }
    }
    await stop(relay.child);
    await Promise.all(gens.map((g) => g.call({ cmd: 'exit' }).catch(() => undefined)));
    results.finishedAt = new Date().toISOString();
  } finally {
    for (const c of children) await stop(c);
    rmSync(work, { recursive: true, force: true });
  }
  const json = JSON.stringify(results, null, 2);
  if (args.out) writeFileSync(args.out, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

main().catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
