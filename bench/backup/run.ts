/**
 * Backup and restore benchmark (issue 18, docs/protocol.md §25, ADR 0033). Per round, the same run:
 *
 * 1. **Backup**: a production engine database (SQLCipher, WAL, the search triggers) holding N
 *    messages (default 100,000, the search corpus) in 40 conversations with verified-shaped
 *    contacts, and A MiB of attachments (default 1,024) as `<row>.spool` ciphertext files of 8 MiB
 *    each in its attachments folder. `makeBackup` (electron/engine/backup/make.ts) writes the whole
 *    blob to a file: account section, §22 archives, attachment ciphertexts, sealed segment by
 *    segment. Figure = blob bytes ÷ time; **baseline** = the file cipher's own rate over the same
 *    number of plaintext bytes in the same run (`sealSegment` of 1 MiB segments, nothing else: no
 *    database, no file). Goal ≥ 50 %.
 * 2. **Restore**: `stageBackup` (every check, attachments staged as files) and
 *    `importStagedBackup` (account, contacts, messages, attachments moved into place, prekeys) into
 *    a fresh database; figure = blob bytes ÷ time against `openSegment` over the same bytes.
 *
 * Each side records the event-loop delay p99 and max (`monitorEventLoopDelay` over exactly that
 * side) — goal ≤ 50 ms — and the process RSS growth (sampled every 50 ms, max − before) — goal
 * ≤ 128 MiB. The relay upload and download are not timed here (bench/files measures transfers
 * through the relay); Argon2id runs once per passphrase, not per backup.
 *
 *    npm run bench:backup             # = tsc -b tsconfig.build.json && node dist/bench/backup/run.js
 *    # options: --messages=N (100000) --attachment-mib=N (1024) --rounds=N (1) --quick (20,000 messages, 64 MiB) --json
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createAccountMaterial } from '../../electron/engine/account/bootstrap.js';
import { makeBackup } from '../../electron/engine/backup/make.js';
import { importStagedBackup, stageBackup } from '../../electron/engine/backup/restore.js';
import { insertAccount } from '../../electron/engine/db/account.js';
import { insertContact, setContactVerified } from '../../electron/engine/db/contacts.js';
import { getOrCreateDirectConversation } from '../../electron/engine/db/conversations.js';
import { openDatabase, type EngineDatabase } from '../../electron/engine/db/database.js';
import { insertMessage } from '../../electron/engine/db/messages.js';
import { sql } from '../../electron/engine/db/sql.js';
import { createOwnProfile } from '../../electron/engine/messaging/profiles.js';
import { SEARCH_SQL_FUNCTIONS } from '../../electron/engine/search/text.js';
import { ed25519GenerateKeyPair } from '../../shared/crypto/ed25519.js';
import { systemRng } from '../../shared/crypto/random.js';
import { x25519GenerateKeyPair } from '../../shared/crypto/x25519.js';
import { attachmentLayout, openSegment, padmeLength, sealSegment } from '../../shared/protocol/attachment-cipher.js';
import { parseBackupHeader } from '../../shared/protocol/backup.js';
import { BACKUP_HEADER_LENGTH } from '../../shared/protocol/constants.js';
import { signDeviceList } from '../../shared/protocol/device-list.js';
import { pseudoRandomBytes } from '../../shared/testing/deterministic-rng.js';
import { CONVERSATIONS, corpus } from '../search/corpus.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(`--${name}`);
const option = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = flag('quick');
const jsonOnly = flag('json');
const N = Number(option('messages') ?? (quick ? 20_000 : 100_000));
const ATTACHMENT_MIB = Number(option('attachment-mib') ?? (quick ? 64 : 1024));
const ROUNDS = Number(option('rounds') ?? 1);
const ATTACHMENT_PLAIN = 8 * 1024 * 1024;
const MiB = 1024 * 1024;
const GOAL_RATIO = 0.5;
const GOAL_P99_MS = 50;
const GOAL_RSS_MIB = 128;

const out = (o: unknown): void => console.log(JSON.stringify(o));
const say = (s: string): void => {
  if (!jsonOnly) console.error(s);
};

const KEY = new Uint8Array(32).map((_, i) => (i * 31 + 3) & 0xff);

function open(path: string): EngineDatabase {
  return openDatabase({ path, key: KEY.slice(), functions: SEARCH_SQL_FUNCTIONS });
}

type Loop = { p99: number; max: number };

/** Runs `fn` with the event-loop delay and the RSS peak measured over exactly it. */
async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number; loop: Loop; rssGrowthMiB: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  h.enable();
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  h.disable();
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { value, ms, loop: { p99: h.percentile(99) / 1e6, max: h.max / 1e6 }, rssGrowthMiB: (peak - rss0) / MiB };
}

/** The file cipher alone over `bytes` plaintext bytes: seal (or open) 1 MiB segments. MB/s. */
function cipherRate(bytes: number, direction: 'seal' | 'open'): number {
  const key = systemRng(32);
  const ad = systemRng(32);
  const segment = pseudoRandomBytes('cipher baseline', MiB);
  const sealed = sealSegment(key, ad, 0, false, segment);
  const n = Math.ceil(bytes / MiB);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (direction === 'seal') sealSegment(key, ad, 0, false, segment);
    else openSegment(key, ad, 0, false, sealed);
  }
  return (n * MiB) / 1e6 / ((performance.now() - t0) / 1000);
}

/** A primary's profile: account, 40 contacts with valid signed lists (verified), N messages, attachments. */
function seed(dir: string): { db: EngineDatabase; account: ReturnType<typeof createAccountMaterial>; attachmentsDir: string } {
  const db = open(join(dir, 'parley.db'));
  const now = Date.now();
  const account = createAccountMaterial({ username: 'alice', relayUrl: 'https://relay.example' }, { rng: systemRng, now });
  const attachmentsDir = join(dir, 'attachments');
  mkdirSync(attachmentsDir, { recursive: true });
  const conversations: number[] = [];
  db.writer.transaction(() => {
    insertAccount(db.writer, { ...account, relayId: systemRng(16) });
    createOwnProfile(db.writer, { displayName: 'Alice', rng: systemRng, now });
    for (let i = 0; i < CONVERSATIONS; i++) {
      const accountId = systemRng(16);
      const key = ed25519GenerateKeyPair(systemRng);
      const list = { accountId, version: 1, issuedAt: now, devices: [{ deviceId: 1, identityDhKey: x25519GenerateKeyPair(systemRng).publicKey, identitySigningKey: ed25519GenerateKeyPair(systemRng).publicKey, capabilities: 0x5f, addedAt: now }] };
      insertContact(db.writer, { accountId, username: `contact${i}`, accountKey: key.publicKey, deviceList: { signed: signDeviceList(list, key.privateKey), version: 1, issuedAt: now }, now });
      if (i % 2 === 0) setContactVerified(db.writer, accountId, true, now);
      conversations.push(getOrCreateDirectConversation(db.writer, accountId, now).id);
    }
  });
  const gen = corpus(20261208, now - 300 * 24 * 3600_000);
  const peers = db.reader.all<{ id: number; peer: Uint8Array }>(sql`SELECT id, peer_account_id AS peer FROM conversations WHERE kind = 'direct'`);
  const peerOf = new Map(peers.map((p) => [p.id, new Uint8Array(p.peer)]));
  for (let done = 0; done < N; ) {
    db.writer.transaction(() => {
      for (let k = 0; k < 1000 && done < N; k++, done++) {
        const m = gen.next();
        const conversationId = conversations[m.conversation % conversations.length]!;
        insertMessage(db.writer, {
          conversationId,
          kind: 'text',
          direction: m.outgoing ? 'outgoing' : 'incoming',
          senderAccountId: m.outgoing ? account.accountId : peerOf.get(conversationId)!,
          senderDeviceId: 1,
          messageId: systemRng(16),
          sentAt: m.sentAt,
          receivedAt: m.receivedAt,
          body: m.body,
          status: m.outgoing ? 'read' : null,
          readAt: m.outgoing ? null : m.receivedAt,
        });
      }
    });
  }
  // Attachments: 8 MiB files whose spools hold ciphertext-shaped bytes (the backup copies them as they are).
  const files = Math.max(0, Math.round((ATTACHMENT_MIB * MiB) / ATTACHMENT_PLAIN));
  const layout = attachmentLayout(ATTACHMENT_PLAIN);
  const chunk = pseudoRandomBytes('attachment bytes', MiB);
  for (let i = 0; i < files; i++) {
    const conversationId = conversations[i % conversations.length]!;
    const rowId = db.writer.transaction(() => {
      const id = insertMessage(db.writer, {
        conversationId, kind: 'attachment', direction: 'outgoing', senderAccountId: account.accountId, senderDeviceId: 1, messageId: systemRng(16),
        sentAt: now - i, receivedAt: now - i, body: null, status: 'delivered', readAt: null,
      });
      db.writer.run(sql`INSERT INTO attachments (message_row_id, state, attachment_id, file_key, length, padded_length, ciphertext_digest,
        plaintext_sha256, media_type, file_name, original, transferred)
        VALUES (${id}, 'sent', ${systemRng(16)}, ${systemRng(32)}, ${ATTACHMENT_PLAIN}, ${padmeLength(ATTACHMENT_PLAIN)}, ${systemRng(32)},
        ${systemRng(32)}, 'application/octet-stream', ${`file${i}.bin`}, 1, ${layout.ciphertextLength})`);
      return id;
    });
    const fd = openSync(join(attachmentsDir, `${rowId}.spool`), 'w');
    for (let written = 0; written < layout.ciphertextLength; ) {
      const n = Math.min(chunk.length, layout.ciphertextLength - written);
      writeSync(fd, chunk, 0, n);
      written += n;
    }
    closeSync(fd);
  }
  return { db, account: { ...account, relayId: null }, attachmentsDir };
}

async function round(r: number): Promise<Record<string, number | boolean | string>> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-bench-backup-'));
  try {
    say(`round ${r}: seeding ${N} messages and ${ATTACHMENT_MIB} MiB of attachments…`);
    const { db, account, attachmentsDir } = seed(dir);
    const recoveryKey = systemRng(32);
    const settings = { recoveryKey, backupSalt: systemRng(32), passphrase: null, includeAttachments: true };
    const file = join(dir, 'backup.blob');
    say('backup…');
    const b = await measured(() => makeBackup({ db: db.reader, account, settings, attachmentsDir, rng: systemRng, now: Date.now() }, file));
    const blobBytes = statSync(file).size;
    const sealRate = cipherRate(blobBytes, 'seal');
    const backupRate = blobBytes / 1e6 / (b.ms / 1000);
    db.close();

    say('restore…');
    const target = join(dir, 'restored');
    mkdirSync(target);
    const head = Buffer.alloc(BACKUP_HEADER_LENGTH);
    const fd = openSync(file, 'r');
    readSync(fd, head, 0, BACKUP_HEADER_LENGTH, 0);
    closeSync(fd);
    const header = parseBackupHeader(new Uint8Array(head));
    const fresh = open(join(target, 'parley.db'));
    const rs = await measured(async () => {
      const staged = await stageBackup(file, header, recoveryKey, null, join(target, 'staging'));
      await importStagedBackup(fresh, staged, recoveryKey, null, { rng: systemRng, clock: Date.now, attachmentsDir: join(target, 'attachments'), relayUrl: 'https://relay.example', relayId: systemRng(16) });
      return staged.messages;
    });
    const restored = fresh.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages`)!.n;
    fresh.close();
    const openRate = cipherRate(blobBytes, 'open');
    const restoreRate = blobBytes / 1e6 / (rs.ms / 1000);
    return {
      kind: 'round',
      round: r,
      messages: N,
      attachmentMiB: ATTACHMENT_MIB,
      blobMiB: Number((blobBytes / MiB).toFixed(1)),
      backupMs: Math.round(b.ms),
      backupMBps: Number(backupRate.toFixed(1)),
      cipherSealMBps: Number(sealRate.toFixed(1)),
      backupRatio: Number((backupRate / sealRate).toFixed(3)),
      backupLoopP99Ms: Number(b.loop.p99.toFixed(1)),
      backupLoopMaxMs: Number(b.loop.max.toFixed(1)),
      backupRssGrowthMiB: Number(b.rssGrowthMiB.toFixed(1)),
      restoreMs: Math.round(rs.ms),
      restoredMessages: restored,
      restoreMBps: Number(restoreRate.toFixed(1)),
      cipherOpenMBps: Number(openRate.toFixed(1)),
      restoreRatio: Number((restoreRate / openRate).toFixed(3)),
      restoreLoopP99Ms: Number(rs.loop.p99.toFixed(1)),
      restoreLoopMaxMs: Number(rs.loop.max.toFixed(1)),
      restoreRssGrowthMiB: Number(rs.rssGrowthMiB.toFixed(1)),
      load1: loadavg()[0]!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  out({ kind: 'run', date: new Date().toISOString(), node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, load1: loadavg()[0], messages: N, attachmentMiB: ATTACHMENT_MIB, rounds: ROUNDS });
  const results: Record<string, number | boolean | string>[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const result = await round(r);
    results.push(result);
    out(result);
  }
  const worst = (k: string, f: (xs: number[]) => number): number => f(results.map((x) => x[k] as number));
  const summary = {
    kind: 'summary',
    load1: loadavg()[0],
    backupRatio: worst('backupRatio', (xs) => Math.min(...xs)),
    restoreRatio: worst('restoreRatio', (xs) => Math.min(...xs)),
    worstLoopP99Ms: Math.max(worst('backupLoopP99Ms', (xs) => Math.max(...xs)), worst('restoreLoopP99Ms', (xs) => Math.max(...xs))),
    worstRssGrowthMiB: Math.max(worst('backupRssGrowthMiB', (xs) => Math.max(...xs)), worst('restoreRssGrowthMiB', (xs) => Math.max(...xs))),
  };
  out({
    ...summary,
    goals: {
      ratio: summary.backupRatio >= GOAL_RATIO && summary.restoreRatio >= GOAL_RATIO,
      loopP99: summary.worstLoopP99Ms <= GOAL_P99_MS,
      rss: summary.worstRssGrowthMiB <= GOAL_RSS_MIB,
    },
  });
}

await main();
