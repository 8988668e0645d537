/**
 * `npm run bench:relay -- --mode scale-out` (under scripts/with-services.sh, which provides
 * DATABASE_URL and REDIS_URL): the cost of scale-out per envelope, at the same offered load, in one
 * run. First one relay on SQLite (the default deployment), then two instances of one relay on
 * PostgreSQL + Redis (ADR 0035) with the load generators' connections split between them, so that
 * about half of all envelopes cross instances through Redis. The same load generators, accounts per
 * generator, connections, rates and windows for both; each step reports delivered envelopes per
 * second, send → delivery latency p50/p99, and CPU per envelope of the relay processes — and, for
 * scale-out, of PostgreSQL's and Redis's processes too (they are part of the cost).
 * Prints a summary on stderr and one JSON document on stdout (and to --out).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { all, BENCH_LIMITS, cpuMs, cpuPressure, LoadGen, LOADGEN, log, mergeStep, METRICS_TOKEN, RELAY_MAIN, sleep, spawnNode, waitForLine, type StepResult } from './harness.js';
import type { Reply } from './protocol.js';

export type ScaleOutConfig = {
  readonly rates: readonly number[];
  readonly throughputConnections: number;
  readonly windowMs: number;
  readonly warmupMs: number;
  readonly drainMs: number;
  readonly loadgens: number;
  readonly contentBytes: number;
  readonly repeat: number;
  readonly out?: string | undefined;
};

/** Pids of every process whose command line matches, and of their children (PostgreSQL's backends). */
function processTree(match: (cmdline: string) => boolean): number[] {
  const roots: number[] = [];
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const pid = Number(entry);
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (match(cmdline)) roots.push(pid);
      parent.set(pid, Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out = new Set(roots);
  for (const [pid, ppid] of parent) if (out.has(ppid)) out.add(pid);
  return [...out];
}

function treeCpuMs(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += cpuMs(pid);
    } catch {
      // a backend that exited took its CPU time with it (the pool keeps them for the run)
    }
  }
  return total;
}

export async function scaleOut(config: ScaleOutConfig): Promise<void> {
  const databaseServer = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!databaseServer || !redisUrl) throw new Error('--mode scale-out needs DATABASE_URL and REDIS_URL: run it under scripts/with-services.sh');
  const work = mkdtempSync(path.join(tmpdir(), 'parley-bench-scale-'));
  const children: ChildProcess[] = [];
  const stop = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const database = `parley_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: databaseServer });
  await admin.connect();
  await admin.query(`create database ${database}`);
  await admin.end();
  const databaseUrl = new URL(databaseServer);
  databaseUrl.pathname = `/${database}`;
  const pgPort = new URL(databaseServer).port;
  const redisPort = new URL(redisUrl).port;
  const services = {
    postgres: processTree((c) => c.includes('postgres') && c.includes(`-p ${pgPort}`)),
    redis: processTree((c) => c.startsWith('redis-server') && c.includes(`:${redisPort}`)),
  };
  log(`postgres processes ${services.postgres.length}, redis ${services.redis.length}; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  const results: Record<string, unknown> = {
    benchmark: 'relay-load scale-out',
    command: `bash scripts/with-services.sh npm run bench:relay -- ${process.argv.slice(2).join(' ')}`,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg() },
    config,
  };
  const relayArgs = (dataDir: string, extra: readonly string[]): string[] => ['--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'warn', ...extra];
  const startRelay = async (dataDir: string, extra: readonly string[]) => {
    const child = spawnNode(RELAY_MAIN, [], relayArgs(dataDir, extra), { PARLEY_RELAY_LIMITS: JSON.stringify(BENCH_LIMITS), PARLEY_RELAY_METRICS_TOKEN: METRICS_TOKEN }, false);
    children.push(child);
    const port = await waitForLine(child, 'parley-relay.listening');
    return { child, url: `http://127.0.0.1:${port}` };
  };
  try {
    const perGen = Math.ceil(config.throughputConnections / config.loadgens);
    const phase = async (name: string, relays: { child: ChildProcess; url: string }[], servicePids: readonly number[]): Promise<StepResult[]> => {
      const gens = Array.from({ length: config.loadgens }, () => {
        const child = spawnNode(LOADGEN, [], [], {}, true);
        children.push(child);
        return new LoadGen(child);
      });
      await all(gens, () => ({ cmd: 'setup', relayUrl: relays[0]!.url, accounts: perGen, concurrency: 16 }));
      // Generator i holds its connections on instance i mod n: with two instances, half the
      // recipients of any generator's sends are on the other instance.
      const connected = await all<Extract<Reply, { cmd: 'connect' }>>(gens, (i) => ({ cmd: 'connect', target: 'relay', url: relays[i % relays.length]!.url, count: perGen, concurrency: 100 }));
      const accountIds = connected.flatMap((c) => c.accountIds);
      await all(gens, () => ({ cmd: 'targets', target: 'relay', accountIds }));
      const relayPids = relays.map((r) => r.child.pid!);
      const steps: StepResult[] = [];
      for (const rate of config.rates) {
        for (let r = 0; r < config.repeat; r++) {
          const relayBefore = treeCpuMs(relayPids);
          const servicesBefore = treeCpuMs(servicePids);
          const started = Date.now();
          const startAt = performance.timeOrigin + performance.now() + 250;
          const stats = await all<Extract<Reply, { cmd: 'load' }>>(gens, () => ({
            cmd: 'load',
            target: 'relay',
            startAt,
            rate: rate / config.loadgens,
            warmupMs: config.warmupMs,
            windowMs: config.windowMs,
            drainMs: config.drainMs,
            contentBytes: config.contentBytes,
          }));
          const result = mergeStep(rate, stats.map((s) => s.stats)) as StepResult & Record<string, unknown>;
          const sent = Math.max(1, stats.reduce((n, s) => n + s.stats.sent, 0));
          const relayCpu = treeCpuMs(relayPids) - relayBefore;
          const serviceCpu = treeCpuMs(servicePids) - servicesBefore;
          result.serverCpuUsPerEnvelope = Math.round((relayCpu * 1000) / sent);
          result.serverCpuPercent = Math.round((100 * relayCpu) / (Date.now() - started));
          result.servicesCpuUsPerEnvelope = Math.round((serviceCpu * 1000) / sent);
          result.totalCpuUsPerEnvelope = Math.round(((relayCpu + serviceCpu) * 1000) / sent);
          result.cpuPressure = cpuPressure();
          result.loadavg = loadavg()[0];
          log(`${name} @ ${rate}/s: ${JSON.stringify(result)}`);
          steps.push(result);
        }
      }
      await all(gens, () => ({ cmd: 'disconnect', target: 'relay' }));
      await Promise.all(gens.map((g) => g.call({ cmd: 'exit' }).catch(() => undefined)));
      return steps;
    };

    const single = await startRelay(path.join(work, 'single'), []);
    log(`one instance on SQLite: pid ${single.child.pid}`);
    results.oneSqlite = await phase('one instance, SQLite', [single], []);
    await stop(single.child);

    const shared = ['--store', 'postgres', '--database-url', databaseUrl.toString(), '--bus', 'redis', '--redis-url', redisUrl, '--identity', path.join(work, 'identity.bin')];
    const first = await startRelay(path.join(work, 'a'), shared);
    const second = await startRelay(path.join(work, 'b'), shared);
    log(`two instances on PostgreSQL + Redis: pids ${first.child.pid}, ${second.child.pid}`);
    results.twoPostgresRedis = await phase('two instances, PostgreSQL + Redis', [first, second], [...services.postgres, ...services.redis]);
    await stop(first.child);
    await stop(second.child);
    results.finishedAt = new Date().toISOString();
    results.loadavgAtEnd = loadavg();
  } finally {
    for (const c of children) await stop(c);
    rmSync(work, { recursive: true, force: true });
    const cleanup = new pg.Client({ connectionString: databaseServer });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${database} with (force)`);
    await cleanup.end();
  }
  const json = JSON.stringify(results, null, 2);
  if (config.out) writeFileSync(config.out, `${json}\n`);
  process.stdout.write(`${json}\n`);
}

export type HoldConfig = {
  /** Held connections at each level (the active ones included). */
  readonly levels: readonly number[];
  /** Authenticated connections per instance at most (the descriptor limit per process is the bound). */
  readonly perInstance: number;
  /** Connections per account (the relay allows 5 per device). */
  readonly perAccount: number;
  /** Loopback source addresses the holders spread over (127.0.0.2 …). */
  readonly sourceAddresses: number;
  readonly activeConnections: number;
  readonly rate: number;
  readonly windowMs: number;
  readonly warmupMs: number;
  readonly drainMs: number;
  readonly contentBytes: number;
  /** Stop ramping once this many seconds have passed after registration (a shared machine). */
  readonly budgetS: number;
  readonly out?: string | undefined;
};

function rssKbOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * `npm run bench:relay -- --mode hold` (under scripts/with-services.sh): instances of one relay on
 * PostgreSQL + Redis, each holding at most `perInstance` authenticated WebSocket connections (the
 * container's descriptor limit per process), idle connections opened by holder processes from
 * several loopback source addresses (past the 64k ports of one address), `perAccount` per device,
 * and 1,000 active connections sending at a fixed rate; at each level: relay RSS per held
 * connection, delivered envelopes per second, p50/p99. Stops ramping at the first limit it meets and
 * reports the count reached and why.
 */
export async function holdBench(config: HoldConfig): Promise<void> {
  const databaseServer = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!databaseServer || !redisUrl) throw new Error('--mode hold needs DATABASE_URL and REDIS_URL: run it under scripts/with-services.sh');
  let began = Date.now();
  const work = mkdtempSync(path.join(tmpdir(), 'parley-bench-hold-'));
  const children: ChildProcess[] = [];
  const stop = async (child: ChildProcess): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(15_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const database = `parley_hold_${process.pid}`;
  const admin = new pg.Client({ connectionString: databaseServer });
  await admin.connect();
  await admin.query(`create database ${database}`);
  await admin.end();
  const databaseUrl = new URL(databaseServer);
  databaseUrl.pathname = `/${database}`;
  const max = Math.max(...config.levels);
  const instances = Math.ceil(max / config.perInstance);
  const limits = { ...BENCH_LIMITS, maxConnections: config.perInstance, maxPreAuthConnections: 20_000 };
  const results: Record<string, unknown> = {
    benchmark: 'relay-load hold',
    command: `bash scripts/with-services.sh npm run bench:relay -- ${process.argv.slice(2).join(' ')}`,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg() },
    config: { ...config, instances },
  };
  const levels: Record<string, unknown>[] = [];
  results.levels = levels;
  try {
    const shared = ['--store', 'postgres', '--database-url', databaseUrl.toString(), '--bus', 'redis', '--redis-url', redisUrl, '--identity', path.join(work, 'identity.bin')];
    const relays: { child: ChildProcess; url: string }[] = [];
    for (let i = 0; i < instances; i++) {
      const child = spawnNode(RELAY_MAIN, [], ['--host', '127.0.0.1', '--port', '0', '--data', path.join(work, `r${i}`), '--log-level', 'warn', ...shared], {
        PARLEY_RELAY_LIMITS: JSON.stringify(limits),
        PARLEY_RELAY_METRICS_TOKEN: METRICS_TOKEN,
      }, false);
      children.push(child);
      relays.push({ child, url: `http://127.0.0.1:${await waitForLine(child, 'parley-relay.listening')}` });
    }
    const urls = relays.map((r) => r.url);
    const rss = (): number => relays.reduce((n, r) => n + rssKbOf(r.child.pid!), 0);
    log(`${instances} instances up; load ${loadavg()[0]!.toFixed(2)}`);
    // Active traffic: two generators, one connection per account, on the first two instances.
    const active = [0, 1].map(() => {
      const child = spawnNode(LOADGEN, [], [], {}, true);
      children.push(child);
      return new LoadGen(child);
    });
    const perActive = Math.ceil(config.activeConnections / 2);
    await all(active, (i) => ({ cmd: 'setup', relayUrl: urls[i % urls.length]!, accounts: perActive, concurrency: 16 }));
    const connected = await all<Extract<Reply, { cmd: 'connect' }>>(active, (i) => ({ cmd: 'connect', target: 'relay', url: urls[i % urls.length]!, count: perActive, concurrency: 100 }));
    const accountIds = connected.flatMap((c) => c.accountIds);
    await all(active, () => ({ cmd: 'targets', target: 'relay', accountIds }));
    await sleep(2_000);
    const baseRss = rss();
    // Holders: one per instance's worth of connections (each process within the descriptor limit).
    const holdersNeeded = Math.ceil(Math.max(0, max - config.activeConnections) / config.perInstance);
    const holders = Array.from({ length: holdersNeeded }, () => {
      const child = spawnNode(LOADGEN, [], [], {}, true);
      children.push(child);
      return new LoadGen(child);
    });
    const perHolder = Math.ceil(Math.max(0, max - config.activeConnections) / Math.max(1, holdersNeeded));
    if (holders.length > 0) {
      const t = Date.now();
      await all(holders, (i) => ({ cmd: 'setup', relayUrl: urls[i % urls.length]!, accounts: Math.ceil(perHolder / config.perAccount), concurrency: 16 }));
      log(`${holders.length} holders registered ${holders.length * Math.ceil(perHolder / config.perAccount)} accounts in ${Date.now() - t} ms`);
      results.registrationMs = Date.now() - t;
    }
    // The budget is for ramping and measuring; registering the accounts comes first, whatever it costs.
    began = Date.now();
    const sources = Array.from({ length: config.sourceAddresses }, (_, i) => `127.0.0.${i + 2}`);
    let heldTotal = 0;
    let stoppedBy: string | null = null;
    for (const level of config.levels) {
      const target = Math.max(0, level - config.activeConnections);
      if (holders.length > 0 && target > heldTotal) {
        if ((Date.now() - began) / 1000 > config.budgetS) {
          stoppedBy = `time budget of ${config.budgetS} s (shared machine) before level ${level}`;
          break;
        }
        const t = Date.now();
        const replies = await all<Extract<Reply, { cmd: 'hold' }>>(holders, (i) => ({
          cmd: 'hold',
          // Holder i's connections go round the instances, starting after the active ones' two.
          urls: urls.map((_, k) => urls[(i + k) % urls.length]!),
          count: Math.ceil(target / holders.length),
          perAccount: config.perAccount,
          localAddresses: sources,
          concurrency: 200,
        }));
        heldTotal = replies.reduce((n, r) => n + r.held, 0);
        const failed = replies.reduce((n, r) => n + r.failed, 0);
        log(`level ${level}: holding ${heldTotal} idle + ${config.activeConnections} active in ${Date.now() - t} ms (${failed} failed${failed ? `: ${replies.find((r) => r.firstError)?.firstError}` : ''}); load ${loadavg()[0]!.toFixed(2)}`);
        if (failed > 0 && heldTotal < target) stoppedBy = `connections failed at ${heldTotal + config.activeConnections}: ${replies.find((r) => r.firstError)?.firstError}`;
      }
      await sleep(3_000);
      const rssNow = rss();
      const before = treeCpuMs(relays.map((r) => r.child.pid!));
      const startAt = performance.timeOrigin + performance.now() + 250;
      const stats = await all<Extract<Reply, { cmd: 'load' }>>(active, () => ({
        cmd: 'load',
        target: 'relay',
        startAt,
        rate: config.rate / 2,
        warmupMs: config.warmupMs,
        windowMs: config.windowMs,
        drainMs: config.drainMs,
        contentBytes: config.contentBytes,
      }));
      const step = mergeStep(config.rate, stats.map((s) => s.stats));
      const sent = Math.max(1, stats.reduce((n, s) => n + s.stats.sent, 0));
      const row = {
        level,
        held: heldTotal + config.activeConnections,
        relayRssMb: Math.round(rssNow / 1024),
        relayRssPerHeldConnectionKb: heldTotal > 0 ? Math.round(((rssNow - baseRss) / heldTotal) * 10) / 10 : null,
        deliveredPerSec: step.deliveredPerSec,
        p50Ms: step.p50Ms,
        p99Ms: step.p99Ms,
        lost: step.lost,
        relayCpuUsPerEnvelope: Math.round(((treeCpuMs(relays.map((r) => r.child.pid!)) - before) * 1000) / sent),
        loadavg: loadavg()[0],
        cpuPressure: cpuPressure(),
      };
      log(`level ${level}: ${JSON.stringify(row)}`);
      levels.push(row);
      if (stoppedBy) break;
    }
    results.stoppedBy = stoppedBy;
    results.finishedAt = new Date().toISOString();
    results.loadavgAtEnd = loadavg();
  } finally {
    for (const c of children) await stop(c);
    rmSync(work, { recursive: true, force: true });
    const cleanup = new pg.Client({ connectionString: databaseServer });
    await cleanup.connect();
    await cleanup.query(`drop database if exists ${database} with (force)`);
    await cleanup.end();
  }
  const json = JSON.stringify(results, null, 2);
  if (config.out) writeFileSync(config.out, `${json}\n`);
  process.stdout.write(`${json}\n`);
}
