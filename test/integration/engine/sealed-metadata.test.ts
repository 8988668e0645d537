/**
 * What the relay keeps of a sealed conversation (issue 15, ADR 0029): after Alice and Bob know each
 * other (their first messages went unsealed: no token yet), a conversation with a text, a read
 * receipt, typing and an attachment. Everything the relay kept or said from then on is read — every
 * log line (at trace level), every rate-limiter key, every metric label, and after it stopped every
 * row of every table of its database — and none pairs Alice with Bob, except the contact list
 * for presence, which sealed sender does not hide (threat-model.md says so). Every sealed upload
 * carried no Authorization header, and nothing went the authenticated way in that time (no REST send,
 * no per-device envelope budget spent — the live channel's sends spend it too).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3-multiple-ciphers';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toBase64Url } from '../../../shared/crypto/bytes.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { getContactProfile } from '../../../electron/engine/db/profiles.js';
import { memoryBackend, type LimiterBackend } from '../../../server/limits/limiter.js';
import { startRelay, type Relay } from '../../../server/relay.js';
import { readAll, sendFile } from '../../support/attachments.js';
import { TestEngine, waitFor } from '../../support/engines.js';
import { scrapeMetrics, TEST_LIMITS, TEST_METRICS_TOKEN } from '../relay/helpers/relay.js';

let relay: Relay;
/** A transparent forwarder in front of the relay that records each request's path and whether it carried credentials. */
let forwarder: { server: Server; url: string; requests: { path: string; method: string; authorization: boolean }[] };
let dataDir: string;
const logLines: string[] = [];
/** Lines logged since the relay started (the logger is wired: it logs at least its start). */
let loggedTotal = 0;
const limiterKeys: { readonly limiter: string; readonly key: string }[] = [];
const engines: TestEngine[] = [];

/** Records every key every shared limiter is asked about. */
const recordingBackend: LimiterBackend = {
  create(name, spec) {
    const inner = memoryBackend.create(name, spec);
    return {
      spec,
      consume(key, cost) {
        limiterKeys.push({ limiter: name, key });
        return inner.consume(key, cost);
      },
      refund: (key, cost) => inner.refund(key, cost),
    };
  },
};

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'parley-sealed-meta-'));
  relay = await startRelay({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    limits: { ...TEST_LIMITS, bundlesPerPair: { points: 1000, duration: 1 } },
    logger: pino({ level: 'trace' }, { write: (line: string) => void (loggedTotal++, logLines.push(line)) }),
    limiterBackend: recordingBackend,
    metrics: { token: TEST_METRICS_TOKEN },
  });
  const upstream = new URL(relay.url);
  const requests: { path: string; method: string; authorization: boolean }[] = [];
  const server = createServer((req, res) => {
    requests.push({ path: new URL(req.url ?? '/', relay.url).pathname, method: req.method ?? '', authorization: req.headers.authorization !== undefined });
    const up = request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  // WebSocket upgrades are passed through byte for byte (the live channel authenticates in its first frame).
  server.on('upgrade', (req, socket, head) => {
    const up = connect(Number(upstream.port), upstream.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(req.headers).map(([k, v]) => `${k}: ${String(v)}`), '', ''];
      up.write(lines.join('\r\n'));
      up.write(head);
      socket.pipe(up).pipe(socket);
    });
    up.on('error', () => socket.destroy());
    socket.on('error', () => up.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  forwarder = { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
});
afterAll(async () => {
  for (const e of engines) await e.dispose();
  forwarder.server.closeAllConnections();
  await new Promise<void>((resolve) => forwarder.server.close(() => resolve()));
  await relay.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every way an account id can appear: hex (logs, SQL dumps) and base64url (the wire). */
function spellings(accountHex: string): string[] {
  return [accountHex, toBase64Url(fromHex(accountHex))];
}

function mentions(text: string, accountHex: string): boolean {
  return spellings(accountHex).some((s) => text.includes(s));
}

describe('what the relay keeps of a sealed conversation', () => {
  it('no log line, limiter key, metric label or table row pairs the two; sealed uploads were unauthenticated', { timeout: 120_000 }, async () => {
    const alice = await TestEngine.create({ relayUrl: forwarder.url, name: 'alice' });
    const bob = await TestEngine.create({ relayUrl: forwarder.url, name: 'bob' });
    engines.push(alice, bob);
    const aToB = await alice.add(bob);
    const bToA = await bob.add(alice);
    await alice.send(aToB, 'hello');
    await bob.receive(alice, 'hello');
    await bob.send(bToA, 'hi');
    await alice.receive(bob, 'hi');
    for (const [t, other] of [[alice, bob], [bob, alice]] as const) {
      await waitFor(() => (getContactProfile(t.engine.current!.db.reader, fromHex(other.accountId))?.profileKey ?? null) !== null, `${t.username} holds the other's key`);
      await t.drained();
    }

    // ── From here on, everything between them goes sealed. ──
    logLines.length = 0;
    limiterKeys.length = 0;
    const requestsBefore = forwarder.requests.length;

    const text = await alice.send(aToB, 'a sealed text');
    await bob.receive(alice, 'a sealed text');
    const [received] = (await bob.messages(bToA)).filter((m) => m.body === 'a sealed text');
    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: received!.id });
    await alice.waitStatus(text.id, 'read');
    await bob.call('conversations:setTyping', { conversationId: bToA, typing: true });
    await alice.waitEvent('typing', (p) => p.typing);
    const file = pseudoRandomBytes('sealed-metadata/file', 50_000);
    const sentFile = await sendFile(alice, aToB, 'notes.bin', file, { asFile: true });
    await waitFor(() => bob.payloads('message:added').some((p) => p.message.kind === 'attachment'), 'the attachment at bob', 30_000);
    const incoming = bob.payloads('message:added').find((p) => p.message.kind === 'attachment')!.message;
    expect(Buffer.compare((await readAll(bob, incoming.id)).bytes, Buffer.from(file))).toBe(0);
    await alice.waitStatus(sentFile.id, 'delivered');
    await alice.drained();
    await bob.drained();
    // One more, kept in the relay's mailbox: Bob is offline.
    await bob.close();
    const kept = await alice.send(aToB, 'kept while bob is away');
    await alice.waitStatus(kept.id, 'sent');
    const metrics = await scrapeMetrics(relay.url);

    // Sealed uploads: several, none with an Authorization header; no authenticated REST send at all.
    const window = forwarder.requests.slice(requestsBefore);
    const uploads = window.filter((r) => r.path === '/v1/sealed');
    expect(uploads.length).toBeGreaterThanOrEqual(5);
    expect(uploads.every((u) => !u.authorization)).toBe(true);
    expect(window.filter((r) => r.path === '/v1/messages')).toEqual([]);
    // The relay counted them as sealed, by result only.
    expect(metrics).toMatch(/parley_relay_sealed_sends_total\{result="stored"\} [1-9]/);
    expect(metrics).toMatch(/parley_relay_sealed_sends_total\{result="online"\} [1-9]/);

    // Logs, limiter keys and metrics: never both (metrics: neither).
    expect(loggedTotal).toBeGreaterThan(0);
    expect(logLines.filter((l) => mentions(l, alice.accountId) && mentions(l, bob.accountId))).toEqual([]);
    expect(limiterKeys.filter((k) => mentions(k.key, alice.accountId) && mentions(k.key, bob.accountId))).toEqual([]);
    expect(limiterKeys.some((k) => k.limiter === 'sealedSendsPerToken')).toBe(true);
    // No per-device envelope budget was spent in that time: nothing went the authenticated way.
    expect(limiterKeys.filter((k) => k.limiter === 'envelopesPerDevice')).toEqual([]);
    expect(mentions(metrics, alice.accountId) || mentions(metrics, bob.accountId)).toBe(false);

    // Every row of every table, once the relay stopped.
    await relay.close();
    const db = new Database(path.join(dataDir, 'relay.sqlite'), { readonly: true, fileMustExist: true });
    const pairing: string[] = [];
    let rows = 0;
    let mailboxRows = 0;
    try {
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
      expect(tables).toEqual(expect.arrayContaining(['mailbox', 'attachments', 'delivery_tokens', 'accounts', 'devices', 'contacts']));
      for (const table of tables) {
        for (const row of db.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]) {
          rows++;
          if (table === 'mailbox') {
            mailboxRows++;
            expect(row.source_account).toBeNull();
          }
          const flat = Object.values(row)
            .map((v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v)))
            .join(' ');
          if (mentions(flat, alice.accountId) && mentions(flat, bob.accountId)) pairing.push(table);
        }
      }
    } finally {
      db.close();
    }
    expect(rows).toBeGreaterThan(0);
    expect(mailboxRows).toBeGreaterThan(0);
    // The relay-side contact lists (presence and typing scope, ADR 0007) are the one pairing it holds.
    expect([...new Set(pairing)]).toEqual(['contacts']);
  });
});
