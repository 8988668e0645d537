/**
 * Scale-out (issue 20, ADR 0035): several relay processes of one relay on one PostgreSQL and one
 * Redis. A device may connect to any instance: messages committed on one instance reach the
 * recipient's socket on another (woken through Redis), acks on one delete what another delivered,
 * online-only (typing) envelopes and presence reach a contact connected elsewhere, the per-device
 * connection cap holds over all instances, and every instance shows the same identity.
 * Runs in the `services` project (scripts/with-services.sh).
 */
import { afterEach, expect, it } from 'vitest';
import { toHex } from '../../../shared/crypto/bytes.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { newProfileKey } from '../../../shared/protocol/profile.js';
import { deliveryToken, encodeSealedMultiRecipient, openSealedEnvelope, sealMessage } from '../../../shared/protocol/sealed-sender.js';
import { describeWithServices } from '../../support/redis.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { http } from './helpers/http.js';
import { Inbox, text } from './helpers/inbox.js';
import { TestSocket } from './helpers/socket.js';
import { CloseCode } from '../../../shared/wire/frames.js';
import { MAX_CONNECTIONS_PER_DEVICE } from '../../../shared/wire/limits.js';
import { request } from 'node:http';
import { attachmentLayout } from '../../../shared/protocol/attachment-cipher.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';

const clusters: Cluster[] = [];
const clients: RelayClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const c of clusters.splice(0)) await c.stop();
});

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeWithServices('several relay instances on one PostgreSQL and one Redis', (services) => {
  const cluster = async (instances: number): Promise<Cluster> => {
    const c = await startCluster({ postgresServerUrl: services.postgres, redisUrl: services.redis, instances });
    clusters.push(c);
    return c;
  };
  /** A registered account whose device 1 talks to instance `i`. */
  const person = async (c: Cluster, i: number) => {
    const account = new TestAccount();
    await registerAccount(c.url(i), account).then((m) => m.forEach((client) => client.close()));
    const client = account.client(c.url(i));
    clients.push(client);
    const inbox = new Inbox(client);
    return { account, client, inbox };
  };

  it('every instance is the same relay: one identity, one /.well-known', async () => {
    const c = await cluster(3);
    const known = await Promise.all([0, 1, 2].map(async (i) => (await http(c.url(i), 'GET', '/.well-known/parley')).body as Record<string, unknown>));
    expect(known[1]).toEqual(known[0]);
    expect(known[2]).toEqual(known[0]);
  });

  it('a message sent through one instance reaches the recipient live on another, and its ack there deletes it', async () => {
    const c = await cluster(2);
    const alice = await person(c, 0);
    const bob = await person(c, 1);
    await Promise.all([alice.client.connect(), bob.client.connect()]);
    await Promise.all([alice.inbox.backlogEnd(), bob.inbox.backlogEnd()]);

    for (let i = 0; i < 20; i++) await alice.client.send(bob.account.accountId, [{ deviceId: 1, content: text(`a→b ${i}`) }]);
    await bob.inbox.count(20);
    expect(bob.inbox.texts()).toEqual(Array.from({ length: 20 }, (_, i) => `a→b ${i}`));
    expect(bob.inbox.envelopes.every((e) => toHex(e.source!.accountId) === toHex(alice.account.accountId))).toBe(true);
    await bob.client.send(alice.account.accountId, [{ deviceId: 1, content: text('b→a') }]);
    await alice.inbox.count(1);
    expect(alice.inbox.texts()).toEqual(['b→a']);

    // Acked through instance 1; Bob reconnecting through instance 0 finds nothing left.
    await bob.client.ack(bob.inbox.envelopes.map((e) => e.seq));
    bob.client.close();
    const again = bob.account.client(c.url(0));
    clients.push(again);
    const inbox = new Inbox(again);
    await again.connect();
    await inbox.backlogEnd();
    expect(inbox.envelopes).toEqual([]);
  });

  it('a message stored while the recipient is offline is in the backlog on whichever instance it connects to', async () => {
    const c = await cluster(3);
    const alice = await person(c, 0);
    const bob = await person(c, 2);
    await alice.client.send(bob.account.accountId, [{ deviceId: 1, content: text('while away') }]);
    await bob.client.connect();
    await bob.inbox.backlogEnd();
    expect(bob.inbox.texts()).toEqual(['while away']);
    // Live afterwards, from the third instance.
    const carol = await person(c, 1);
    await carol.client.send(bob.account.accountId, [{ deviceId: 1, content: text('live') }]);
    await bob.inbox.count(2);
    expect(bob.inbox.texts()).toEqual(['while away', 'live']);
  });

  it('an online-only sealed envelope (typing) reaches the recipient connected to another instance, and is never stored', async () => {
    const c = await cluster(2);
    const alice = await person(c, 0);
    const bob = await person(c, 1);
    const token = deliveryToken(newProfileKey({ rng: systemRng }));
    await bob.client.putDeliveryTokenHash(sha256(token));
    const { certificate } = await alice.client.senderCertificate();
    const ephemeral: Uint8Array[] = [];
    bob.client.on('ephemeral', (e) => ephemeral.push(e.content));
    await bob.client.connect();
    await bob.inbox.backlogEnd();
    const sealed = sealMessage(
      { certificate, senderIdentityPrivate: alice.account.devices[0]!.dh.privateKey, recipients: [{ accountId: bob.account.accountId, deviceId: 1, identityKey: bob.account.devices[0]!.dh.publicKey }], messages: [text('typing…')] },
      { rng: systemRng },
    );
    // Bob's instance listens to his device's channel once his socket is in: sent again until heard.
    await until(async () => {
      await RelayClient.sealedSend(c.url(0), { to: bob.account.accountId, token, upload: encodeSealedMultiRecipient(sealed), online: true });
      await new Promise((r) => setTimeout(r, 100));
      return ephemeral.length > 0;
    }, 'the online-only envelope from the other instance');
    const trust = new Map([[1, (await RelayClient.wellKnown(c.url(1))).certificateKey]]);
    expect(openSealedEnvelope(ephemeral[0]!, { identityPrivate: bob.account.devices[0]!.dh.privateKey }, trust, Date.now()).message).toEqual(text('typing…'));
    bob.client.close();
    const again = bob.account.client(c.url(0));
    clients.push(again);
    const inbox = new Inbox(again);
    await again.connect();
    await inbox.backlogEnd();
    expect(inbox.envelopes).toEqual([]);
  });

  it('presence is the account\'s over all instances: online while any device is connected anywhere, offline after the last', async () => {
    const c = await cluster(3);
    const alice = await person(c, 0);
    const bob = await person(c, 1);
    await alice.client.setContacts([bob.account.accountId]);
    await bob.client.setContacts([alice.account.accountId]);
    const heard: string[] = [];
    bob.client.on('presence', (e) => heard.push(e.online ? 'online' : 'offline'));
    await bob.client.connect();
    expect((await bob.client.presence([alice.account.accountId]))[0]).toMatchObject({ online: false, shared: true });

    await alice.client.connect();
    await until(() => heard.includes('online'), 'Alice online, heard on another instance');
    expect((await bob.client.presence([alice.account.accountId]))[0]).toMatchObject({ online: true, shared: true });
    // A second socket of Alice's device on a third instance: closing the first is not "offline".
    const second = await TestSocket.authed(c.url(2), await alice.client.sessionToken());
    alice.client.close();
    // Ordering barrier: Bob's own query after the close was handled (answered from the directory).
    await until(async () => (await bob.client.presence([alice.account.accountId]))[0]!.online, 'still online through instance 2');
    expect(heard).toEqual(['online']);
    second.close();
    await until(() => heard.length === 2, 'Alice offline after her last socket anywhere');
    expect(heard).toEqual(['online', 'offline']);
    expect((await bob.client.presence([alice.account.accountId]))[0]).toMatchObject({ online: false, shared: true });
  });

  it(`a device holds at most ${MAX_CONNECTIONS_PER_DEVICE} connections over all instances; a closed one frees a slot anywhere`, async () => {
    const c = await cluster(3);
    const alice = await person(c, 0);
    const token = await alice.client.sessionToken();
    const sockets: TestSocket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS_PER_DEVICE; i++) sockets.push(await TestSocket.authed(c.url(i % 3), token));
    for (const i of [0, 1, 2]) {
      const extra = await TestSocket.open(c.url(i));
      extra.send({ type: 'auth', token });
      expect(await extra.next()).toMatchObject({ type: 'error', code: 'TOO_MANY_CONNECTIONS' });
      expect((await extra.closed).code).toBe(CloseCode.TooManyConnections);
    }
    sockets[0]!.close();
    await sockets[0]!.closed;
    // Counted down asynchronously after the close: retried until the slot is free.
    let again: TestSocket | undefined;
    await until(async () => {
      const s = await TestSocket.open(c.url(2));
      s.send({ type: 'auth', token });
      const frame = await s.next();
      if (frame.type === 'ready') again = s;
      else s.close();
      return again !== undefined;
    }, 'a free slot');
    again!.close();
    for (const s of sockets) s.close();
  });

  it('an instance killed outright: its connections stop counting, its accounts go offline for their contacts', async () => {
    const c = await cluster(2);
    const alice = await person(c, 0);
    const bob = await person(c, 1);
    await alice.client.setContacts([bob.account.accountId]);
    await bob.client.setContacts([alice.account.accountId]);
    const heard: string[] = [];
    bob.client.on('presence', (e) => heard.push(e.online ? 'online' : 'offline'));
    await bob.client.connect();
    const token = await alice.client.sessionToken();
    const sockets: TestSocket[] = [];
    for (let i = 0; i < MAX_CONNECTIONS_PER_DEVICE; i++) sockets.push(await TestSocket.authed(c.url(0), token));
    await until(() => heard.includes('online'), 'Alice online');
    await c.kill(0);
    await until(() => heard.length === 2, 'Alice offline once instance 0 is found dead');
    expect(heard).toEqual(['online', 'offline']);
    // Her five slots were on the dead instance: she connects again at once on the live one.
    const again = await TestSocket.authed(c.url(1), token);
    again.close();
  });

  it('attachments live on the shared directory: an upload begun on one instance continues on another and downloads from a third', async () => {
    const c = await cluster(3);
    const alice = await person(c, 0);
    const token = await alice.client.sessionToken();
    const bytes = pseudoRandomBytes('cluster-blob', attachmentLayout(300_000).ciphertextLength);
    const url = await tusCreate(c.url(0), token, bytes.length);
    const id = new URL(url).pathname;
    const half = 150_016;
    expect((await tusPatch(`${c.url(1)}${id}`, token, 0, bytes.subarray(0, half))).status).toBe(204);
    expect((await fetch(`${c.url(2)}${id}`, { method: 'HEAD', headers: { ...TUS, authorization: `Bearer ${token}` } })).headers.get('upload-offset')).toBe(String(half));
    expect((await tusPatch(`${c.url(2)}${id}`, token, half, bytes.subarray(half))).status).toBe(204);
    const down = await fetch(`${c.url(0)}${id}`);
    expect(down.status).toBe(200);
    expect(Buffer.from(await down.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
  });

  it('an upload held open on one instance is released when the client resumes through another, and the old request writes nothing more (the lock and its release are shared)', async () => {
    const c = await cluster(2);
    const alice = await person(c, 0);
    const token = await alice.client.sessionToken();
    const bytes = pseudoRandomBytes('stalled-blob', attachmentLayout(200_000).ciphertextLength);
    const url = await tusCreate(c.url(0), token, bytes.length);
    const id = new URL(url).pathname;
    // A PATCH whose client went silent after a first piece: instance 0 holds the upload's lock.
    const stalled = request(`${c.url(0)}${id}`, {
      method: 'PATCH',
      headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream', 'content-length': String(bytes.length) },
    });
    const stalledDone = new Promise<number>((resolve) => {
      stalled.on('response', (r) => resolve(r.statusCode ?? 0));
      stalled.on('error', () => resolve(-1));
    });
    stalled.write(bytes.subarray(0, 65_536));
    await until(async () => {
      const h = await fetch(`${c.url(1)}${id}`, { method: 'HEAD', headers: { ...TUS, authorization: `Bearer ${token}` } });
      return h.status === 200 && Number(h.headers.get('upload-offset')) > 0;
    }, 'the resumed HEAD on instance 1 to see the bytes instance 0 wrote');
    const head = await fetch(`${c.url(1)}${id}`, { method: 'HEAD', headers: { ...TUS, authorization: `Bearer ${token}` } });
    const offset = Number(head.headers.get('upload-offset'));
    expect((await tusPatch(`${c.url(1)}${id}`, token, offset, bytes.subarray(offset))).status).toBe(204);
    // The old request comes back to life with other bytes: released, it must not write them.
    stalled.on('error', () => undefined);
    stalled.write(new Uint8Array(bytes.length - 65_536).fill(0xee));
    stalled.end();
    await stalledDone;
    const down = await fetch(`${c.url(1)}${id}`);
    expect(Buffer.from(await down.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
  }, 60_000);
});

const TUS = { 'tus-resumable': '1.0.0' };

async function tusCreate(base: string, token: string, length: number): Promise<string> {
  const r = await fetch(`${base}/v1/attachments`, { method: 'POST', headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-length': String(length) } });
  expect(r.status).toBe(201);
  return new URL(r.headers.get('location')!, base).href;
}

function tusPatch(url: string, token: string, offset: number, bytes: Uint8Array): Promise<Response> {
  return fetch(url, {
    method: 'PATCH',
    headers: { ...TUS, authorization: `Bearer ${token}`, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    body: bytes,
  });
}
