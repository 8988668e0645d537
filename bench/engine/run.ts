/**
 * The engine benchmark (issue 4 "Benchmarks"; `npm run bench:engine`). Everything runs on this
 * machine in separate processes: the relay (dist/server/main.js: SQLite WAL, synchronous = FULL,
 * group commit), and one host process per engine (host.ts: a real Engine with production database
 * settings, calls through the contract's dispatcher). Bob reaches the relay through a TCP forwarder
 * (test/support/forwarder.ts) that can be unplugged.
 *
 * Measured, each next to its baselines from the same run:
 *  - end-to-end: Alice sends N texts through `messages:send` (one request per macrotask); the
 *    figure is N / (Bob's N-th `message:added` − Alice's first request), both databases durable;
 *  - queued: Bob is offline while Alice sends Q texts (all committed at the relay); Bob reconnects;
 *    the figure is Q / (Bob's Q-th `message:added` − his `online`), with Bob's event-loop delay
 *    (p99, max) over exactly that window;
 *  - baselines: the protocol alone (shared/protocol encrypt + decrypt with serialized records, one
 *    direction; bench/protocol's case), and the relay alone (two bare RelayClients in the same
 *    kind of host processes, same content size: N envelopes with 1 and with W sends in flight, and
 *    Q queued envelopes drained and acked after a reconnect).
 * Relay limits per device and per connection are raised (the defaults cap a device at 200
 * envelopes/s: a policy, not a cost). Prints a summary on stderr and one JSON document on stdout.
 *
 *   node dist/bench/engine/run.js [--messages N] [--queued Q] [--repeat R] [--search on|off|both] [--quick]
 *                                 [--cpu-prof DIR]   (a V8 profile of each host process, for the bottleneck)
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PADDING_BLOCK } from '../../shared/protocol/constants.js';
import { RATCHET_HEADER_LENGTH } from '../../shared/protocol/messages.js';
import { measure } from '../protocol/harness.js';
import { oneDirectionCases } from '../protocol/ratchet.js';
import { Forwarder } from '../../test/support/forwarder.js';
import type { Command, Reply, ReplyFor } from './protocol.js';

const DIST = fileURLToPath(new URL('../../', import.meta.url));
const RELAY_MAIN = path.join(DIST, 'server/main.js');
const HOST = path.join(DIST, 'bench/engine/host.js');
/** Loopback is one IP and one conversation is one device pair: per-IP and per-device policy limits off. */
const BENCH_LIMITS = {
  registrationPerIp: { points: 1e6, duration: 1 },
  authPerIp: { points: 1e6, duration: 1 },
  challengesPerAddressAndDevice: { points: 1e6, duration: 1 },
  requestsPerIp: { points: 1e6, duration: 1 },
  lookupsPerAccount: { points: 1e6, duration: 1 },
  bundlesPerPair: { points: 1e6, duration: 1 },
  envelopesPerDevice: { points: 1e9, duration: 1 },
  framesPerConnection: { points: 1e9, duration: 1 },
  bytesPerConnection: { points: 1e12, duration: 1 },
  upgradesPerIp: { points: 1e6, duration: 1 },
  wsAuthPerIp: { points: 1e6, duration: 1 },
  maxPreAuthPerIp: 1e6,
  maxMailboxEnvelopes: 1e9,
};
/** Bytes of one device envelope of a 100-byte text: header (version, type, ratchet key, counters), one padded block, GCM tag. */
const ENVELOPE_BYTES = RATCHET_HEADER_LENGTH + PADDING_BLOCK + 16;

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '5000' },
    queued: { type: 'string', default: '10000' },
    repeat: { type: 'string', default: '3' },
    window: { type: 'string', default: '32' },
    inflight: { type: 'string', default: '32' },
    'sequential-messages': { type: 'string', default: '2000' },
    /** One scenario only (e.g. under --cpu-prof): end-to-end | queued. Baselines still run. */
    only: { type: 'string' },
    search: { type: 'string', default: 'both' },
    quick: { type: 'boolean', default: false },
    /** Writes V8 CPU profiles of every host process into DIR/<host>/ (main thread: `*.0.*.cpuprofile`). */
    'cpu-prof': { type: 'string' },
  },
});
const quick = args.quick === true;
const config = {
  messages: quick ? 500 : Number(args.messages),
  queued: quick ? 1000 : Number(args.queued),
  repeat: quick ? 1 : Number(args.repeat),
  /** Sends in flight of the relay-alone baseline. */
  window: Number(args.window),
  /** Alice's `messages:send` requests outstanding at once (a renderer need not wait for each answer). */
  inflight: Number(args.inflight),
  /** Texts of the one-request-at-a-time end-to-end run. */
  sequentialMessages: quick ? 300 : Number(args['sequential-messages']),
  search: args.search === 'on' ? [true] : args.search === 'off' ? [false] : [false, true],
  only: args.only as 'end-to-end' | 'queued' | undefined,
  bodyBytes: 100,
};

const log = (message: string): void => {
  process.stderr.write(`[bench:engine] ${message}\n`);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 0) => Number(x.toFixed(digits));
const load1 = () => round(loadavg()[0]!, 2);

/** User + system CPU time of a process, in ms (Linux clock ticks are 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

class Host {
  #next = 1;
  readonly #calls = new Map<number, (r: Reply) => void>();
  readonly ready: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    let markReady: () => void = () => undefined;
    this.ready = new Promise((resolve) => (markReady = resolve));
    child.on('message', (m: Reply) => {
      if (m.id === 0) return markReady();
      this.#calls.get(m.id)?.(m);
      this.#calls.delete(m.id);
    });
  }

  static start(name: string): Host {
    const dir = args['cpu-prof'];
    // One directory per host: its worker threads (the search index's) write profiles of their own.
    const execArgv = dir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(dir, name)}`] : [];
    return new Host(name, fork(HOST, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  async call<C extends Command['cmd']>(command: Extract<Command, { cmd: C }>): Promise<ReplyFor<C>> {
    await this.ready;
    const id = this.#next++;
    const reply = await new Promise<Reply>((resolve) => {
      this.#calls.set(id, resolve);
      this.child.send({ ...command, id });
    });
    if (!reply.ok) throw new Error(`${this.name} ${command.cmd}: ${reply.error}`);
    return reply.value as ReplyFor<C>;
  }

  get pid(): number {
    return this.child.pid!;
  }
}

async function startRelay(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [RELAY_MAIN, '--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'warn'], {
    env: { ...process.env, PARLEY_RELAY_LIMITS: JSON.stringify(BENCH_LIMITS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('parley-relay.listening')) return;
      try {
        resolve((JSON.parse(line) as { port: number }).port);
      } catch {
        // a log line mentioning the event
      }
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

type Pair = { alice: Host; bob: Host; forwarder: Forwarder; aToB: string; bToA: string; search: boolean };

async function enginePair(work: string, relayUrl: string, search: boolean, tag: string): Promise<Pair> {
  const forwarder = await Forwarder.start(relayUrl);
  const alice = Host.start(`alice-${tag}`);
  const bob = Host.start(`bob-${tag}`);
  const suffix = `${process.pid % 100_000}_${tag}`;
  await Promise.all([
    alice.call({ cmd: 'create', base: path.join(work, `alice-${tag}`), relayUrl, username: `alice_${suffix}`, searchEnabled: search }),
    bob.call({ cmd: 'create', base: path.join(work, `bob-${tag}`), relayUrl: forwarder.url, username: `bob_${suffix}`, searchEnabled: search }),
  ]);
  const { conversationId: aToB } = await alice.call({ cmd: 'add', username: `bob_${suffix}` });
  const { conversationId: bToA } = await bob.call({ cmd: 'add', username: `alice_${suffix}` });
  return { alice, bob, forwarder, aToB, bToA, search };
}

type EndToEnd = {
  messages: number;
  /** Alice's requests outstanding at once (1: each waits for the previous answer). */
  inflight: number;
  /** N / (Bob's last message:added − Alice's first request). */
  endToEndPerSec: number;
  /** Alice's requests alone: N / (last request answered − first request). */
  sendApiPerSec: number;
  /** N / (Alice's last `delivered` − her first request): receipts included. */
  deliveredPerSec: number | null;
  aliceLoop: unknown;
  bobLoop: unknown;
  cpuMsPerMessage: { alice: number; bob: number; relay: number };
  load1: number;
};

async function endToEnd(pair: Pair, relayPid: number, n: number, inflight: number): Promise<EndToEnd> {
  const { alice, bob } = pair;
  await Promise.all([alice.call({ cmd: 'reset' }), bob.call({ cmd: 'reset' })]);
  await Promise.all([alice.call({ cmd: 'monitorStart' }), bob.call({ cmd: 'monitorStart' })]);
  const relayCpu = cpuMs(relayPid);
  const received = bob.call({ cmd: 'waitIncoming', count: n, timeoutMs: 300_000 });
  const sent = await alice.call({ cmd: 'send', conversationId: pair.aToB, count: n, bodyBytes: config.bodyBytes, inflight });
  const got = await received;
  const relayCpuMs = cpuMs(relayPid) - relayCpu;
  const bobStats = await bob.call({ cmd: 'monitorStop' });
  let delivered: number | null = null;
  try {
    delivered = (await alice.call({ cmd: 'waitStatus', status: 'delivered', count: n, timeoutMs: 30_000 })).lastAt;
  } catch {
    // reported as null
  }
  const aliceStats = await alice.call({ cmd: 'monitorStop' });
  await Promise.all([alice.call({ cmd: 'waitIdle', timeoutMs: 60_000 }), bob.call({ cmd: 'waitIdle', timeoutMs: 60_000 })]);
  const cpu = (c: { userMs: number; systemMs: number }) => round(((c.userMs + c.systemMs) * 1000) / n) / 1000;
  return {
    messages: n,
    inflight,
    endToEndPerSec: round((n * 1000) / (got.lastAt - sent.startedAt)),
    sendApiPerSec: round((n * 1000) / (sent.finishedAt - sent.startedAt)),
    deliveredPerSec: delivered === null ? null : round((n * 1000) / (delivered - sent.startedAt)),
    aliceLoop: aliceStats.loop,
    bobLoop: bobStats.loop,
    cpuMsPerMessage: { alice: cpu(aliceStats.cpu), bob: cpu(bobStats.cpu), relay: round((relayCpuMs * 1000) / n) / 1000 },
    load1: load1(),
  };
}

type Queued = {
  messages: number;
  /** Q / (Bob's Q-th message:added − his `online`). */
  processedPerSec: number;
  firstAfterMs: number;
  loopP99Ms: number;
  loopMaxMs: number;
  loop: unknown;
  bobCpuMsPerMessage: number;
  load1: number;
};

async function queued(pair: Pair, q: number): Promise<Queued> {
  const { alice, bob, forwarder } = pair;
  forwarder.unplug();
  await sleep(200);
  await alice.call({ cmd: 'send', conversationId: pair.aToB, count: q, bodyBytes: config.bodyBytes, inflight: config.inflight });
  await alice.call({ cmd: 'waitIdle', timeoutMs: 600_000 });
  const drained = bob.call({ cmd: 'drain', count: q, timeoutMs: 600_000 });
  await sleep(50);
  forwarder.plug();
  const d = await drained;
  await bob.call({ cmd: 'waitIdle', timeoutMs: 60_000 });
  await alice.call({ cmd: 'waitIdle', timeoutMs: 60_000 });
  return {
    messages: q,
    processedPerSec: round((q * 1000) / (d.lastAt - d.onlineAt)),
    firstAfterMs: round(d.firstAt - d.onlineAt, 1),
    loopP99Ms: d.loop.p99,
    loopMaxMs: d.loop.max,
    loop: d.loop,
    bobCpuMsPerMessage: round(((d.cpu.userMs + d.cpu.systemMs) * 1000) / q) / 1000,
    load1: load1(),
  };
}

type RelayAlone = { throughputW1PerSec: number; throughputWPerSec: number; queuedPerSec: number; queuedLoop: unknown; load1: number };

async function relayAlone(sender: Host, receiver: Host, receiverId: string, relayUrl: string, n: number, q: number): Promise<RelayAlone> {
  const through = async (window: number) => {
    await receiver.call({ cmd: 'reset' });
    const got = receiver.call({ cmd: 'rawWaitReceived', count: n, timeoutMs: 300_000 });
    const sent = await sender.call({ cmd: 'rawSend', toAccountId: receiverId, count: n, contentBytes: ENVELOPE_BYTES, window });
    return round((n * 1000) / ((await got).lastAt - sent.startedAt));
  };
  const w1 = await through(1);
  const w = await through(config.window);
  await receiver.call({ cmd: 'rawDisconnect' });
  await sender.call({ cmd: 'rawSend', toAccountId: receiverId, count: q, contentBytes: ENVELOPE_BYTES, window: config.window });
  const d = await receiver.call({ cmd: 'rawDrain', relayUrl, count: q, timeoutMs: 300_000 });
  return { throughputW1PerSec: w1, throughputWPerSec: w, queuedPerSec: round((q * 1000) / (d.lastAt - d.onlineAt)), queuedLoop: d.loop, load1: load1() };
}

function protocolBaseline(): { encryptDecryptPerSec: number; floorPerSec: number; cpuPerSec: number } {
  const { bench, floor } = oneDirectionCases();
  const stats = measure([bench, floor], quick ? { warmupReps: 1, reps: 3, batch: 500 } : { warmupReps: 2, reps: 7, batch: 2000 });
  const b = stats.get(bench.name)!;
  return { encryptDecryptPerSec: round(b.medianRate), floorPerSec: round(stats.get(floor.name)!.medianRate), cpuPerSec: round(b.medianCpuRate) };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(tmpdir(), 'parley-bench-engine-'));
  const hosts: Host[] = [];
  const forwarders: Forwarder[] = [];
  let relay: { child: ChildProcess; url: string } | undefined;
  const results: Record<string, unknown> = {
    benchmark: 'engine',
    command: `npm run bench:engine --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    startedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, load1AtStart: load1() },
    config,
  };
  try {
    log(`protocol baseline (load ${load1()})`);
    results.protocol = protocolBaseline();
    log(`  ${JSON.stringify(results.protocol)}`);

    relay = await startRelay(path.join(work, 'relay'));
    log(`relay pid ${relay.child.pid} at ${relay.url}`);

    // Relay alone, two bare clients in host processes.
    const rawA = Host.start('raw-sender');
    const rawB = Host.start('raw-receiver');
    hosts.push(rawA, rawB);
    await rawA.call({ cmd: 'rawRegister', relayUrl: relay.url, username: `raw_a_${process.pid % 100_000}` });
    const { accountId: rawBId } = await rawB.call({ cmd: 'rawRegister', relayUrl: relay.url, username: `raw_b_${process.pid % 100_000}` });
    await rawA.call({ cmd: 'rawConnect', relayUrl: relay.url });
    await rawB.call({ cmd: 'rawConnect', relayUrl: relay.url });
    // Warm-up of the relay path.
    await relayAlone(rawA, rawB, rawBId, relay.url, Math.min(1000, config.messages), Math.min(1000, config.queued));

    const runs: Record<string, unknown>[] = [];
    for (const search of config.search) {
      const tag = search ? 'search' : 'nosearch';
      log(`engines (search ${search ? 'on' : 'off'})`);
      const pair = await enginePair(work, relay.url, search, tag);
      hosts.push(pair.alice, pair.bob);
      forwarders.push(pair.forwarder);
      const pragmas = await pair.bob.call({ cmd: 'pragmas' });
      log(`  PRAGMAs (both engines): ${JSON.stringify(pragmas.pragmas)}`);
      results[`pragmas:${tag}`] = pragmas.pragmas;
      // Warm-up: sessions past their first round trip, JIT, caches.
      await pair.bob.call({ cmd: 'send', conversationId: pair.bToA, count: 20, bodyBytes: config.bodyBytes, inflight: 1 });
      await endToEnd(pair, relay.child.pid!, Math.min(500, config.messages), config.inflight);
      for (let r = 0; r < config.repeat; r++) {
        const raw = await relayAlone(rawA, rawB, rawBId, relay.url, config.messages, config.queued);
        log(`  relay alone: ${JSON.stringify(raw)}`);
        const e2e = config.only === 'queued' ? null : await endToEnd(pair, relay.child.pid!, config.messages, config.inflight);
        log(`  end-to-end: ${JSON.stringify(e2e)}`);
        const e2eSequential = config.only === 'queued' ? null : await endToEnd(pair, relay.child.pid!, Math.min(config.messages, config.sequentialMessages), 1);
        log(`  end-to-end, one request at a time: ${JSON.stringify(e2eSequential)}`);
        const q = config.only === 'end-to-end' ? null : await queued(pair, config.queued);
        log(`  queued: ${JSON.stringify(q)}`);
        runs.push({ search, rep: r, relayAlone: raw, endToEnd: e2e, endToEndSequential: e2eSequential, queued: q });
      }
      const counts = await pair.bob.call({ cmd: 'counts' });
      log(`  bob's database: ${JSON.stringify(counts.counts)}`);
      results[`counts:${tag}`] = counts.counts;
    }
    results.runs = runs;

    const protocol = results.protocol as ReturnType<typeof protocolBaseline>;
    const summary = config.only ? [] : config.search.map((search) => {
      const mine = runs.filter((r) => r.search === search) as unknown as { relayAlone: RelayAlone; endToEnd: EndToEnd; endToEndSequential: EndToEnd; queued: Queued }[];
      const e2e = median(mine.map((r) => r.endToEnd.endToEndPerSec));
      const e2eSequential = median(mine.map((r) => r.endToEndSequential.endToEndPerSec));
      const relayW = median(mine.map((r) => r.relayAlone.throughputWPerSec));
      const relayW1 = median(mine.map((r) => r.relayAlone.throughputW1PerSec));
      const q = median(mine.map((r) => r.queued.processedPerSec));
      const relayQ = median(mine.map((r) => r.relayAlone.queuedPerSec));
      return {
        search,
        endToEndPerSec: e2e,
        endToEndSequentialPerSec: e2eSequential,
        endToEndGoal: '>= 2000 msg/s',
        endToEndMet: e2e >= 2000,
        endToEndOfRelayWindowed: round(e2e / relayW, 3),
        endToEndOfRelayW1: round(e2e / relayW1, 3),
        endToEndOfProtocol: round(e2e / protocol.encryptDecryptPerSec, 3),
        relayAloneWPerSec: relayW,
        relayAloneW1PerSec: relayW1,
        queuedPerSec: q,
        queuedGoal: '>= 5000 msg/s, loop p99 <= 50 ms',
        queuedLoopP99Ms: Math.max(...mine.map((r) => r.queued.loopP99Ms)),
        queuedLoopMaxMs: Math.max(...mine.map((r) => r.queued.loopMaxMs)),
        queuedMet: q >= 5000 && Math.max(...mine.map((r) => r.queued.loopP99Ms)) <= 50,
        queuedOfRelayAlone: round(q / relayQ, 3),
        relayAloneQueuedPerSec: relayQ,
        load1: mine.map((r) => r.endToEnd.load1),
      };
    });
    results.summary = summary;
    results.finishedAt = new Date().toISOString();
    for (const s of summary) log(`summary: ${JSON.stringify(s)}`);
  } finally {
    for (const h of hosts) {
      if (h.child.exitCode === null && h.child.signalCode === null) {
        const exited = new Promise((resolve) => h.child.once('exit', resolve));
        h.call({ cmd: 'exit' }).catch(() => undefined);
        await Promise.race([exited, sleep(20_000)]);
      }
      if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
    }
    for (const f of forwarders) await f.close();
    if (relay && relay.child.exitCode === null) {
      const exited = new Promise((resolve) => relay!.child.once('exit', resolve));
      relay.child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      if (relay.child.exitCode === null) relay.child.kill('SIGKILL');
    }
    rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench:engine] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
