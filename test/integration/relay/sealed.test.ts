/**
 * Sealed sender at the real relay (issue 15, docs/protocol.md §21, ADR 0029): the certificate key
 * and its id at /.well-known/parley; certificates for authenticated devices only, naming the
 * device's identity key, living ≤ 24 h; a sealed upload posted **without any authentication**
 * reaches every device of the recipient with no source, and each device opens its own part; a
 * wrong, rotated or missing token, an unknown account, an upload for another account's device and a
 * partial fan-out are refused and store nothing; online-only sends (typing) reach open sockets and
 * are never stored; sealed sends are limited per address and per token, never per sender.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, utf8 } from '../../../shared/crypto/bytes.js';
import { ed25519Verify } from '../../../shared/crypto/ed25519.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { label, MAX_SENDER_CERTIFICATE_LIFETIME_MS } from '../../../shared/protocol/constants.js';
import { newProfileKey } from '../../../shared/protocol/profile.js';
import {
  deliveryToken,
  encodeSealedMultiRecipient,
  openSealedEnvelope,
  parseSenderCertificate,
  sealMessage,
  type SealedRecipient,
} from '../../../shared/protocol/sealed-sender.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';
import { TestSocket, type Frame } from './helpers/socket.js';

let relay: TestRelay;
const clients: RelayClient[] = [];
const sockets: TestSocket[] = [];
beforeAll(async () => {
  relay = await startTestRelay({ limits: { sealedSendsPerIp: { points: 6, duration: 3600 }, sealedSendsPerToken: { points: 5, duration: 3600 } } });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const c of clients) c.close();
  await relay.stop();
});

type Person = { account: TestAccount; client: RelayClient; profileKey: Uint8Array; token: Uint8Array };

async function person(devices: readonly number[] = [1]): Promise<Person> {
  const account = new TestAccount(undefined, devices);
  const all = await registerAccount(relay.url, account);
  clients.push(...all.values());
  const client = all.get(devices[0]!)!;
  const profileKey = newProfileKey({ rng: systemRng });
  const token = deliveryToken(profileKey);
  await client.putDeliveryTokenHash(sha256(token));
  return { account, client, profileKey, token };
}

async function socketOf(p: Person, deviceId: number): Promise<TestSocket> {
  const client = p.account.client(relay.url, deviceId);
  clients.push(client);
  const s = await TestSocket.authed(relay.url, await client.sessionToken());
  sockets.push(s);
  await s.next((f) => f.type === 'backlog-end');
  return s;
}

const recipientsOf = (p: Person, deviceIds = p.account.devices.map((d) => d.deviceId)): SealedRecipient[] =>
  deviceIds.map((id) => ({ accountId: p.account.accountId, deviceId: id, identityKey: p.account.device(id).dh.publicKey }));

async function upload(from: Person, recipients: SealedRecipient[], messages: Uint8Array[]): Promise<Uint8Array> {
  const { certificate } = await from.client.senderCertificate();
  const sealed = sealMessage({ certificate, senderIdentityPrivate: from.account.devices[0]!.dh.privateKey, recipients, messages }, { rng: systemRng });
  return encodeSealedMultiRecipient(sealed);
}

/** POST /v1/sealed with no Authorization header at all, from `localAddress` when given. */
function postSealed(body: { to: Uint8Array; token: Uint8Array; upload: Uint8Array; online?: boolean }, localAddress?: string) {
  return http(relay.url, 'POST', '/v1/sealed', {
    body: { to: toBase64Url(body.to), token: toBase64Url(body.token), upload: toBase64Url(body.upload), ...(body.online && { online: true }) },
    ...(localAddress && { localAddress }),
  });
}
const codeOf = (r: { body: unknown }) => (r.body as { error?: { code: string } } | undefined)?.error?.code;

describe('sealed sender at the relay', () => {
  it('publishes its certificate key with a key id; a certificate names the device and its identity key, lives ≤ 24 h, and verifies under that key', async () => {
    const wk = await RelayClient.wellKnown(relay.url);
    expect(wk.sealed?.certificateKeyId).toBe(1);
    expect(wk.sealed?.certificateLifetimeMs).toBe(MAX_SENDER_CERTIFICATE_LIFETIME_MS);
    expect(wk.certificateKey).not.toEqual(wk.treeHeadKey);
    const alice = await person();
    const before = Date.now();
    const r = await alice.client.senderCertificate();
    const c = parseSenderCertificate(r.certificate);
    expect(c.accountId).toEqual(alice.account.accountId);
    expect(c.deviceId).toBe(1);
    expect(c.identityKey).toEqual(alice.account.devices[0]!.dh.publicKey);
    expect(c.keyId).toBe(wk.sealed!.certificateKeyId);
    expect(c.expiresAt).toBe(r.expiresAt);
    expect(c.expiresAt - before).toBeLessThanOrEqual(MAX_SENDER_CERTIFICATE_LIFETIME_MS + 5_000);
    const input = new Uint8Array([...label('SenderCertificate'), ...r.certificate.subarray(0, 66)]);
    expect(ed25519Verify(wk.certificateKey, input, c.signature)).toBe(true);
    expect(ed25519Verify(wk.treeHeadKey, input, c.signature)).toBe(false);
    // Only for an authenticated device.
    expect((await http(relay.url, 'GET', '/v1/certificates/sender')).status).toBe(401);
  });

  it('an unauthenticated upload reaches every device of the recipient with no source; each device opens its own message', async () => {
    const alice = await person();
    const bob = await person([1, 2]);
    const [s1, s2] = [await socketOf(bob, 1), await socketOf(bob, 2)];
    const messages = [utf8('for bob 1'), utf8('for bob 2')];
    const reply = await postSealed({ to: bob.account.accountId, token: bob.token, upload: await upload(alice, recipientsOf(bob), messages) }, '127.0.0.6');
    expect(reply.status).toBe(200);
    const { serverTimestamp } = reply.body as { serverTimestamp: number };
    const trust = new Map([[1, (await RelayClient.wellKnown(relay.url)).certificateKey]]);
    for (const [i, s] of [s1, s2].entries()) {
      const frame = await s.next((f) => f.type === 'envelope');
      expect(frame.source).toBeNull();
      expect(frame.serverTimestamp).toBe(serverTimestamp);
      const opened = openSealedEnvelope(fromBase64Url(frame.content as string), { identityPrivate: bob.account.device(i + 1).dh.privateKey }, trust, serverTimestamp);
      expect(opened.message).toEqual(messages[i]);
      expect(opened.certificate.accountId).toEqual(alice.account.accountId);
      s.send({ type: 'ack', seqs: [frame.seq] });
    }
  });

  it('a wrong token, a rotated one, an account without one and an unknown account all get the same UNAUTHORIZED and store nothing', async () => {
    const alice = await person();
    const bob = await person();
    const s = await socketOf(bob, 1);
    const body = await upload(alice, recipientsOf(bob), [utf8('nope')]);
    const wrong = await postSealed({ to: bob.account.accountId, token: deliveryToken(newProfileKey({ rng: systemRng })), upload: body }, '127.0.0.7');
    // Bob blocks someone: his profile key rotates and the new token's hash replaces the old one.
    const rotated = newProfileKey({ rng: systemRng });
    await bob.client.putDeliveryTokenHash(sha256(deliveryToken(rotated)));
    const stale = await postSealed({ to: bob.account.accountId, token: bob.token, upload: body }, '127.0.0.7');
    const carol = new TestAccount();
    await registerAccount(relay.url, carol);
    const noToken = await postSealed({ to: carol.accountId, token: bob.token, upload: await upload(alice, [{ accountId: carol.accountId, deviceId: 1, identityKey: carol.devices[0]!.dh.publicKey }], [utf8('x')]) }, '127.0.0.7');
    const ghost = systemRng(16);
    const unknown = await postSealed({ to: ghost, token: bob.token, upload: await upload(alice, [{ accountId: ghost, deviceId: 1, identityKey: bob.account.devices[0]!.dh.publicKey }], [utf8('x')]) }, '127.0.0.7');
    for (const r of [wrong, stale, noToken, unknown]) {
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'delivery token not accepted' } });
    }
    // The rotated token works; nothing before it was stored (the first envelope Bob sees is this one).
    const ok = await postSealed({ to: bob.account.accountId, token: deliveryToken(rotated), upload: await upload(alice, recipientsOf(bob), [utf8('after rotation')]) }, '127.0.0.7');
    expect(ok.status).toBe(200);
    const frame = await s.next((f: Frame) => f.type === 'envelope');
    expect((frame.serverTimestamp as number) >= (ok.body as { serverTimestamp: number }).serverTimestamp).toBe(true);
    expect(await s.quiet((f) => f.type === 'envelope', 300)).toBe(true);
  });

  it('a partial fan-out is MISMATCHED_DEVICES; an upload naming another account\'s device is MALFORMED; nothing is stored', async () => {
    const alice = await person();
    const bob = await person([1, 2]);
    const partial = await postSealed({ to: bob.account.accountId, token: bob.token, upload: await upload(alice, recipientsOf(bob, [1]), [utf8('x')]) }, '127.0.0.8');
    expect(partial.status).toBe(409);
    expect(partial.body).toMatchObject({ error: { code: 'MISMATCHED_DEVICES', missing: [2], stale: [] } });
    const mixed = await postSealed({ to: bob.account.accountId, token: bob.token, upload: await upload(alice, [...recipientsOf(bob), ...recipientsOf(alice)], [utf8('x')]) }, '127.0.0.8');
    expect(codeOf(mixed)).toBe('MALFORMED');
    const garbage = await postSealed({ to: bob.account.accountId, token: bob.token, upload: systemRng(400) }, '127.0.0.8');
    expect(codeOf(garbage)).toBe('MALFORMED');
    const s = await socketOf(bob, 1);
    expect(await s.quiet((f) => f.type === 'envelope', 300)).toBe(true);
  });

  it('online-only (typing): reaches the sockets open now as an ephemeral frame, is never stored, and is lost for a device offline', async () => {
    const alice = await person();
    const bob = await person([1, 2]);
    const s1 = await socketOf(bob, 1);
    const r = await postSealed({ to: bob.account.accountId, token: bob.token, upload: await upload(alice, recipientsOf(bob), [utf8('typing…')]), online: true }, '127.0.0.9');
    expect(r.status).toBe(200);
    const frame = await s1.next((f) => f.type === 'ephemeral');
    expect(frame.seq).toBeUndefined();
    const trust = new Map([[1, (await RelayClient.wellKnown(relay.url)).certificateKey]]);
    expect(openSealedEnvelope(fromBase64Url(frame.content as string), { identityPrivate: bob.account.device(1).dh.privateKey }, trust, frame.serverTimestamp as number).message).toEqual(utf8('typing…'));
    // Device 2 was offline: when it connects its backlog is empty, and so is device 1's on a new socket.
    const s2 = await socketOf(bob, 2);
    expect(await s2.quiet((f) => f.type === 'envelope' || f.type === 'ephemeral', 300)).toBe(true);
    const again = await socketOf(bob, 1);
    expect(await again.quiet((f) => f.type === 'envelope', 300)).toBe(true);
  });

  it('rate limits: per recipient token across addresses, and per sending address across recipients — never per sender', async () => {
    const alice = await person();
    const bob = await person();
    const dave = await person();
    // The per-token budget (5) is spent from two addresses together.
    const codes: (string | undefined)[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await postSealed({ to: bob.account.accountId, token: bob.token, upload: await upload(alice, recipientsOf(bob), [utf8(`m${i}`)]) }, i % 2 ? '127.0.0.3' : '127.0.0.4');
      codes.push(codeOf(r));
    }
    expect(codes.slice(0, 5)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(codes[5]).toBe('RATE_LIMITED');
    // Another recipient is unaffected from a fresh address; one address's budget (6) covers all recipients.
    const fromFive: (string | undefined)[] = [];
    for (let i = 0; i < 7; i++) {
      const to = i % 2 ? dave : alice;
      const r = await postSealed({ to: to.account.accountId, token: to.token, upload: await upload(bob, recipientsOf(to), [utf8(`n${i}`)]) }, '127.0.0.5');
      fromFive.push(codeOf(r));
    }
    expect(fromFive.slice(0, 6).every((c) => c === undefined)).toBe(true);
    expect(fromFive[6]).toBe('RATE_LIMITED');
  });
});
