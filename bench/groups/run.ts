/**
 * Group-send benchmark (issue 16, ADR 0032, `npm run bench:groups`): a send to a 1,000-member group
 * (one device each) measured end to end at the real relay — the relay in its own process (the built
 * bin, production store thread), every member connected over its own WebSocket in this process —
 * against its baseline in the same run, interleaved round by round:
 *
 *  - group: ONE sealed multi-account upload (POST /v1/sealed/multi) naming the 1,000 member devices
 *    (the sender's own among them, §21.9), 1,000 mailbox entries committed in one transaction;
 *  - baseline: 1,000 separate 1:1 sealed sends (POST /v1/sealed), one per member, carrying an inner
 *    message of the same size, 32 in flight.
 *
 * Measured per round: time to commit (the upload posted → the last answer, which the relay gives
 * only after the commit) and time to deliver (posted → the last member socket holding its
 * envelope); every envelope is acked as it arrives. Client-side sealing (1,000 recipients in one seal
 * against 1,000 seals) is timed apart and not included. Prints one JSON line per result and a table.
 * A measurement, not a test: it exits 0 when it ran.
 *
 *   npm run bench:groups [-- --quick]        (--quick: 200 members, 2 rounds)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { fromBase64Url, toBase64Url } from '../../shared/crypto/bytes.js';
import { systemRng } from '../../shared/crypto/random.js';
import { sha256 } from '../../shared/crypto/sha256.js';
import { newProfileKey } from '../../shared/protocol/profile.js';
import { deliveryToken, encodeSealedMultiRecipient, openSealedEnvelope, sealMessage, type SealedRecipient } from '../../shared/protocol/sealed-sender.js';
import { MAX_SERVER_FRAME_BYTES } from '../../shared/wire/wire-size.js';
import { RelayClient } from '../../electron/engine/relay/client.js';
import { makeAccount, type BenchAccount } from '../relay-load/accounts.js';

const quick = process.argv.includes('--quick');
const MEMBERS = quick ? 200 : 1_000;
const ROUNDS = quick ? 2 : 5;
const BASELINE_IN_FLIGHT = 32;
/** The inner message: a sender-key message carrying a short text (header, padded block, signature). */
const INNER_BYTES = 320;
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
function report(r: Record<string, unknown>): void {
  console.log(JSON.stringify(r));
}

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

type Member = { readonly account: BenchAccount; readonly token: Uint8Array; ws?: WebSocket; lastEnvelope?: string };

/** Resolves when every member socket has received one envelope since `arm`. */
class Arrivals {
  private pending = 0;
  private done: (() => void) | undefined;
  private got = new Set<number>();
  arm(count: number): Promise<void> {
    this.pending = count;
    this.got = new Set();
    return new Promise((resolve) => (this.done = resolve));
  }
  arrived(member: number): void {
    if (this.got.has(member)) return;
    this.got.add(member);
    if (--this.pending === 0) this.done?.();
  }
}

async function post(url: string, route: string, body: string): Promise<void> {
  const r = await fetch(`${url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (!r.ok) throw new Error(`${route} answered ${r.status}: ${await r.text()}`);
  await r.arrayBuffer();
}

/** The built relay (dist/server/main.js) in its own process, production settings, rate limits lifted. */
async function spawnRelay(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const main = fileURLToPath(new URL('../../server/main.js', import.meta.url));
  const unlimited = { points: 1e9, duration: 1 };
  const limits = Object.fromEntries(
    ['registrationPerIp', 'authPerIp', 'challengesPerAddressAndDevice', 'requestsPerIp', 'upgradesPerIp', 'wsAuthPerIp', 'lookupsPerAccount', 'profileUploadsPerAccount', 'sealedSendsPerIp', 'sealedSendsPerToken', 'sealedMultiRecipientsPerIp'].map((k) => [k, unlimited]),
  );
  const child = spawn(process.execPath, [main, '--host', '127.0.0.1', '--port', '0', '--data', dataDir, '--log-level', 'warn'], {
    env: { ...process.env, PARLEY_RELAY_LIMITS: JSON.stringify({ ...limits, maxPreAuthPerIp: 100_000, maxMailboxEnvelopes: 1e9 }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.includes('parley-relay.listening')) return;
      const parsed = JSON.parse(line) as { port?: number };
      if (typeof parsed.port === 'number') resolve(parsed.port);
    });
    void exited.then(() => reject(new Error('the relay exited before listening')));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-bench-groups-'));
  const relay = await spawnRelay(dataDir);
  const arrivals = new Arrivals();
  const members: Member[] = [];
  try {
    const setupStarted = performance.now();
    const accounts = Array.from({ length: MEMBERS }, (_, i) => makeAccount(`group_bench_${process.pid}_${i}`));
    await pool(accounts, 8, async (account) => {
      await RelayClient.register(relay.url, account.request, 120_000);
    });
    const sessionTokens = new Array<string>(MEMBERS);
    await pool(accounts, 8, async (account, i) => {
      const client = new RelayClient({ url: relay.url, accountId: account.accountId, deviceId: 1, identitySigningKey: account.signingKey, requestTimeoutMs: 120_000 });
      const token = deliveryToken(newProfileKey({ rng: systemRng }));
      await client.putDeliveryTokenHash(sha256(token));
      sessionTokens[i] = await client.sessionToken();
      members[i] = { account, token };
      client.close();
    });
    await pool(members, 16, async (m, i) => {
      const ws = new WebSocket(new URL('/v1/ws', relay.url.replace(/^http/, 'ws')), { perMessageDeflate: false, maxPayload: MAX_SERVER_FRAME_BYTES });
      m.ws = ws;
      await new Promise<void>((resolve, reject) => {
        ws.once('error', reject);
        ws.on('open', () => ws.send(JSON.stringify({ type: 'auth', token: sessionTokens[i] })));
        ws.on('message', (data: Buffer) => {
          const frame = JSON.parse(data.toString('utf8')) as { type: string; seq?: number; content?: string };
          if (frame.type === 'backlog-end') resolve();
          if (frame.type === 'envelope' && typeof frame.seq === 'number') {
            ws.send(JSON.stringify({ type: 'ack', seqs: [frame.seq] }));
            m.lastEnvelope = frame.content;
            arrivals.arrived(i);
          }
        });
      });
    });
    const setupSeconds = (performance.now() - setupStarted) / 1000;

    const sender = members[0]!;
    const senderClient = new RelayClient({ url: relay.url, accountId: sender.account.accountId, deviceId: 1, identitySigningKey: sender.account.signingKey });
    const { certificate } = await senderClient.senderCertificate();
    senderClient.close();
    const recipientOf = (m: Member): SealedRecipient => ({ accountId: m.account.accountId, deviceId: 1, identityKey: m.account.identityDh.publicKey });
    const seal = (recipients: SealedRecipient[], inner: Uint8Array): Uint8Array =>
      encodeSealedMultiRecipient(sealMessage({ certificate, senderIdentityPrivate: sender.account.identityDh.privateKey, recipients, messages: [inner] }, { rng: systemRng }));

    const groupTimes: { commit: number; deliver: number; seal: number; bytes: number }[] = [];
    const baseTimes: { commit: number; deliver: number; seal: number; bytes: number }[] = [];
    const trust = new Map([[1, (await RelayClient.wellKnown(relay.url)).certificateKey]]);
    for (let r = 0; r < ROUNDS; r++) {
      // Group: one upload.
      {
        const inner = systemRng(INNER_BYTES);
        const sealStarted = performance.now();
        const upload = seal(members.map(recipientOf), inner);
        const seal_ = performance.now() - sealStarted;
        const body = JSON.stringify({ recipients: members.map((m) => ({ to: m.account.id, token: toBase64Url(m.token) })), upload: toBase64Url(upload) });
        const delivered = arrivals.arm(MEMBERS);
        const t0 = performance.now();
        await post(relay.url, '/v1/sealed/multi', body);
        const commit = performance.now() - t0;
        await delivered;
        const deliver = performance.now() - t0;
        groupTimes.push({ commit, deliver, seal: seal_, bytes: body.length });
        // A member opens its envelope: the benchmark moves real sealed sends.
        const opened = openSealedEnvelope(fromBase64Url(members[1]!.lastEnvelope!), { identityPrivate: members[1]!.account.identityDh.privateKey }, trust, Date.now());
        if (opened.message.length !== INNER_BYTES || opened.message.some((b, i) => b !== inner[i])) throw new Error('member 1 opened something else');
      }
      // Baseline: 1,000 separate 1:1 sealed sends of the same inner size.
      {
        const inner = systemRng(INNER_BYTES);
        const sealStarted = performance.now();
        const uploads = members.map((m) => seal([recipientOf(m)], inner));
        const seal_ = performance.now() - sealStarted;
        const bodies = members.map((m, i) => JSON.stringify({ to: m.account.id, token: toBase64Url(m.token), upload: toBase64Url(uploads[i]!) }));
        const delivered = arrivals.arm(MEMBERS);
        const t0 = performance.now();
        await pool(bodies, BASELINE_IN_FLIGHT, (body) => post(relay.url, '/v1/sealed', body));
        const commit = performance.now() - t0;
        await delivered;
        const deliver = performance.now() - t0;
        baseTimes.push({ commit, deliver, seal: seal_, bytes: bodies.reduce((n, b) => n + b.length, 0) });
      }
    }
    const g = (k: 'commit' | 'deliver' | 'seal') => median(groupTimes.map((t) => t[k]));
    const b = (k: 'commit' | 'deliver' | 'seal') => median(baseTimes.map((t) => t[k]));
    const result = {
      benchmark: 'group-send-relay',
      members: MEMBERS,
      devicesPerMember: 1,
      rounds: ROUNDS,
      innerBytes: INNER_BYTES,
      groupCommitMs: round(g('commit')),
      groupDeliverMs: round(g('deliver')),
      separateCommitMs: round(b('commit')),
      separateDeliverMs: round(b('deliver')),
      commitSpeedup: round(b('commit') / g('commit'), 2),
      deliverSpeedup: round(b('deliver') / g('deliver'), 2),
      groupSealMs: round(g('seal')),
      separateSealMs: round(b('seal')),
      groupRequestBytes: groupTimes[0]!.bytes,
      separateRequestBytes: baseTimes[0]!.bytes,
      perRound: { group: groupTimes.map((t) => [round(t.commit), round(t.deliver)]), separate: baseTimes.map((t) => [round(t.commit), round(t.deliver)]) },
      setupSeconds: round(setupSeconds),
      loadavg: loadavg().map((x) => round(x, 2)),
    };
    report(result);
    console.log('');
    console.log(`group send to ${MEMBERS} members (1 device each), median of ${ROUNDS} rounds`);
    console.log(`  one multi-account upload : commit ${result.groupCommitMs} ms, delivered to all ${result.groupDeliverMs} ms`);
    console.log(`  ${MEMBERS} separate 1:1 sends : commit ${result.separateCommitMs} ms, delivered to all ${result.separateDeliverMs} ms`);
    console.log(`  speed-up                 : commit ×${result.commitSpeedup}, delivery ×${result.deliverSpeedup}`);
    console.log(`  client sealing (not above): one seal ${result.groupSealMs} ms, ${MEMBERS} seals ${result.separateSealMs} ms`);
    console.log(`  load average             : ${result.loadavg.join(' ')}`);
  } finally {
    for (const m of members) m.ws?.close();
    await relay.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
