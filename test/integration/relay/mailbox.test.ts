/**
 * Mailboxes (DESIGN §5, issue 3) against the real relay: durable per-device mailboxes with seqs,
 * backlog then `backlog-end`, live delivery, delete-after-ack, 30-day expiry; a send must name
 * exactly the recipient's current devices (MISMATCHED_DEVICES lists missing and stale ids), is
 * answered only after commit, and gets the same answer whether the recipient is online or not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '../../../shared/crypto/bytes.js';
import { ManualClock } from '../../../shared/testing/deterministic-rng.js';
import { ErrorBodySchema, ErrorFrameSchema } from '../../../shared/wire/errors.js';
import { MAILBOX_RETENTION_MS, MAX_ENVELOPE_CONTENT } from '../../../shared/wire/limits.js';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { failure, Inbox, text } from './helpers/inbox.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';
import { TestSocket } from './helpers/socket.js';

let relay: TestRelay;
const open: RelayClient[] = [];
beforeAll(async () => {
  relay = await startTestRelay();
});
afterAll(async () => {
  for (const c of open) c.close();
  await relay.stop();
});

async function pair(bobDevices: number[] = [1]) {
  const alice = new TestAccount();
  const bob = new TestAccount(undefined, bobDevices);
  const a = await registerAccount(relay.url, alice);
  const b = await registerAccount(relay.url, bob);
  for (const c of [...a.values(), ...b.values()]) open.push(c);
  return { alice, bob, a: a.get(1)!, b };
}

describe('offline delivery and ack', () => {
  it('envelopes sent while the recipient is offline arrive on connect, in order, then backlog-end', async () => {
    const { alice, bob, a, b } = await pair();
    const before = Date.now();
    for (let i = 0; i < 5; i++) await a.send(bob.accountId, [{ deviceId: 1, content: text(`m${i}`) }]);
    const client = b.get(1)!;
    const inbox = new Inbox(client);
    await client.connect();
    await inbox.backlogEnd();
    expect(inbox.texts()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    const seqs = inbox.envelopes.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(5);
    for (const e of inbox.envelopes) {
      expect(e.source).toEqual({ accountId: alice.accountId, deviceId: 1 });
      expect(e.serverTimestamp).toBeGreaterThanOrEqual(before);
    }
  });

  it('acked envelopes are deleted; unacked ones come again on the next connection', async () => {
    const { bob, a, b } = await pair();
    for (let i = 0; i < 4; i++) await a.send(bob.accountId, [{ deviceId: 1, content: text(`m${i}`) }]);
    const client = b.get(1)!;
    let inbox = new Inbox(client);
    await client.connect();
    await inbox.backlogEnd();
    const [e0, e1, e2] = inbox.envelopes;
    await client.ack([e0!.seq, e2!.seq]);
    client.close();
    inbox = new Inbox(client);
    await client.connect();
    await inbox.backlogEnd();
    expect(inbox.texts()).toEqual(['m1', 'm3']);
    expect(inbox.envelopes[0]!.seq).toBe(e1!.seq);
    await client.ack(inbox.envelopes.map((e) => e.seq));
    client.close();
    inbox = new Inbox(client);
    await client.connect();
    await inbox.backlogEnd();
    expect(inbox.envelopes).toEqual([]);
  });

  it('an ack deletes only from the acking device: the same seq of another device survives', async () => {
    const { bob, a, b } = await pair([1, 2]);
    await a.send(bob.accountId, [
      { deviceId: 1, content: text('for one') },
      { deviceId: 2, content: text('for two') },
    ]);
    const one = b.get(1)!;
    const inbox1 = new Inbox(one);
    await one.connect();
    await inbox1.count(1);
    await one.ack([inbox1.envelopes[0]!.seq]);
    const two = b.get(2)!;
    const inbox2 = new Inbox(two);
    await two.connect();
    await inbox2.backlogEnd();
    expect(inbox2.texts()).toEqual(['for two']);
    expect(inbox2.envelopes[0]!.seq).toBe(inbox1.envelopes[0]!.seq);
  });

  it('live envelopes follow the backlog on an open connection, each device with its own ciphertext', async () => {
    const { bob, a, b } = await pair([1, 2]);
    const inboxes = [1, 2].map((id) => new Inbox(b.get(id)!));
    await Promise.all([b.get(1)!.connect(), b.get(2)!.connect()]);
    await Promise.all(inboxes.map((i) => i.backlogEnd()));
    await a.send(bob.accountId, [
      { deviceId: 2, content: text('two') },
      { deviceId: 1, content: text('one') },
    ]);
    await Promise.all(inboxes.map((i) => i.count(1)));
    expect(inboxes[0]!.texts()).toEqual(['one']);
    expect(inboxes[1]!.texts()).toEqual(['two']);
  });

  it('envelopes older than 30 days are expired, younger ones kept', async () => {
    const clock = new ManualClock(Date.now());
    const timed = await startTestRelay({ clock: clock.now });
    try {
      const alice = new TestAccount();
      const bob = new TestAccount();
      const a = (await registerAccount(timed.url, alice)).get(1)!;
      a.close();
      const b = (await registerAccount(timed.url, bob)).get(1)!;
      const ac = alice.client(timed.url, 1, { clock: clock.now });
      const bc = bob.client(timed.url, 1, { clock: clock.now });
      await ac.send(bob.accountId, [{ deviceId: 1, content: text('old') }]);
      clock.advance(2 * 24 * 3600_000);
      await ac.send(bob.accountId, [{ deviceId: 1, content: text('young') }]);
      clock.advance(MAILBOX_RETENTION_MS - 2 * 24 * 3600_000 + 1);
      const swept = await timed.sweep();
      expect(swept.envelopes).toBe(1);
      const inbox = new Inbox(bc);
      await bc.connect();
      await inbox.backlogEnd();
      expect(inbox.texts()).toEqual(['young']);
      bc.close();
      b.close();
    } finally {
      await timed.stop();
    }
  });
});

describe('sends', () => {
  it('a send naming a device that is not current, or missing one, fails with MISMATCHED_DEVICES listing them', async () => {
    const { bob, a } = await pair([1, 2, 4]);
    const c = text('x');
    await expect(a.send(bob.accountId, [{ deviceId: 1, content: c }])).rejects.toMatchObject({
      code: 'MISMATCHED_DEVICES',
      details: { missing: [2, 4], stale: [] },
    });
    await expect(
      a.send(bob.accountId, [1, 2, 3, 4, 5].map((deviceId) => ({ deviceId, content: c }))),
    ).rejects.toMatchObject({ code: 'MISMATCHED_DEVICES', details: { missing: [], stale: [3, 5] } });
    await expect(
      a.send(bob.accountId, [1, 3].map((deviceId) => ({ deviceId, content: c }))),
    ).rejects.toMatchObject({ code: 'MISMATCHED_DEVICES', details: { missing: [2, 4], stale: [3] } });
    // Over REST the same error is a 409 with the same details.
    const token = await a.sessionToken();
    const r = await http(relay.url, 'POST', '/v1/messages', {
      token,
      body: { to: toBase64Url(bob.accountId), messages: [{ deviceId: 9, content: toBase64Url(c) }] },
    });
    expect(r.status).toBe(409);
    expect(ErrorBodySchema.parse(r.body).error).toMatchObject({ code: 'MISMATCHED_DEVICES', missing: [1, 2, 4], stale: [9] });
  });

  it('a mismatched send stores nothing', async () => {
    const { bob, a, b } = await pair([1, 2]);
    await expect(a.send(bob.accountId, [{ deviceId: 1, content: text('partial') }])).rejects.toMatchObject({ code: 'MISMATCHED_DEVICES' });
    const client = b.get(1)!;
    const inbox = new Inbox(client);
    await client.connect();
    await inbox.backlogEnd();
    expect(inbox.envelopes).toEqual([]);
  });

  it('sending to your own account addresses your other devices and never the sending device', async () => {
    const me = new TestAccount(undefined, [1, 2, 3]);
    const clients = await registerAccount(relay.url, me);
    for (const c of clients.values()) open.push(c);
    const one = clients.get(1)!;
    await expect(one.send(me.accountId, [1, 2, 3].map((deviceId) => ({ deviceId, content: text('x') })))).rejects.toMatchObject({
      code: 'MISMATCHED_DEVICES',
      details: { missing: [], stale: [1] },
    });
    await expect(one.send(me.accountId, [{ deviceId: 2, content: text('x') }])).rejects.toMatchObject({
      details: { missing: [3], stale: [] },
    });
    await one.send(me.accountId, [2, 3].map((deviceId) => ({ deviceId, content: text(`sync ${deviceId}`) })));
    const inbox3 = new Inbox(clients.get(3)!);
    await clients.get(3)!.connect();
    await inbox3.count(1);
    expect(inbox3.texts()).toEqual(['sync 3']);
    expect(inbox3.envelopes[0]!.source).toEqual({ accountId: me.accountId, deviceId: 1 });
  });

  it('a send to an unknown account is NOT_FOUND', async () => {
    const { a } = await pair();
    await expect(a.send(new TestAccount().accountId, [{ deviceId: 1, content: text('x') }])).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('the answer to a send is the same whether the recipient is online or not', async () => {
    const { bob, a, b } = await pair();
    const token = await a.sessionToken();
    const body = { to: toBase64Url(bob.accountId), messages: [{ deviceId: 1, content: toBase64Url(text('hi')) }] };
    const offline = await http(relay.url, 'POST', '/v1/messages', { token, body });
    const client = b.get(1)!;
    const inbox = new Inbox(client);
    await client.connect();
    await inbox.backlogEnd();
    const online = await http(relay.url, 'POST', '/v1/messages', { token, body });
    expect(offline.status).toBe(200);
    expect(online.status).toBe(200);
    const shape = (r: typeof online) => ({ keys: Object.keys(r.body as object).sort(), type: typeof (r.body as { serverTimestamp: unknown }).serverTimestamp });
    expect(shape(online)).toEqual(shape(offline));
    expect(shape(online)).toEqual({ keys: ['serverTimestamp'], type: 'number' });
    // Over the live channel too: `sent` carries only the request id and the timestamp.
    const sock = await TestSocket.authed(relay.url, token);
    sock.send({ type: 'send', id: 's1', ...body });
    const sent = await sock.next((f) => f.ref === 's1');
    expect(Object.keys(sent).sort()).toEqual(['ref', 'serverTimestamp', 'type']);
    sock.close();
  });

  it(`content of exactly ${MAX_ENVELOPE_CONTENT} bytes is accepted; one byte more or an empty one is MALFORMED`, async () => {
    const { bob, a, b } = await pair();
    const token = await a.sessionToken();
    const sock = await TestSocket.authed(relay.url, token);
    const send = (id: string, bytes: number) =>
      sock.send({ type: 'send', id, to: toBase64Url(bob.accountId), messages: [{ deviceId: 1, content: toBase64Url(new Uint8Array(bytes).fill(7)) }] });
    send('max', MAX_ENVELOPE_CONTENT);
    expect((await sock.next((f) => f.ref === 'max')).type).toBe('sent');
    send('over', MAX_ENVELOPE_CONTENT + 1);
    expect(ErrorFrameSchema.parse(await sock.next((f) => f.ref === 'over')).code).toBe('MALFORMED');
    send('empty', 0);
    expect(ErrorFrameSchema.parse(await sock.next((f) => f.ref === 'empty')).code).toBe('MALFORMED');
    sock.close();
    const client = b.get(1)!;
    const inbox = new Inbox(client);
    await client.connect();
    await inbox.backlogEnd();
    expect(inbox.envelopes.map((e) => e.content.length)).toEqual([MAX_ENVELOPE_CONTENT]);
  });

  it('sends are rate-limited per device, counting each envelope of a fan-out', async () => {
    const strict = await startTestRelay({ limits: { envelopesPerDevice: { points: 3, duration: 300 } } });
    try {
      const alice = new TestAccount();
      const bob = new TestAccount(undefined, [1, 2]);
      const a = (await registerAccount(strict.url, alice)).get(1)!;
      await registerAccount(strict.url, bob);
      const both = [1, 2].map((deviceId) => ({ deviceId, content: text('x') }));
      await a.send(bob.accountId, both);
      await expect(a.send(bob.accountId, both)).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      const e = await failure(a.send(bob.accountId, both));
      expect(e.details.retryAfterMs).toBeGreaterThan(1000);
    } finally {
      await strict.stop();
    }
  });
});
