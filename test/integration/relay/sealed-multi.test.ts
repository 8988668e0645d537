/**
 * Multi-account sealed sends at the real relay (issue 16, ADR 0032, docs/protocol.md §21.8): a group
 * send is ONE unauthenticated upload to every device of several accounts. The relay commits one
 * mailbox entry per device in one transaction and answers after it — every device then holds its
 * envelope, each opens only its own; a stale device list of any account (MISMATCHED_DEVICES naming
 * that account), a refused token (UNAUTHORIZED naming that account), a bad layout (MALFORMED) or a
 * spent budget stores nothing for anyone; online-only sends reach open sockets only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, utf8 } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { newProfileKey } from '../../../shared/protocol/profile.js';
import { deliveryToken, encodeSealedMultiRecipient, openSealedEnvelope, sealMessage, type SealedRecipient } from '../../../shared/protocol/sealed-sender.js';
import { MAX_SEALED_ACCOUNTS_PER_UPLOAD } from '../../../shared/wire/sealed.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { RelayClientError } from '../../../electron/engine/relay/errors.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';
import { TestSocket } from './helpers/socket.js';

let relay: TestRelay;
const clients: RelayClient[] = [];
const sockets: TestSocket[] = [];
beforeAll(async () => {
  relay = await startTestRelay({ limits: { sealedMultiRecipientsPerIp: { points: 8, duration: 3600 } } });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const c of clients) c.close();
  await relay.stop();
});

type Person = { account: TestAccount; client: RelayClient; token: Uint8Array };

async function person(devices: readonly number[] = [1]): Promise<Person> {
  const account = new TestAccount(undefined, devices);
  const all = await registerAccount(relay.url, account);
  clients.push(...all.values());
  const client = all.get(devices[0]!)!;
  const token = deliveryToken(newProfileKey({ rng: systemRng }));
  await client.putDeliveryTokenHash(sha256(token));
  return { account, client, token };
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

async function upload(from: Person, recipients: SealedRecipient[], message: Uint8Array): Promise<Uint8Array> {
  const { certificate } = await from.client.senderCertificate();
  return encodeSealedMultiRecipient(sealMessage({ certificate, senderIdentityPrivate: from.account.devices[0]!.dh.privateKey, recipients, messages: [message] }, { rng: systemRng }));
}

/** POST /v1/sealed/multi with no Authorization header, from `localAddress`. */
function postMulti(body: { recipients: { to: Uint8Array; token: Uint8Array }[]; upload: Uint8Array; online?: boolean }, localAddress: string) {
  return http(relay.url, 'POST', '/v1/sealed/multi', {
    body: {
      recipients: body.recipients.map((r) => ({ to: toBase64Url(r.to), token: toBase64Url(r.token) })),
      upload: toBase64Url(body.upload),
      ...(body.online && { online: true }),
    },
    localAddress,
  });
}
const tokensOf = (...people: Person[]) => people.map((p) => ({ to: p.account.accountId, token: p.token }));
const codeOf = (r: { body: unknown }) => (r.body as { error?: { code: string } } | undefined)?.error?.code;

/** Every device's socket sees no envelope for a while (nothing was stored for it). */
async function nothingFor(...people: Person[]): Promise<void> {
  for (const p of people) {
    for (const d of p.account.devices) {
      const s = await socketOf(p, d.deviceId);
      expect(await s.quiet((f) => f.type === 'envelope', 200)).toBe(true);
    }
  }
}

describe('multi-account sealed sends (group sends) at the relay', () => {
  it('announces its limits: at least 1,000 accounts and all their devices per upload', async () => {
    const wk = await RelayClient.wellKnown(relay.url);
    expect(wk.sealed?.maxAccounts).toBe(MAX_SEALED_ACCOUNTS_PER_UPLOAD);
    expect(wk.sealed!.maxAccounts!).toBeGreaterThanOrEqual(1_000);
    expect(wk.sealed?.maxMultiRecipients).toBe(6_000);
    expect(wk.sealed!.maxMultiUploadBytes!).toBeGreaterThan(6_000 * 68);
  });

  it('one unauthenticated upload reaches every device of every account, committed before the answer; each device opens it', async () => {
    const alice = await person([1, 2]);
    const bob = await person([1, 2]);
    const carol = await person();
    // Bob's device 2 and Carol are offline when the answer comes: their envelopes must be stored by then.
    // The sender's own account is named whole, the sending device too (§21.9: it drops its own).
    const online = await socketOf(bob, 1);
    const message = utf8('hello group');
    const recipients = [...recipientsOf(bob), ...recipientsOf(carol), ...recipientsOf(alice)];
    const reply = await postMulti({ recipients: tokensOf(bob, carol, alice), upload: await upload(alice, recipients, message) }, '127.0.0.21');
    expect(reply.status).toBe(200);
    const { serverTimestamp } = reply.body as { serverTimestamp: number };
    const trust = new Map([[1, (await RelayClient.wellKnown(relay.url)).certificateKey]]);
    const open = (frame: Record<string, unknown>, p: Person, deviceId: number) =>
      openSealedEnvelope(fromBase64Url(frame.content as string), { identityPrivate: p.account.device(deviceId).dh.privateKey }, trust, serverTimestamp);
    const live = await online.next((f) => f.type === 'envelope');
    expect(live.source).toBeNull();
    expect(open(live, bob, 1).message).toEqual(message);
    for (const [p, deviceId] of [[bob, 2], [carol, 1], [alice, 1], [alice, 2]] as const) {
      const s = await socketOf(p, deviceId);
      const frame = await s.next((f) => f.type === 'envelope');
      expect(frame.source).toBeNull();
      expect(frame.serverTimestamp).toBe(serverTimestamp);
      const opened = open(frame, p, deviceId);
      expect(opened.message).toEqual(message);
      expect(opened.certificate.accountId).toEqual(alice.account.accountId);
      // A device cannot open another device's envelope.
      expect(() => open(frame, bob, 1)).toThrow();
    }
  });

  it('a stale device list of one account is MISMATCHED_DEVICES naming that account with its ids; nobody gets anything', async () => {
    const alice = await person();
    const bob = await person([1, 2]);
    const carol = await person();
    const dave = await person([1, 3]);
    const recipients = [...recipientsOf(bob, [1]), ...recipientsOf(carol), ...recipientsOf(dave, [1]), { ...recipientsOf(dave, [3])[0]!, deviceId: 4 }];
    const r = await postMulti({ recipients: tokensOf(bob, carol, dave), upload: await upload(alice, recipients, utf8('x')) }, '127.0.0.22');
    expect(r.status).toBe(409);
    expect(r.body).toEqual({
      error: {
        code: 'MISMATCHED_DEVICES',
        message: expect.any(String),
        accounts: [
          { accountId: toBase64Url(bob.account.accountId), missing: [2], stale: [] },
          { accountId: toBase64Url(dave.account.accountId), missing: [3], stale: [4] },
        ],
      },
    });
    // The engine's relay client hands the same accounts over, typed.
    const again = await RelayClient.sealedMultiSend(relay.url, { recipients: tokensOf(bob, carol, dave), upload: await upload(alice, recipients, utf8('y')) }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(RelayClientError);
    expect((again as RelayClientError).code).toBe('MISMATCHED_DEVICES');
    expect((again as RelayClientError).details.accounts?.map((a) => a.accountId)).toEqual([bob, dave].map((p) => toBase64Url(p.account.accountId)));
    await nothingFor(bob, carol, dave);
  });

  it('a refused token is UNAUTHORIZED naming exactly the accounts refused; nobody gets anything', async () => {
    const alice = await person();
    const bob = await person();
    const carol = await person();
    const dave = await person();
    const body = await upload(alice, [...recipientsOf(bob), ...recipientsOf(carol), ...recipientsOf(dave)], utf8('x'));
    const wrong = deliveryToken(newProfileKey({ rng: systemRng }));
    const r = await postMulti({ recipients: [...tokensOf(bob), { to: carol.account.accountId, token: wrong }, ...tokensOf(dave)], upload: body }, '127.0.0.23');
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: { code: 'UNAUTHORIZED', message: 'delivery token not accepted', accounts: [{ accountId: toBase64Url(carol.account.accountId) }] } });
    await nothingFor(bob, carol, dave);
  });

  it('a bad layout is MALFORMED and stores nothing: an unlisted account, an account listed twice or without a device, a device named twice', async () => {
    const alice = await person();
    const bob = await person();
    const carol = await person();
    const both = [...recipientsOf(bob), ...recipientsOf(carol)];
    const cases = [
      { recipients: tokensOf(bob), upload: await upload(alice, both, utf8('x')) },
      { recipients: tokensOf(bob, carol, bob), upload: await upload(alice, both, utf8('x')) },
      { recipients: tokensOf(bob, carol, alice), upload: await upload(alice, both, utf8('x')) },
      { recipients: tokensOf(bob, carol), upload: await upload(alice, [...both, ...recipientsOf(bob)], utf8('x')) },
      { recipients: tokensOf(bob, carol), upload: systemRng(600) },
    ];
    for (const c of cases) {
      const r = await postMulti(c, '127.0.0.24');
      expect(r.status).toBe(400);
      expect(codeOf(r)).toBe('MALFORMED');
    }
    // More accounts than an upload may name: refused by the schema before anything is read.
    const many = Array.from({ length: MAX_SEALED_ACCOUNTS_PER_UPLOAD + 1 }, () => ({ to: systemRng(16), token: systemRng(16) }));
    expect(codeOf(await postMulti({ recipients: many, upload: await upload(alice, both, utf8('x')) }, '127.0.0.24'))).toBe('MALFORMED');
    await nothingFor(bob, carol);
  });

  it('online-only (group typing): reaches the sockets open now and stores nothing', async () => {
    const alice = await person();
    const bob = await person();
    const carol = await person();
    const s = await socketOf(bob, 1);
    const r = await postMulti({ recipients: tokensOf(bob, carol), upload: await upload(alice, [...recipientsOf(bob), ...recipientsOf(carol)], utf8('typing')), online: true }, '127.0.0.25');
    expect(r.status).toBe(200);
    const frame = await s.next((f) => f.type === 'ephemeral');
    expect(frame.seq).toBeUndefined();
    await nothingFor(carol);
  });

  it('an address pays one point per recipient device: past its budget the upload is RATE_LIMITED and stores nothing', async () => {
    const alice = await person();
    const people = [await person([1, 2]), await person([1, 2]), await person([1, 2])];
    const recipients = people.flatMap((p) => recipientsOf(p));
    // 6 devices of the budget's 8 pass; the next 6 do not.
    const first = await postMulti({ recipients: tokensOf(...people), upload: await upload(alice, recipients, utf8('one')) }, '127.0.0.26');
    expect(first.status).toBe(200);
    const second = await postMulti({ recipients: tokensOf(...people), upload: await upload(alice, recipients, utf8('two')) }, '127.0.0.26');
    expect(codeOf(second)).toBe('RATE_LIMITED');
    // Each device holds exactly the first send.
    const trust = new Map([[1, (await RelayClient.wellKnown(relay.url)).certificateKey]]);
    for (const p of people) {
      for (const d of p.account.devices) {
        const s = await socketOf(p, d.deviceId);
        const frame = await s.next((f) => f.type === 'envelope');
        expect(openSealedEnvelope(fromBase64Url(frame.content as string), { identityPrivate: d.dh.privateKey }, trust, frame.serverTimestamp as number).message).toEqual(utf8('one'));
        expect(await s.quiet((f) => f.type === 'envelope', 200)).toBe(true);
      }
    }
  });
});
