/**
 * History transfer benchmark (issue 14, docs/protocol.md §22, ADR 0028). Two parts, same run:
 *
 * 1. **Export plus import of N messages (default 100,000)** against the engine's bulk insert of the
 *    same rows. Per round: a fresh engine database A (production settings: SQLCipher, WAL,
 *    synchronous FULL, secure_delete, the search triggers) gets the N rows through the engine's
 *    `insertMessage` in transactions of 1,000 — the **baseline**, timed. Then the production code
 *    of linking/history.ts exports them from A into an archive and seals it with the file cipher
 *    (`exportHistory` + `sealHistory`), and a second fresh database B opens, parses and imports it
 *    (`openHistory` + `importHistory`) — the same rows, written the way a new device writes them:
 *    in ~12 ms transactions between turns of the event loop. Figure = N ÷ (export + import time);
 *    goal ≥ 50 % of the bulk insert rate, with the event-loop delay p99 of each side ≤ 50 ms
 *    (`monitorEventLoopDelay` over exactly the export and exactly the import). The upload and
 *    download in between are the files benchmark's (bench/files, "transfers through the relay").
 * 2. **Fan-out per send**: one text (100 bytes, padded as content is) encrypted for 11 devices
 *    (the recipient's 6 and the sender's 5 others) against 1 device (one on each side), each with
 *    its serialized session record read and written per message as the engine's outbox does
 *    (encryptMessage of shared/protocol), alternating reps; cost per send and the multiple.
 *
 *    npm run bench:history            # = tsc -b tsconfig.build.json && node dist/bench/history/run.js
 *    # options: --messages=N (100000) --rounds=N (3) --quick (20,000 messages, 1 round) --json
 *
 * Prints one JSON line per round and per fan-out rep, then a summary line; exits 0 whether goals
 * are met or not. Each round also records, right after it, the event-loop delay of this process
 * idle for 2 s (`idleLoop*`) and of a loop that hashes for 12 ms and yields, for 3 s (`busyLoop*`):
 * what the machine's scheduler alone adds at that moment, for reading the p99s.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { insertContact } from '../../electron/engine/db/contacts.js';
import { getOrCreateDirectConversation } from '../../electron/engine/db/conversations.js';
import { openDatabase, type EngineDatabase } from '../../electron/engine/db/database.js';
import { insertMessage } from '../../electron/engine/db/messages.js';
import { sql } from '../../electron/engine/db/sql.js';
import { exportHistory, HISTORY_SLICE_MS, importHistory, openHistory, sealHistory } from '../../electron/engine/linking/history.js';
import type { MessagingCore } from '../../electron/engine/messaging/fan-out.js';
import { SearchService } from '../../electron/engine/search/service.js';
import { SEARCH_SQL_FUNCTIONS } from '../../electron/engine/search/text.js';
import { systemClock, systemRng } from '../../shared/crypto/random.js';
import { EMPTY_SKIPPED } from '../../shared/protocol/double-ratchet.js';
import { encryptMessage, FailureBudgets, initiateSession, decryptMessage, type SessionDecryptContext } from '../../shared/protocol/session.js';
import { deserializeSessionRecord, serializeSessionRecord } from '../../shared/protocol/session-record.js';
import { localDevice, makeDevice, peerDevice } from '../../shared/testing/protocol-fixtures.js';
import { CONVERSATIONS, corpus, type CorpusMessage } from '../search/corpus.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = flag('quick');
const jsonOnly = flag('json');
const N = Number(option('messages') ?? (quick ? 20_000 : 100_000));
const ROUNDS = Number(option('rounds') ?? (quick ? 1 : 3));
const BULK_TRANSACTION = 1_000;
const GOAL_RATIO = 0.5;
const GOAL_P99_MS = 50;

const out = (o: unknown): void => console.log(JSON.stringify(o));
const say = (s: string): void => {
  if (!jsonOnly) console.error(s);
};

const KEY = new Uint8Array(32).map((_, i) => (i * 29 + 7) & 0xff);
const SELF = new Uint8Array(16).fill(0xee);
const START_AT = Date.now() - 300 * 24 * 3600_000;

function open(path: string): EngineDatabase {
  return openDatabase({ path, key: KEY.slice(), functions: SEARCH_SQL_FUNCTIONS });
}

function seedContacts(db: EngineDatabase): number[] {
  return db.writer.transaction(() => {
    const ids: number[] = [];
    for (let i = 0; i < CONVERSATIONS; i++) {
      const accountId = new Uint8Array(16).fill(i + 1);
      insertContact(db.writer, { accountId, username: `contact${i}`, accountKey: new Uint8Array(32).fill(i + 1), deviceList: { signed: Uint8Array.of(1), version: 1, issuedAt: START_AT }, now: START_AT });
      ids.push(getOrCreateDirectConversation(db.writer, accountId, START_AT).id);
    }
    return ids;
  });
}

const STATUSES = ['sent', 'delivered', 'read'] as const;

function bulkInsert(db: EngineDatabase, conversations: readonly number[], rows: readonly CorpusMessage[]): number {
  const t0 = performance.now();
  for (let at = 0; at < rows.length; at += BULK_TRANSACTION) {
    db.writer.transaction(() => {
      for (let i = at; i < Math.min(rows.length, at + BULK_TRANSACTION); i++) {
        const m = rows[i]!;
        const messageId = new Uint8Array(16);
        new DataView(messageId.buffer).setUint32(0, i + 1);
        insertMessage(db.writer, {
          conversationId: conversations[m.conversation]!,
          kind: 'text',
          direction: m.outgoing ? 'outgoing' : 'incoming',
          senderAccountId: m.outgoing ? SELF : new Uint8Array(16).fill(m.conversation + 1),
          senderDeviceId: 1,
          messageId,
          sentAt: m.sentAt,
          receivedAt: m.receivedAt,
          body: m.body,
          status: m.outgoing ? STATUSES[i % 3]! : null,
          readAt: m.outgoing || i % 5 === 0 ? null : m.receivedAt,
        });
      }
    });
  }
  return performance.now() - t0;
}

type Loop = { p99: number; max: number };

async function withLoop<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; loop: Loop; cpuMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const cpu0 = process.cpuUsage();
  h.enable();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  h.disable();
  const cpu = process.cpuUsage(cpu0);
  return { value, ms, loop: { p99: h.percentile(99) / 1e6, max: h.max / 1e6 }, cpuMs: (cpu.user + cpu.system) / 1000 };
}

function coreOf(db: EngineDatabase): Pick<MessagingCore, 'db' | 'account' | 'clock'> {
  return { db, account: { accountId: SELF, deviceId: 1 }, clock: Date.now } as unknown as Pick<MessagingCore, 'db' | 'account' | 'clock'>;
}

async function transferRound(round: number, rows: readonly CorpusMessage[]): Promise<Record<string, number | boolean | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-history-'));
  try {
    const a = open(join(dir, 'a.db'));
    const b = open(join(dir, 'b.db'));
    // As in the engine: the search service's worker checkpoints the WAL while the writer is quiet (ADR 0005).
    const searchA = new SearchService({ emit: () => {} });
    const searchB = new SearchService({ emit: () => {} });
    searchA.attach(a, KEY.slice());
    searchB.attach(b, KEY.slice());
    await Promise.all([searchA.idle(), searchB.idle()]);
    const convA = seedContacts(a);
    seedContacts(b);
    const bulkCpu0 = process.cpuUsage();
    const bulkMs = bulkInsert(a, convA, rows);
    const bulkCpu = process.cpuUsage(bulkCpu0);
    // The search worker indexes A's rows before the export starts (untimed): it would only slow the export.
    await searchA.idle();
    const signal = new AbortController().signal;
    const exported = await withLoop(async () => {
      const { archive } = await exportHistory(coreOf(a), 'all', { signal });
      return sealHistory(archive, systemRng, signal);
    });
    const imported = await withLoop(async () => {
      const archive = await openHistory(exported.value.descriptor, exported.value.ciphertext, signal);
      return importHistory(coreOf(b), archive, { signal });
    });
    const count = b.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages`)!.n;
    if (count !== rows.length || imported.value.imported !== rows.length) throw new Error(`imported ${count} of ${rows.length}`);
    searchA.detach();
    searchB.detach();
    a.close();
    b.close();
    const bulkRate = rows.length / (bulkMs / 1000);
    const rate = rows.length / ((exported.ms + imported.ms) / 1000);
    return {
      kind: 'transfer',
      round,
      messages: rows.length,
      archiveBytes: exported.value.ciphertext.length,
      bulkInsertMs: Math.round(bulkMs),
      bulkInsertRate: Math.round(bulkRate),
      bulkInsertCpuMs: Math.round((bulkCpu.user + bulkCpu.system) / 1000),
      ratioByCpu: Number(((bulkCpu.user + bulkCpu.system) / 1000 / (exported.cpuMs + imported.cpuMs)).toFixed(3)),
      exportMs: Math.round(exported.ms),
      importMs: Math.round(imported.ms),
      exportCpuMs: Math.round(exported.cpuMs),
      importCpuMs: Math.round(imported.cpuMs),
      rate: Math.round(rate),
      ratio: Number((rate / bulkRate).toFixed(3)),
      exportLoopP99Ms: Number(exported.loop.p99.toFixed(1)),
      exportLoopMaxMs: Number(exported.loop.max.toFixed(1)),
      importLoopP99Ms: Number(imported.loop.p99.toFixed(1)),
      importLoopMaxMs: Number(imported.loop.max.toFixed(1)),
      pass: rate / bulkRate >= GOAL_RATIO && exported.loop.p99 <= GOAL_P99_MS && imported.loop.p99 <= GOAL_P99_MS,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ── Fan-out ─────────────────────────────────────────────────────────────────

/** A sender with established sessions (past the first round trip) to `n` devices, records in bytes. */
function sender(n: number): Uint8Array[] {
  const now = systemClock();
  const self = makeDevice(systemRng, now);
  const records: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const peer = makeDevice(systemRng, now);
    const first = initiateSession(undefined, { local: localDevice(self), peer: peerDevice(peer), bundle: peer.prekeys.takeBundle(peer) }, { rng: systemRng, now: systemClock });
    // The peer answers once, so the sender's record is past the prekey stage (as in a running conversation).
    const opening = encryptMessage(first.record, new Uint8Array(100));
    const ctx: SessionDecryptContext = { local: localDevice(peer), peer: peerDevice(self), prekeys: peer.prekeys, skipped: () => EMPTY_SKIPPED, budgets: new FailureBudgets(), rng: systemRng, now: systemClock };
    const received = decryptMessage(undefined, opening.message.bytes, ctx);
    const reply = encryptMessage(received.record, new Uint8Array(100));
    const back: SessionDecryptContext = { local: localDevice(self), peer: peerDevice(peer), prekeys: self.prekeys, skipped: () => EMPTY_SKIPPED, budgets: new FailureBudgets(), rng: systemRng, now: systemClock };
    records.push(serializeSessionRecord(decryptMessage(opening.record, reply.message.bytes, back).record));
  }
  return records;
}

/** µs per send: every device's record read, the content encrypted, the record written. */
function fanOut(records: Uint8Array[], sends: number): number {
  const content = new Uint8Array(100).fill(0x61);
  const t0 = performance.now();
  for (let s = 0; s < sends; s++) {
    for (let i = 0; i < records.length; i++) {
      const { record } = encryptMessage(deserializeSessionRecord(records[i]!), content);
      records[i] = serializeSessionRecord(record);
    }
  }
  return ((performance.now() - t0) * 1000) / sends;
}

/** The machine's own noise floor in the same run: the event-loop delay of this process doing nothing for `ms`. */
async function idleLoop(ms: number): Promise<Loop> {
  const r = await withLoop(() => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return r.loop;
}

/**
 * The floor for a busy process at this load: the event-loop delay of a loop that computes for
 * HISTORY_SLICE_MS (hashing) and yields, for `ms` — what the scheduler alone adds to work that
 * yields as often as the export and import do.
 */
async function busyLoop(ms: number): Promise<Loop> {
  const data = new Uint8Array(64 * 1024);
  const r = await withLoop(async () => {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const sliceEnd = performance.now() + HISTORY_SLICE_MS;
      while (performance.now() < sliceEnd) createHash('sha256').update(data).digest();
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  });
  return r.loop;
}

async function main(): Promise<void> {
  out({ kind: 'run', date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, load1: loadavg()[0], messages: N, rounds: ROUNDS });
  const gen = corpus(20261208, START_AT);
  const rows = Array.from({ length: N }, () => gen.next());
  const results: Record<string, number | boolean | string>[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    say(`round ${r}: bulk insert, export + seal, open + import of ${N} messages…`);
    const result = await transferRound(r, rows);
    const idle = await idleLoop(2000);
    result.idleLoopP99Ms = Number(idle.p99.toFixed(1));
    result.idleLoopMaxMs = Number(idle.max.toFixed(1));
    const busy = await busyLoop(3000);
    result.busyLoopP99Ms = Number(busy.p99.toFixed(1));
    result.busyLoopMaxMs = Number(busy.max.toFixed(1));
    results.push(result);
    out(result);
  }
  const eleven = sender(11);
  const one = sender(1);
  const fan: { eleven: number; one: number }[] = [];
  const SENDS = quick ? 200 : 1000;
  fanOut(eleven, 50);
  fanOut(one, 50);
  for (let rep = 0; rep < 5; rep++) {
    // Alternating which goes first, so drift in the machine's load falls on both.
    let e = 0;
    let o = 0;
    if (rep % 2 === 0) {
      e = fanOut(eleven, SENDS);
      o = fanOut(one, SENDS);
    } else {
      o = fanOut(one, SENDS);
      e = fanOut(eleven, SENDS);
    }
    fan.push({ eleven: e, one: o });
    out({ kind: 'fan-out', rep: rep + 1, devices11UsPerSend: Number(e.toFixed(1)), devices1UsPerSend: Number(o.toFixed(1)), multiple: Number((e / o).toFixed(2)) });
  }
  const med = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const ratios = results.map((r) => r.ratio as number);
  const summary = {
    kind: 'summary',
    load1: loadavg()[0],
    medianRatio: med(ratios),
    ratios,
    medianRatioByCpu: med(results.map((r) => r.ratioByCpu as number)),
    worstExportLoopP99Ms: Math.max(...results.map((r) => r.exportLoopP99Ms as number)),
    worstImportLoopP99Ms: Math.max(...results.map((r) => r.importLoopP99Ms as number)),
    worstIdleLoopP99Ms: Math.max(...results.map((r) => r.idleLoopP99Ms as number)),
    worstBusyLoopP99Ms: Math.max(...results.map((r) => r.busyLoopP99Ms as number)),
    medianRate: med(results.map((r) => r.rate as number)),
    medianBulkInsertRate: med(results.map((r) => r.bulkInsertRate as number)),
    fanOut11UsPerSend: Number(med(fan.map((f) => f.eleven)).toFixed(1)),
    fanOut1UsPerSend: Number(med(fan.map((f) => f.one)).toFixed(1)),
    fanOutMultiple: Number(med(fan.map((f) => f.eleven / f.one)).toFixed(2)),
    goal: `export + import ≥ ${GOAL_RATIO * 100} % of bulk insert, loop p99 ≤ ${GOAL_P99_MS} ms on both sides`,
    pass: med(ratios) >= GOAL_RATIO && results.every((r) => (r.exportLoopP99Ms as number) <= GOAL_P99_MS && (r.importLoopP99Ms as number) <= GOAL_P99_MS),
  };
  out(summary);
}

await main();
