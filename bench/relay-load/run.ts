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
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { summariseProfile, type ProfileSummary } from './profile.js';
import { all, BENCH_LIMITS, cpuMs, cpuPressure, FORWARDER, LoadGen, LOADGEN, log, mergeStep, METRICS_TOKEN, RELAY_MAIN, relayHeapBytes, rssKb, sleep, spawnNode, waitForLine, type StepResult } from './harness.js';
import type { Reply, Target } from './protocol.js';
import { holdBench, scaleOut } from './scale.js';

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
    /** `scale-out`: one SQLite instance against two on PostgreSQL + Redis; `hold`: 1k/10k/100k held (scale.ts). */
    mode: { type: 'string', default: 'standard' },
    levels: { type: 'string', default: '1000,10000,100000' },
    'per-instance': { type: 'string', default: '18000' },
    'source-addresses': { type: 'string', default: '8' },
    'budget-s': { type: 'string', default: '420' },
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

(args.mode === 'hold'
  ? holdBench({
      levels: list(args.levels!),
      perInstance: Number(args['per-instance']),
      perAccount: 5,
      sourceAddresses: Number(args['source-addresses']),
      activeConnections: config.throughputConnections,
      rate: args.rates === '1000,2500,5000,7500,10000' ? 500 : config.rates[0]!,
      windowMs: config.windowMs,
      warmupMs: config.warmupMs,
      drainMs: config.drainMs,
      contentBytes: config.contentBytes,
      budgetS: Number(args['budget-s']),
      out: args.out,
    })
  : args.mode === 'scale-out'
  ? scaleOut({
      rates: args.rates === '1000,2500,5000,7500,10000' ? [500, 1000, 2000] : config.rates,
      throughputConnections: config.throughputConnections,
      windowMs: config.windowMs,
      warmupMs: config.warmupMs,
      drainMs: config.drainMs,
      loadgens: config.loadgens,
      contentBytes: config.contentBytes,
      repeat: config.repeat,
      out: args.out,
    })
  : main()
).catch((e: unknown) => {
  log(`failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
