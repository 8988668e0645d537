/**
 * Sealed-sender benchmarks (issue 15, `npm run bench:sealed`), each against its baseline in the same
 * run:
 *
 *  1. per message: a 100-byte text through the production session API (encrypt, then decrypt),
 *     unsealed, against the same plus sealing it for the recipient device and opening it there with
 *     the full acceptance rule (openSealedEnvelope + acceptSealedSender) — the overhead per message;
 *  2. sender side: one multi-recipient seal for 6 devices (6 receipt-sized ratchet messages) against
 *     6 single-recipient seals of the same messages — time and bytes uploaded;
 *  3. relay throughput: the real relay in this process, sealed uploads (POST /v1/sealed, no
 *     authentication, token check) against authenticated REST sends (POST /v1/messages, bearer
 *     token), one recipient device, the same content, interleaved rounds at the same concurrency.
 *
 * Prints one JSON line per result and a short table. A measurement, not a test: it always exits 0
 * when it ran.
 *
 *   node dist/bench/sealed/run.js [--quick]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { toBase64Url } from '../../shared/crypto/bytes.js';
import { ed25519GenerateKeyPair } from '../../shared/crypto/ed25519.js';
import { systemClock, systemRng } from '../../shared/crypto/random.js';
import { sha256 } from '../../shared/crypto/sha256.js';
import { x25519PrivateHandle } from '../../shared/crypto/x25519.js';
import { EMPTY_SKIPPED } from '../../shared/protocol/double-ratchet.js';
import { newProfileKey } from '../../shared/protocol/profile.js';
import {
  acceptSealedSender,
  deliveryToken,
  encodeSealedMultiRecipient,
  issueSenderCertificate,
  openSealedEnvelope,
  parseSealedMultiRecipient,
  sealedEnvelopeFor,
  sealMessage,
  VerifiedCertificates,
  type SealedRecipient,
} from '../../shared/protocol/sealed-sender.js';
import { decryptMessage, encryptMessage, FailureBudgets, initiateSession, type SessionDecryptContext } from '../../shared/protocol/session.js';
import { deserializeSessionRecord, serializeSessionRecord } from '../../shared/protocol/session-record.js';
import { localDevice, makeAccount, makeDevice, peerDevice, type TestDevice } from '../../shared/testing/protocol-fixtures.js';
import { startRelay } from '../../server/relay.js';
import { registerAccount, TestAccount } from '../../test/integration/relay/helpers/accounts.js';
import { measure, pairedRatio, type Case } from '../protocol/harness.js';

const quick = process.argv.includes('--quick');
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));
const results: Record<string, unknown>[] = [];
function report(r: Record<string, unknown>): void {
  results.push(r);
  console.log(JSON.stringify(r));
}

// ── 1. Per message ───────────────────────────────────────────────────────────

const now = systemClock();
const relayKey = ed25519GenerateKeyPair(systemRng);
const trust = new Map([[1, relayKey.publicKey]]);

function conversation(): { send: (p: Uint8Array) => Uint8Array; receive: (m: Uint8Array) => Uint8Array; alice: TestDevice; bob: TestDevice } {
  const alice = makeDevice(systemRng, now);
  const bob = makeDevice(systemRng, now);
  let aliceRecord = serializeSessionRecord(initiateSession(undefined, { local: localDevice(alice), peer: peerDevice(bob), bundle: bob.prekeys.takeBundle(bob) }, { rng: systemRng, now: systemClock }).record);
  let bobRecord: Uint8Array | undefined;
  const ctx: SessionDecryptContext = { local: localDevice(bob), peer: peerDevice(alice), prekeys: bob.prekeys, skipped: () => EMPTY_SKIPPED, budgets: new FailureBudgets(), rng: systemRng, now: systemClock };
  return {
    alice,
    bob,
    send(p) {
      const { record, message } = encryptMessage(deserializeSessionRecord(aliceRecord), p);
      aliceRecord = serializeSessionRecord(record);
      return message.bytes;
    },
    receive(m) {
      const result = decryptMessage(bobRecord === undefined ? undefined : deserializeSessionRecord(bobRecord), m, ctx);
      bob.prekeys.apply(result.prekeyChanges);
      bobRecord = serializeSessionRecord(result.record);
      return result.plaintext;
    },
  };
}

function perMessage(): void {
  const plain = conversation();
  const sealed = conversation();
  const cached = conversation();
  const text = systemRng(100);
  const certificate = issueSenderCertificate({ accountId: sealed.alice.account.accountId, deviceId: 1, identityKey: sealed.alice.identityDh.publicKey, expiresAt: now + 23 * 3600_000, keyId: 1 }, relayKey.privateKey);
  const list = { accountId: sealed.alice.account.accountId, version: 1, issuedAt: now, devices: [sealed.alice.entry] };
  const recipient: SealedRecipient = { accountId: sealed.bob.account.accountId, deviceId: 1, identityKey: sealed.bob.identityDh.publicKey };
  // First messages (prekey messages) outside the timing: both sides then exchange ratchet messages.
  plain.receive(plain.send(text));
  sealed.receive(sealed.send(text));
  cached.receive(cached.send(text));
  // What the engine does (messaging/sealed.ts): each side's identity key imported once, and each
  // sender certificate's signature verified once (VerifiedCertificates); expiry still checked per envelope.
  const cachedCertificate = issueSenderCertificate({ accountId: cached.alice.account.accountId, deviceId: 1, identityKey: cached.alice.identityDh.publicKey, expiresAt: now + 23 * 3600_000, keyId: 1 }, relayKey.privateKey);
  const cachedList = { accountId: cached.alice.account.accountId, version: 1, issuedAt: now, devices: [cached.alice.entry] };
  const cachedRecipient: SealedRecipient = { accountId: cached.bob.account.accountId, deviceId: 1, identityKey: cached.bob.identityDh.publicKey };
  const verified = new VerifiedCertificates();
  const aliceHandle = x25519PrivateHandle(cached.alice.identityDh.privateKey);
  const bobKeys = { identityPrivate: cached.bob.identityDh.privateKey, identityHandle: x25519PrivateHandle(cached.bob.identityDh.privateKey) };
  const cases: Case[] = [
    { name: 'unsealed', prepare: (n) => Array.from({ length: n }, () => () => void plain.receive(plain.send(text))) },
    {
      name: 'sealed',
      prepare: (n) =>
        Array.from({ length: n }, () => () => {
          const inner = sealed.send(text);
          const envelope = sealedEnvelopeFor(sealMessage({ certificate, senderIdentityPrivate: sealed.alice.identityDh.privateKey, recipients: [recipient], messages: [inner] }, { rng: systemRng }), 0);
          const opened = openSealedEnvelope(envelope, { identityPrivate: sealed.bob.identityDh.privateKey }, trust, now);
          sealed.receive(opened.message);
          acceptSealedSender(opened, list, sealed.alice.identityDh.publicKey);
        }),
    },
    {
      name: 'sealed-cached',
      prepare: (n) =>
        Array.from({ length: n }, () => () => {
          const inner = cached.send(text);
          const envelope = sealedEnvelopeFor(sealMessage({ certificate: cachedCertificate, senderIdentityPrivate: cached.alice.identityDh.privateKey, senderIdentityHandle: aliceHandle, recipients: [cachedRecipient], messages: [inner] }, { rng: systemRng }), 0);
          const opened = openSealedEnvelope(envelope, bobKeys, trust, now, verified);
          cached.receive(opened.message);
          acceptSealedSender(opened, cachedList, cached.alice.identityDh.publicKey);
        }),
    },
  ];
  const stats = measure(cases, quick ? { warmupReps: 1, reps: 3, batch: 50 } : { warmupReps: 2, reps: 9, batch: 400 });
  const u = stats.get('unsealed')!;
  const s = stats.get('sealed')!;
  const c = stats.get('sealed-cached')!;
  report({
    benchmark: 'sealed-per-message',
    unit: 'µs per message (encrypt + decrypt, 100 B)',
    unsealedMedianUs: round(u.medianUs),
    sealedMedianUs: round(s.medianUs),
    overheadUs: round(s.medianUs - u.medianUs),
    sealedP95Us: round(s.p95Us),
    rateRatio: round(pairedRatio(s.repRates, u.repRates), 3),
    engineSealedMedianUs: round(c.medianUs),
    engineOverheadUs: round(c.medianUs - u.medianUs),
    engineRateRatio: round(pairedRatio(c.repRates, u.repRates), 3),
    engineVsUncachedRatio: round(pairedRatio(c.repRates, s.repRates), 3),
  });
}

// ── 2. Multi-recipient vs single ─────────────────────────────────────────────

function multiVsSingle(): void {
  const sender = makeDevice(systemRng, now);
  const account = makeAccount(systemRng);
  const devices = Array.from({ length: 6 }, (_, i) => makeDevice(systemRng, now, { account, deviceId: i + 1 }));
  const recipients: SealedRecipient[] = devices.map((d) => ({ accountId: account.accountId, deviceId: d.deviceId, identityKey: d.identityDh.publicKey }));
  // A receipt as a ratchet message: 43-byte header, one padded block and the tag.
  const messages = devices.map(() => new Uint8Array([1, 1, ...systemRng(43 - 2 + 160 + 16)]));
  const certificate = issueSenderCertificate({ accountId: sender.account.accountId, deviceId: 1, identityKey: sender.identityDh.publicKey, expiresAt: now + 3600_000, keyId: 1 }, relayKey.privateKey);
  const base = { certificate, senderIdentityPrivate: sender.identityDh.privateKey };
  const multiBytes = encodeSealedMultiRecipient(sealMessage({ ...base, recipients, messages }, { rng: systemRng })).length;
  const singleBytes = recipients.reduce((n, r, i) => n + encodeSealedMultiRecipient(sealMessage({ ...base, recipients: [r], messages: [messages[i]!] }, { rng: systemRng })).length, 0);
  const cases: Case[] = [
    { name: 'multi', prepare: (n) => Array.from({ length: n }, () => () => void encodeSealedMultiRecipient(sealMessage({ ...base, recipients, messages }, { rng: systemRng }))) },
    {
      name: 'single×6',
      prepare: (n) =>
        Array.from({ length: n }, () => () => {
          for (let i = 0; i < 6; i++) encodeSealedMultiRecipient(sealMessage({ ...base, recipients: [recipients[i]!], messages: [messages[i]!] }, { rng: systemRng }));
        }),
    },
  ];
  const stats = measure(cases, quick ? { warmupReps: 1, reps: 3, batch: 30 } : { warmupReps: 2, reps: 9, batch: 200 });
  const m = stats.get('multi')!;
  const s = stats.get('single×6')!;
  report({
    benchmark: 'sealed-multi-recipient-6',
    unit: 'µs per send to 6 devices (receipt-sized messages)',
    multiMedianUs: round(m.medianUs),
    sixSinglesMedianUs: round(s.medianUs),
    timeRatio: round(m.medianUs / s.medianUs, 3),
    multiUploadBytes: multiBytes,
    sixSinglesUploadBytes: singleBytes,
    requests: { multi: 1, singles: 6 },
  });
}

// ── 3. Relay throughput ──────────────────────────────────────────────────────

async function relayThroughput(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-bench-sealed-'));
  const unlimited = { points: 1e9, duration: 1 };
  const relay = await startRelay({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    storeThread: 'inline',
    limits: { requestsPerIp: unlimited, sealedSendsPerIp: unlimited, sealedSendsPerToken: unlimited, envelopesPerDevice: unlimited, authPerIp: unlimited, registrationPerIp: unlimited, maxMailboxEnvelopes: 1e9 },
  });
  try {
    const alice = new TestAccount();
    const bob = new TestAccount();
    const a = (await registerAccount(relay.url, alice)).get(1)!;
    const b = (await registerAccount(relay.url, bob)).get(1)!;
    const token = deliveryToken(newProfileKey({ rng: systemRng }));
    await b.putDeliveryTokenHash(sha256(token));
    const { certificate } = await a.senderCertificate();
    const inner = new Uint8Array([1, 1, ...systemRng(43 - 2 + 160 + 16)]);
    const upload = encodeSealedMultiRecipient(sealMessage({ certificate, senderIdentityPrivate: alice.devices[0]!.dh.privateKey, recipients: [{ accountId: bob.accountId, deviceId: 1, identityKey: bob.devices[0]!.dh.publicKey }], messages: [inner] }, { rng: systemRng }));
    // Authenticated: the same number of bytes as the sealed envelope the relay stores, from Alice's device.
    const content = sealedEnvelopeFor(parseSealedMultiRecipient(upload), 0);
    const bearer = await a.sessionToken();
    const sealedBody = JSON.stringify({ to: toBase64Url(bob.accountId), token: toBase64Url(token), upload: toBase64Url(upload) });
    const authBody = JSON.stringify({ to: toBase64Url(bob.accountId), messages: [{ deviceId: 1, content: toBase64Url(content) }] });
    const post = async (route: string, body: string, auth: boolean): Promise<void> => {
      const r = await fetch(`${relay.url}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(auth && { authorization: `Bearer ${bearer}` }) }, body });
      if (!r.ok) throw new Error(`${route} answered ${r.status}: ${await r.text()}`);
      await r.arrayBuffer();
    };
    const concurrency = 16;
    const run = async (route: string, body: string, auth: boolean, seconds: number): Promise<number> => {
      let done = 0;
      const end = performance.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < end) {
            await post(route, body, auth);
            done++;
          }
        }),
      );
      return done / seconds;
    };
    await run('/v1/sealed', sealedBody, false, 1);
    await run('/v1/messages', authBody, true, 1);
    const rounds = quick ? 2 : 6;
    const seconds = quick ? 1 : 3;
    const sealedRates: number[] = [];
    const authRates: number[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternating order: load drift hits both alike.
      if (i % 2 === 0) {
        sealedRates.push(await run('/v1/sealed', sealedBody, false, seconds));
        authRates.push(await run('/v1/messages', authBody, true, seconds));
      } else {
        authRates.push(await run('/v1/messages', authBody, true, seconds));
        sealedRates.push(await run('/v1/sealed', sealedBody, false, seconds));
      }
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    report({
      benchmark: 'relay-sealed-vs-authenticated',
      unit: 'sends per second (REST, 1 recipient device, concurrency 16, relay and load in one process)',
      sealedMedian: round(med(sealedRates)),
      authenticatedMedian: round(med(authRates)),
      ratio: round(pairedRatio(sealedRates, authRates), 3),
      envelopeBytes: content.length,
      rounds,
      secondsPerRound: seconds,
    });
    a.close();
    b.close();
  } finally {
    await relay.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

perMessage();
multiVsSingle();
await relayThroughput();
console.log('');
for (const r of results) console.log(`${String(r.benchmark).padEnd(34)} ${JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'benchmark' && k !== 'unit')))}`);
