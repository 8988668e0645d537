/**
 * A host process of the engine benchmark (run.ts drives it over IPC, protocol.ts). It holds one
 * real engine — electron/engine's Engine over its SQLCipher profile with production settings
 * (WAL, synchronous = FULL, secure_delete, the search index as configured), every call through
 * the contract's dispatcher as a host makes it — or, for the relay-only baseline, a bare
 * RelayClient that acks what it receives the way the engine does (after each batch).
 *
 * What differs from the desktop app: the database key sits in an in-memory keychain (the key
 * provider plays no part in messaging), and the relay client reconnects after 100-1,000 ms instead
 * of 0.5-30 s (only when a reconnect happens, never how fast it then goes). Measures its own
 * event-loop delay (monitorEventLoopDelay, 1 ms resolution) and CPU time.
 */
import { mkdirSync } from 'node:fs';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import type { EngineEvent } from '../../shared/api/types.js';
import { fromBase64Url, toBase64Url } from '../../shared/crypto/bytes.js';
import { systemRng } from '../../shared/crypto/random.js';
import { countOutbox } from '../../electron/engine/db/outbox.js';
import { readSettings } from '../../electron/engine/db/settings.js';
import { sql } from '../../electron/engine/db/sql.js';
import { createDispatcher, type Dispatch } from '../../electron/engine/dispatch.js';
import { Engine } from '../../electron/engine/engine.js';
import { DEFAULT_ARGON2_PARAMS } from '../../electron/engine/keys/argon2.js';
import { KeychainKeyStore } from '../../electron/engine/keys/keychain.js';
import { PassphraseKeyFile } from '../../electron/engine/keys/passphrase-key-file.js';
import { resolveProfile } from '../../electron/engine/profile.js';
import { RelayClient } from '../../electron/engine/relay/client.js';
import { makeAccount, type BenchAccount } from '../relay-load/accounts.js';
import type { Command, CpuStats, LoopStats, Reply, ReplyValue, Request } from './protocol.js';
import { MemoryKeychain } from '../../test/support/keychain.js';

const now = (): number => performance.timeOrigin + performance.now();

// ── Counters fed by engine events ─────────────────────────────────────────────

const STATUS_RANK: Record<string, number> = { sending: 0, sent: 1, delivered: 2, read: 3, failed: -1 };

type Counters = {
  incoming: number;
  firstIncomingAt: number;
  lastIncomingAt: number;
  /** Outgoing message id → highest status rank seen. */
  status: Map<string, number>;
  reached: { sent: number; delivered: number };
  firstReachedAt: { sent: number; delivered: number };
  lastReachedAt: { sent: number; delivered: number };
};

function freshCounters(): Counters {
  return {
    incoming: 0,
    firstIncomingAt: 0,
    lastIncomingAt: 0,
    status: new Map(),
    reached: { sent: 0, delivered: 0 },
    firstReachedAt: { sent: 0, delivered: 0 },
    lastReachedAt: { sent: 0, delivered: 0 },
  };
}

let counters = freshCounters();
let engine: Engine | undefined;
let dispatch: Dispatch | undefined;
let onlineWaiters: ((at: number) => void)[] = [];
/** Conditions re-checked after every event; resolved in order. */
let waiters: { check: () => boolean; resolve: () => void }[] = [];

function onEvent(e: EngineEvent): void {
  const t = now();
  switch (e.event) {
    case 'message:added': {
      const m = e.payload.message;
      if (m.direction === 'incoming' && m.kind === 'text') {
        counters.incoming++;
        counters.firstIncomingAt ||= t;
        counters.lastIncomingAt = t;
      } else if (m.direction === 'outgoing') {
        counters.status.set(m.id, STATUS_RANK[m.status ?? 'sending'] ?? 0);
      }
      break;
    }
    case 'message:status': {
      const before = counters.status.get(e.payload.messageId) ?? 0;
      const rank = STATUS_RANK[e.payload.status] ?? 0;
      if (rank > before) {
        counters.status.set(e.payload.messageId, rank);
        for (const [name, r] of [['sent', 1], ['delivered', 2]] as const) {
          if (before < r && rank >= r) {
            counters.reached[name]++;
            counters.firstReachedAt[name] ||= t;
            counters.lastReachedAt[name] = t;
          }
        }
      }
      break;
    }
    case 'connection':
      if (e.payload.state === 'online') {
        const ws = onlineWaiters;
        onlineWaiters = [];
        for (const w of ws) w(t);
      }
      break;
    default:
      break;
  }
  if (waiters.length > 0) settleWaiters();
}

function settleWaiters(): void {
  const still: typeof waiters = [];
  for (const w of waiters) {
    if (w.check()) w.resolve();
    else still.push(w);
  }
  waiters = still;
}

function until(check: () => boolean, timeoutMs: number, what: string, pollMs = 0): Promise<void> {
  if (check()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    let poll: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      clearInterval(poll);
      waiters = waiters.filter((w) => w !== entry);
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const entry = {
      check,
      resolve: () => {
        clearTimeout(timer);
        clearInterval(poll);
        resolve();
      },
    };
    waiters.push(entry);
    if (pollMs > 0) poll = setInterval(settleWaiters, pollMs);
  });
}

// ── Measurement ───────────────────────────────────────────────────────────────

let histogram: IntervalHistogram | undefined;
let monitorFrom = { cpu: process.cpuUsage(), wall: 0 };

function startMonitor(): void {
  histogram?.disable();
  histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  monitorFrom = { cpu: process.cpuUsage(), wall: now() };
}

function stopMonitor(): { loop: LoopStats; cpu: CpuStats; wallMs: number } {
  const h = histogram;
  if (!h) throw new Error('the monitor is not running');
  h.disable();
  histogram = undefined;
  const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
  const cpu = process.cpuUsage(monitorFrom.cpu);
  return {
    loop: { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), samples: h.count },
    cpu: { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000) },
    wallMs: Math.round(now() - monitorFrom.wall),
  };
}

function cpuSince(from: NodeJS.CpuUsage): CpuStats {
  const cpu = process.cpuUsage(from);
  return { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000) };
}

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

// ── Engine commands ───────────────────────────────────────────────────────────

async function call<T>(channel: string, request: unknown): Promise<T> {
  const r = await dispatch!(channel, request);
  if (!r.ok) throw new Error(`${channel}: ${r.error.code}`);
  return r.value as T;
}

function open(): NonNullable<Engine['current']> {
  const current = engine?.current;
  if (!current) throw new Error('no open engine');
  return current;
}

async function create(c: Extract<Command, { cmd: 'create' }>): Promise<ReplyValue> {
  mkdirSync(c.base, { recursive: true });
  const profile = resolveProfile(c.base, 'bench');
  engine = await Engine.start({
    profile,
    keychain: new KeychainKeyStore(new MemoryKeychain(), profile.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng, DEFAULT_ARGON2_PARAMS),
    emit: onEvent,
    messaging: { backoff: { initialDelayMs: 100, maxDelayMs: 1_000 } },
  });
  const e = engine;
  dispatch = createDispatcher(e.handlers());
  const account = await call<{ accountId: string }>('account:create', { username: c.username, relayUrl: c.relayUrl });
  await call('settings:set', { searchEnabled: c.searchEnabled });
  await until(() => e.messaging?.relay.state === 'open', 30_000, 'the first connection', 10);
  await e.messaging!.settled();
  return { cmd: 'create', accountId: account.accountId };
}

async function send(c: Extract<Command, { cmd: 'send' }>): Promise<ReplyValue> {
  const body = 'x'.repeat(c.bodyBytes);
  const cpu = process.cpuUsage();
  const startedAt = now();
  let next = 0;
  // `inflight` request loops; each waits for its answer, then issues the next in a new macrotask
  // (requests reach a host as separate I/O events: the relay's answers get their turn between them).
  await Promise.all(
    Array.from({ length: Math.max(1, c.inflight) }, async () => {
      while (next < c.count) {
        next++;
        await call('messages:send', { conversationId: c.conversationId, body });
        await macrotask();
      }
    }),
  );
  return { cmd: 'send', startedAt, finishedAt: now(), cpu: cpuSince(cpu) };
}

/** The writer connection's settings, as the engine opened it (production: nothing overridden here). */
function pragmas(): ReplyValue {
  const db = open().db.writer;
  const one = (q: ReturnType<typeof sql>): string | number => {
    const row = db.get<Record<string, string | number>>(q);
    return row ? Object.values(row)[0]! : 'n/a';
  };
  return {
    cmd: 'pragmas',
    pragmas: {
      cipher: one(sql`PRAGMA cipher`),
      legacy: one(sql`PRAGMA legacy`),
      journal_mode: one(sql`PRAGMA journal_mode`),
      synchronous: one(sql`PRAGMA synchronous`),
      secure_delete: one(sql`PRAGMA secure_delete`),
      foreign_keys: one(sql`PRAGMA foreign_keys`),
      temp_store: one(sql`PRAGMA temp_store`),
      page_size: one(sql`PRAGMA page_size`),
      cache_size: one(sql`PRAGMA cache_size`),
      wal_autocheckpoint: one(sql`PRAGMA wal_autocheckpoint`),
      searchEnabled: readSettings(db).searchEnabled ? 1 : 0,
    },
  };
}

function counts(): ReplyValue {
  const db = open().db.reader;
  const n = (q: ReturnType<typeof sql>) => db.get<{ n: number }>(q)!.n;
  return {
    cmd: 'counts',
    counts: {
      textsIncoming: n(sql`SELECT count(*) AS n FROM messages WHERE kind = 'text' AND direction = 'incoming'`),
      textsOutgoing: n(sql`SELECT count(*) AS n FROM messages WHERE kind = 'text' AND direction = 'outgoing'`),
      distinctIncoming: n(sql`SELECT count(DISTINCT message_id) AS n FROM messages WHERE kind = 'text' AND direction = 'incoming'`),
      decryptionFailures: n(sql`SELECT count(*) AS n FROM messages WHERE kind = 'decryption-failed'`),
      outbox: countOutbox(db),
    },
  };
}

/** Arms the measurement for the next connection; resolves when `count` texts came in after it. */
async function drain(count: number, timeoutMs: number): Promise<ReplyValue> {
  counters = freshCounters();
  const onlineAt = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection')), timeoutMs);
    onlineWaiters.push((t) => {
      clearTimeout(timer);
      startMonitor();
      resolve(t);
    });
  });
  await until(() => counters.incoming >= count, timeoutMs, `${count} incoming texts`);
  const stats = stopMonitor();
  return { cmd: 'drain', onlineAt, firstAt: counters.firstIncomingAt, lastAt: counters.lastIncomingAt, ...stats };
}

// ── Relay-only baseline ───────────────────────────────────────────────────────

let raw: { account: BenchAccount; client: RelayClient | undefined } | undefined;
let rawReceived = { count: 0, firstAt: 0, lastAt: 0 };

function rawClient(relayUrl: string): RelayClient {
  const account = raw!.account;
  const client = new RelayClient({ url: relayUrl, accountId: account.accountId, deviceId: 1, identitySigningKey: account.signingKey, requestTimeoutMs: 120_000 });
  // Acked after each batch (one macrotask), as the engine acks after each batch commit.
  let pending: number[] = [];
  client.on('envelope', (e) => {
    const t = now();
    rawReceived.count++;
    rawReceived.firstAt ||= t;
    rawReceived.lastAt = t;
    if (pending.length === 0) {
      setImmediate(() => {
        const seqs = pending;
        pending = [];
        void client.ack(seqs).catch(() => undefined);
      });
    }
    pending.push(e.seq);
    if (waiters.length > 0) settleWaiters();
  });
  return client;
}

async function rawSend(c: Extract<Command, { cmd: 'rawSend' }>): Promise<ReplyValue> {
  const client = raw!.client!;
  const to = fromBase64Url(c.toAccountId);
  const cpu = process.cpuUsage();
  const startedAt = now();
  let next = 0;
  // `window` sends in flight, each answered after the relay's commit; they leave in order.
  await Promise.all(
    Array.from({ length: c.window }, async () => {
      while (next < c.count) {
        next++;
        await client.send(to, [{ deviceId: 1, content: systemRng(c.contentBytes) }]);
      }
    }),
  );
  return { cmd: 'rawSend', startedAt, finishedAt: now(), cpu: cpuSince(cpu) };
}

// ── Dispatch ──────────────────────────────────────────────────────────────────

async function handle(c: Exclude<Command, { cmd: 'drain' | 'rawDrain' }>): Promise<ReplyValue> {
  switch (c.cmd) {
    case 'create':
      return create(c);
    case 'add': {
      const contact = await call<{ id: string }>('contacts:add', { username: c.username });
      const list = await call<{ id: string; contactId: string }[]>('conversations:list', {});
      return { cmd: 'add', conversationId: list.find((x) => x.contactId === contact.id)!.id };
    }
    case 'send':
      return send(c);
    case 'waitIncoming':
      await until(() => counters.incoming >= c.count, c.timeoutMs, `${c.count} incoming texts`);
      return { cmd: 'waitIncoming', firstAt: counters.firstIncomingAt, lastAt: counters.lastIncomingAt };
    case 'waitStatus':
      await until(() => counters.reached[c.status] >= c.count, c.timeoutMs, `${c.count} texts ${c.status}`);
      return { cmd: 'waitStatus', firstAt: counters.firstReachedAt[c.status], lastAt: counters.lastReachedAt[c.status] };
    case 'waitIdle': {
      const m = engine!.messaging!;
      await until(() => countOutbox(open().db.reader) === 0 && m.inbound.pending === 0, c.timeoutMs, 'an idle engine', 10);
      const t = now();
      return { cmd: 'waitIdle', firstAt: t, lastAt: t };
    }
    case 'waitOnline': {
      const at = await new Promise<number>((resolve) => onlineWaiters.push(resolve));
      return { cmd: 'waitOnline', firstAt: at, lastAt: at };
    }
    case 'reset':
      counters = freshCounters();
      rawReceived = { count: 0, firstAt: 0, lastAt: 0 };
      return { cmd: 'reset' };
    case 'monitorStart':
      startMonitor();
      return { cmd: 'monitorStart' };
    case 'monitorStop':
      return { cmd: 'monitorStop', ...stopMonitor() };
    case 'pragmas':
      return pragmas();
    case 'counts':
      return counts();
    case 'rawRegister': {
      const account = makeAccount(c.username);
      await RelayClient.register(c.relayUrl, account.request, 120_000);
      raw = { account, client: undefined };
      return { cmd: 'rawRegister', accountId: toBase64Url(account.accountId) };
    }
    case 'rawConnect': {
      raw!.client = rawClient(c.relayUrl);
      await raw!.client.connect();
      return { cmd: 'rawConnect' };
    }
    case 'rawDisconnect':
      raw?.client?.close();
      raw!.client = undefined;
      return { cmd: 'rawDisconnect' };
    case 'rawSend':
      return rawSend(c);
    case 'rawWaitReceived':
      await until(() => rawReceived.count >= c.count, c.timeoutMs, `${c.count} envelopes`);
      return { cmd: 'rawWaitReceived', firstAt: rawReceived.firstAt, lastAt: rawReceived.lastAt };
    case 'exit':
      raw?.client?.close();
      await engine?.close();
      setImmediate(() => process.exit(0));
      return { cmd: 'exit' };
  }
}

async function rawDrain(c: Extract<Command, { cmd: 'rawDrain' }>): Promise<ReplyValue> {
  rawReceived = { count: 0, firstAt: 0, lastAt: 0 };
  const client = rawClient(c.relayUrl);
  raw!.client = client;
  let onlineAt = 0;
  client.on('state', (s) => {
    if (s === 'open' && onlineAt === 0) {
      onlineAt = now();
      startMonitor();
    }
  });
  await client.connect();
  await until(() => rawReceived.count >= c.count, c.timeoutMs, `${c.count} envelopes`);
  return { cmd: 'rawDrain', onlineAt, firstAt: rawReceived.firstAt, lastAt: rawReceived.lastAt, ...stopMonitor() };
}

process.on('message', (message: Request) => {
  const work = message.cmd === 'drain' ? drain(message.count, message.timeoutMs) : message.cmd === 'rawDrain' ? rawDrain(message) : handle(message);
  work.then(
    (value) => process.send!({ id: message.id, ok: true, value } satisfies Reply),
    (e: unknown) => process.send!({ id: message.id, ok: false, error: e instanceof Error ? e.message : 'failed' } satisfies Reply),
  );
});
process.send!({ id: 0, ok: true, value: { cmd: 'ready' } } satisfies Reply);
