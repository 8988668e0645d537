/**
 * A load-generator process of the relay benchmark, driven by run.ts over IPC (protocol.ts). It
 * registers accounts (real keys, signed device lists and prekeys), takes session tokens, holds
 * WebSocket connections, and runs open-loop load steps: at a fixed rate each connection in turn
 * sends one envelope (one device ciphertext) to a random other account; recipients ack every
 * envelope (batched per connection every tick, with an id, so the relay confirms the committed
 * deletion). Every envelope carries its send time; the receiver measures send → delivery latency.
 * The same code drives the bare forwarder baseline (forwarder.ts) with the same frames.
 * Started by run.ts as `bash -c 'ulimit -n 65535; exec node loadgen.js'` so it may hold 10,000 sockets.
 */
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { RelayClient } from '../../electron/engine/relay/client.js';
import { MAX_SERVER_FRAME_BYTES } from '../../shared/wire/wire-size.js';
import { makeAccount, type BenchAccount } from './accounts.js';
import type { Command, LoadStats, Reply, Target } from './protocol.js';

const TICK_MS = 5;
const now = (): number => performance.timeOrigin + performance.now();

type Conn = { ws: WebSocket; account: number; pendingAcks: number[]; pendingInWindow: number };

let accounts: BenchAccount[] = [];
let tokens: string[] = [];
/** Per server: the account ids envelopes go to, and this process's connections. */
const targets: Record<Target, string[]> = { relay: [], forwarder: [] };
const connections: Record<Target, Conn[]> = { relay: [], forwarder: [] };

type Run = {
  readonly id: number;
  readonly windowStart: number;
  readonly windowEnd: number;
  latencies: number[];
  commitLatencies: number[];
  sentAt: Map<string, number>;
  ackWindow: Map<string, number>;
  committed: number;
  ackedInWindow: number;
  errors: Record<string, number>;
};
let run: Run | undefined;
let runCounter = 0;
let nextFrameId = 0;

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await work(items[i]!, i);
      }
    }),
  );
}

async function setup(relayUrl: string, count: number, concurrency: number): Promise<string[]> {
  accounts = Array.from({ length: count }, (_, i) => makeAccount(`bench_${process.pid}_${i}`));
  await pool(accounts, concurrency, async (a) => {
    await RelayClient.register(relayUrl, a.request, 120_000);
  });
  tokens = new Array<string>(count);
  await pool(accounts, concurrency, async (a, i) => {
    const client = new RelayClient({ url: relayUrl, accountId: a.accountId, deviceId: 1, identitySigningKey: a.signingKey, requestTimeoutMs: 120_000 });
    tokens[i] = await client.sessionToken();
  });
  return accounts.map((a) => a.id);
}

function onFrame(conn: Conn, data: Buffer): void {
  const r = run;
  const text = data.toString('utf8');
  let frame: { type?: string; seq?: number; content?: string; ref?: string; code?: string };
  try {
    frame = JSON.parse(text) as typeof frame;
  } catch {
    return;
  }
  switch (frame.type) {
    case 'envelope': {
      if (typeof frame.seq === 'number') conn.pendingAcks.push(frame.seq);
      if (!r || typeof frame.content !== 'string') return;
      const head = Buffer.from(frame.content.slice(0, 16), 'base64url');
      if (head.length < 12 || head.readUInt32LE(8) !== r.id) return;
      const sentAt = head.readDoubleLE(0);
      if (sentAt >= r.windowStart && sentAt < r.windowEnd) {
        r.latencies.push(now() - sentAt);
        conn.pendingInWindow++;
      }
      return;
    }
    case 'sent': {
      if (!r || !frame.ref) return;
      r.committed++;
      const t = r.sentAt.get(frame.ref);
      if (t !== undefined) {
        r.commitLatencies.push(now() - t);
        r.sentAt.delete(frame.ref);
      }
      return;
    }
    case 'acked': {
      if (!r || !frame.ref) return;
      r.ackedInWindow += r.ackWindow.get(frame.ref) ?? 0;
      r.ackWindow.delete(frame.ref);
      return;
    }
    case 'error':
      if (r) r.errors[frame.code ?? 'unknown'] = (r.errors[frame.code ?? 'unknown'] ?? 0) + 1;
      return;
    default:
      return;
  }
}

function open(target: Target, url: string, index: number, localAddress?: string): Promise<Conn> {
  const account = accounts[index]!;
  const wsUrl = new URL(target === 'relay' ? '/v1/ws' : `/?id=${account.id}`, url.replace(/^http/, 'ws'));
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false, maxPayload: MAX_SERVER_FRAME_BYTES, ...(localAddress && { localAddress }) });
  const conn: Conn = { ws, account: index, pendingAcks: [], pendingInWindow: 0 };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connect timeout')), 60_000);
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`closed ${code} before ready`));
    });
    ws.on('open', () => {
      if (target === 'forwarder') {
        clearTimeout(timer);
        resolve(conn);
      } else {
        ws.send(JSON.stringify({ type: 'auth', token: tokens[index] }));
      }
    });
    ws.on('message', (data) => {
      if (target === 'relay' && (data as Buffer).includes('"backlog-end"')) {
        clearTimeout(timer);
        resolve(conn);
      }
      onFrame(conn, data as Buffer);
    });
  });
}

async function connect(target: Target, url: string, count: number, concurrency: number): Promise<number> {
  const conns = connections[target];
  const start = conns.length;
  const indices = Array.from({ length: Math.max(0, Math.min(count, accounts.length) - start) }, (_, i) => start + i);
  const opened: Conn[] = [];
  await pool(indices, concurrency, async (i) => {
    opened.push(await open(target, url, i));
  });
  connections[target] = conns.concat(opened);
  return connections[target].length;
}

/** Idle connections held for the hold benchmark (never sent to: nobody targets their accounts). */
const held: WebSocket[] = [];

async function hold(urls: readonly string[], count: number, perAccount: number, localAddresses: readonly string[], concurrency: number) {
  let failed = 0;
  let firstError: string | null = null;
  const indices = Array.from({ length: Math.max(0, Math.min(count, accounts.length * perAccount) - held.length) }, (_, i) => held.length + i);
  await pool(indices, concurrency, async (k) => {
    try {
      const conn = await open('relay', urls[k % urls.length]!, Math.floor(k / perAccount), localAddresses[k % localAddresses.length]);
      conn.ws.removeAllListeners('message');
      held.push(conn.ws);
    } catch (e) {
      failed++;
      firstError ??= e instanceof Error ? e.message : String(e);
    }
  });
  return { held: held.length, failed, firstError };
}

async function disconnect(target: Target): Promise<void> {
  await Promise.all(
    connections[target].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.ws.close();
          setTimeout(() => {
            c.ws.terminate();
            resolve();
          }, 5_000).unref();
        }),
    ),
  );
  connections[target] = [];
}

function flushAcks(r: Run, conns: readonly Conn[]): void {
  for (const c of conns) {
    if (c.pendingAcks.length === 0) continue;
    const id = `a${++nextFrameId}`;
    r.ackWindow.set(id, c.pendingInWindow);
    c.ws.send(`{"type":"ack","id":"${id}","seqs":[${c.pendingAcks.join(',')}]}`);
    c.pendingAcks = [];
    c.pendingInWindow = 0;
  }
}

async function load(
  target: Target,
  startAt: number,
  rate: number,
  warmupMs: number,
  windowMs: number,
  drainMs: number,
  contentBytes: number,
): Promise<LoadStats> {
  const conns = connections[target];
  const to_ = targets[target];
  // Every process measures against the same window: a sender's and a receiver's must agree.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, startAt - now())));
  const start = startAt;
  const r: Run = {
    id: ++runCounter,
    windowStart: start + warmupMs,
    windowEnd: start + warmupMs + windowMs,
    latencies: [],
    commitLatencies: [],
    sentAt: new Map(),
    ackWindow: new Map(),
    committed: 0,
    ackedInWindow: 0,
    errors: {},
  };
  run = r;
  for (const c of conns) {
    c.pendingAcks = [];
    c.pendingInWindow = 0;
  }
  const template = Buffer.alloc(contentBytes);
  for (let i = 12; i < contentBytes; i++) template[i] = (i * 131 + process.pid) & 0xff;
  template.writeUInt32LE(r.id, 8);
  let sent = 0;
  let sentInWindow = 0;
  let sender = 0;
  const sendUntil = r.windowEnd;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const t = now();
      if (t >= sendUntil) return resolve();
      const due = Math.floor(((t - start) * rate) / 1000) - sent;
      for (let k = 0; k < due; k++) {
        const conn = conns[sender++ % conns.length]!;
        const own = accounts[conn.account]!.id;
        let to = to_[Math.floor(Math.random() * to_.length)]!;
        if (to === own) to = to_[(to_.indexOf(to) + 1) % to_.length]!;
        const sentAt = now();
        template.writeDoubleLE(sentAt, 0);
        const id = `s${++nextFrameId}`;
        conn.ws.send(`{"type":"send","id":"${id}","to":"${to}","messages":[{"deviceId":1,"content":"${template.toString('base64url')}"}]}`);
        sent++;
        if (sentAt >= r.windowStart && sentAt < r.windowEnd) {
          sentInWindow++;
          r.sentAt.set(id, sentAt);
        }
      }
      flushAcks(r, conns);
      setTimeout(tick, TICK_MS);
    };
    tick();
  });
  // Stragglers: keep acking until everything sent in the window is delivered, or drainMs passes.
  const drainEnd = now() + drainMs;
  while (now() < drainEnd) {
    flushAcks(r, conns);
    await new Promise((resolve) => setTimeout(resolve, TICK_MS));
  }
  flushAcks(r, conns);
  await new Promise((resolve) => setTimeout(resolve, 200));
  run = undefined;
  return {
    sent,
    sentInWindow,
    committed: r.committed,
    errors: r.errors,
    latencies: r.latencies.map((x) => Math.round(x * 100) / 100),
    commitLatencies: r.commitLatencies.map((x) => Math.round(x * 100) / 100),
    ackedInWindow: r.ackedInWindow,
    windowMs,
  };
}

async function handle(command: Command): Promise<Reply> {
  const t0 = Date.now();
  switch (command.cmd) {
    case 'setup':
      return {
        ok: true,
        cmd: 'setup',
        accountIds: await setup(command.relayUrl, command.accounts, command.concurrency),
        ms: Date.now() - t0,
        nofile: Number(process.env.PARLEY_BENCH_NOFILE ?? NaN),
      };
    case 'targets':
      targets[command.target] = [...command.accountIds];
      return { ok: true, cmd: 'targets' };
    case 'connect':
      return {
        ok: true,
        cmd: 'connect',
        connected: await connect(command.target, command.url, command.count, command.concurrency),
        accountIds: connections[command.target].map((c) => accounts[c.account]!.id),
        ms: Date.now() - t0,
      };
    case 'disconnect':
      await disconnect(command.target);
      return { ok: true, cmd: 'disconnect' };
    case 'load':
      return {
        ok: true,
        cmd: 'load',
        stats: await load(command.target, command.startAt, command.rate, command.warmupMs, command.windowMs, command.drainMs, command.contentBytes),
      };
    case 'hold':
      return { ok: true, cmd: 'hold', ...(await hold(command.urls, command.count, command.perAccount, command.localAddresses, command.concurrency)), ms: Date.now() - t0 };
    case 'exit':
      setImmediate(() => process.exit(0));
      return { ok: true, cmd: 'exit' };
  }
}

process.on('message', (message) => {
  handle(message as Command).then(
    (reply) => process.send!(reply),
    (e: unknown) => process.send!({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies Reply),
  );
});
