/**
 * Presence scoping (issue 3): presence flows from A to B only when A and B list each other as
 * contacts, and only while A's presenceVisible is on. Strangers and one-sided contacts learn
 * nothing — a presence probe of them reads exactly like a hidden contact (`shared: false`, whether
 * connected or not), and no presence event ever reaches them. The relay's own `typing` frame is
 * retired (issue 15: typing is sealed E2E content, online-only): a client sending one is refused
 * like any unknown frame. Issue 12: hiding reads as "not shared", never as going offline; becoming
 * mutual contacts while both are online tells each the other's state at once; ceasing to be mutual
 * tells the other side that presence is no longer shared.
 *
 * "Nothing arrived" is checked with an ordering barrier, not a sleep: a witness, mutual with the
 * observer, connects after the thing that must not reach the observer was triggered, and its
 * "online" presence event is the sentinel; once it has arrived, the relay has handled everything
 * triggered before it (its store answers in order, and the bus and each socket deliver in order).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url, toHex } from '../../../shared/crypto/bytes.js';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
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

type Person = { account: TestAccount; client: RelayClient; presence: string[] };

async function person(): Promise<Person> {
  const account = new TestAccount();
  const client = (await registerAccount(relay.url, account)).get(1)!;
  open.push(client);
  const p: Person = { account, client, presence: [] };
  client.on('presence', (e) => p.presence.push(`${toHex(e.accountId)}:${!e.shared ? 'not shared' : e.online ? 'online' : 'offline'}`));
  return p;
}

const id = (p: Person): string => toHex(p.account.accountId);
async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let barriers = 0;
/**
 * Waits until everything triggered so far has reached each observer: a fresh witness account
 * becomes mutual with every observer and then connects; its "online" presence event must arrive at
 * each, and the witness's events are then removed from the observers' logs so assertions see only
 * the test's own events.
 */
async function barrier(...observers: Person[]): Promise<void> {
  const witness = await person();
  const tag = `${id(witness)}:online`;
  await witness.client.setContacts(observers.map((o) => o.account.accountId));
  const saved = await Promise.all(observers.map((o) => o.client.getContacts()));
  await Promise.all(observers.map((o, i) => o.client.setContacts([...saved[i]!.contacts, witness.account.accountId])));
  await witness.client.connect();
  await until(() => observers.every((o) => o.presence.includes(tag)), `barrier ${++barriers}`);
  for (const o of observers) {
    // The witness's own presence events (it became mutual and came online) are not the test's.
    for (let i = o.presence.length - 1; i >= 0; i--) if (o.presence[i]!.startsWith(id(witness))) o.presence.splice(i, 1);
  }
  // No longer mutual with anyone, the witness leaves without telling the observers anything.
  await Promise.all(observers.map((o, i) => o.client.setContacts(saved[i]!.contacts)));
  witness.client.close();
}

/** Alice ⇄ Bob mutual; Carol lists Alice (one-sided); Dave is a stranger to everyone. */
async function world() {
  const [alice, bob, carol, dave] = await Promise.all([person(), person(), person(), person()]);
  await alice!.client.setContacts([bob!.account.accountId]);
  await bob!.client.setContacts([alice!.account.accountId, carol!.account.accountId]);
  await carol!.client.setContacts([alice!.account.accountId]);
  return { alice: alice!, bob: bob!, carol: carol!, dave: dave! };
}

describe('the retired typing frame', () => {
  it('is refused like any unknown frame type, and reaches nobody', async () => {
    const { alice, bob } = await world();
    await bob.client.connect();
    const sock = await TestSocket.authed(relay.url, await alice.client.sessionToken());
    sock.send({ type: 'typing', to: Buffer.from(bob.account.accountId).toString('base64url'), state: 'started' });
    const reply = await sock.next((f) => f.type !== 'backlog-end');
    expect(reply).toMatchObject({ type: 'error', code: 'UNSUPPORTED_FRAME' });
    sock.send({ type: 'ping', id: 'after' });
    expect(await sock.next((f) => f.type !== 'backlog-end')).toMatchObject({ type: 'pong', ref: 'after' });
    sock.close();
    await barrier(bob);
    expect(bob.presence.filter((p) => !p.startsWith(id(alice)))).toEqual([]);
  });
});

describe('presence', () => {
  it('a snapshot shares only visible mutual contacts; a probed stranger reads like a hidden contact, connected or not', async () => {
    const { alice, bob, carol, dave } = await world();
    const erin = await person(); // mutual with Bob, visible, offline
    const frank = await person(); // mutual with Bob, hidden, online
    await erin.client.setContacts([bob.account.accountId]);
    await frank.client.setContacts([bob.account.accountId]);
    await frank.client.setPresenceVisible(false);
    await bob.client.setContacts([alice.account.accountId, carol.account.accountId, erin.account.accountId, frank.account.accountId]);
    await Promise.all([alice, carol, dave, frank, bob].map((p) => p.client.connect()));
    const entries = await bob.client.presence([alice, carol, dave, erin, frank].map((p) => p.account.accountId));
    expect(entries.map((e) => ({ online: e.online, shared: e.shared }))).toEqual([
      { online: true, shared: true },
      { online: false, shared: false },
      { online: false, shared: false },
      { online: false, shared: true },
      { online: false, shared: false },
    ]);
    // Carol and Dave are online, yet their entries are byte-for-byte those of hidden Frank (modulo id).
    const [, c, d, , f] = entries;
    expect({ ...c, accountId: null }).toEqual({ ...f, accountId: null });
    expect({ ...d, accountId: null }).toEqual({ ...f, accountId: null });
    // On the wire too (REST): exactly online false, shared false.
    const rest = await http(relay.url, 'POST', '/v1/presence/query', {
      token: await bob.client.sessionToken(),
      body: { accounts: [carol, erin].map((p) => toBase64Url(p.account.accountId)) },
    });
    const body = rest.body as { entries: { online: boolean; shared: boolean }[] };
    expect(body.entries.map(({ online, shared }) => ({ online, shared }))).toEqual([
      { online: false, shared: false },
      { online: false, shared: true },
    ]);
    // Dave, a stranger, probing Bob and Alice learns nothing either (REST path, channel closed).
    dave.client.close();
    expect((await dave.client.presence([alice.account.accountId, bob.account.accountId])).map((x) => [x.online, x.shared])).toEqual([
      [false, false],
      [false, false],
    ]);
  });

  it('online and offline events reach mutual contacts only', async () => {
    const { alice, bob, carol, dave } = await world();
    await Promise.all([bob, carol, dave].map((p) => p.client.connect()));
    await alice.client.connect();
    await until(() => bob.presence.length === 1, 'online event');
    alice.client.close();
    await until(() => bob.presence.length === 2, 'offline event');
    await barrier(bob, carol, dave);
    expect(bob.presence).toEqual([`${id(alice)}:online`, `${id(alice)}:offline`]);
    expect(carol.presence).toEqual([]);
    expect(dave.presence).toEqual([]);
    // Carol (one-sided towards Alice, listed by Bob but not listing Bob) coming online tells Bob nothing.
    expect(bob.presence.some((p) => p.startsWith(id(carol)))).toBe(false);
  });

  it('hiding presence reads as not shared (never as going offline), and stays so across reconnects', async () => {
    const { alice, bob } = await world();
    await bob.client.connect();
    await alice.client.connect();
    await until(() => bob.presence.length === 1, 'online event');
    await alice.client.setPresenceVisible(false);
    await until(() => bob.presence.length === 2, 'hidden event');
    expect(bob.presence).toEqual([`${id(alice)}:online`, `${id(alice)}:not shared`]);
    expect((await bob.client.presence([alice.account.accountId]))[0]).toMatchObject({ online: false, shared: false });
    expect((await alice.client.getContacts()).presenceVisible).toBe(false);
    alice.client.close();
    await alice.client.connect();
    await barrier(bob);
    expect(bob.presence).toHaveLength(2);
    await alice.client.setPresenceVisible(true);
    await until(() => bob.presence.length === 3, 'visible again');
    expect(bob.presence.at(-1)).toBe(`${id(alice)}:online`);
    expect((await bob.client.presence([alice.account.accountId]))[0]).toMatchObject({ online: true, shared: true });
  });

  it('becoming mutual while both are online: each hears the other at once, nobody else hears anything', async () => {
    const [alice, bob, carol] = await Promise.all([person(), person(), person()]);
    await alice.client.setContacts([bob.account.accountId, carol.account.accountId]);
    await carol.client.setContacts([alice.account.accountId]);
    for (const p of [alice, bob, carol]) await p.client.connect();
    await until(() => alice.presence.length === 1, "Carol's online event at Alice");
    expect(alice.presence).toEqual([`${id(carol)}:online`]);
    // Bob adds Alice back: no reconnect needed for either to see the other online.
    await bob.client.setContacts([alice.account.accountId]);
    await until(() => alice.presence.length === 2 && bob.presence.length === 1, 'presence on becoming mutual');
    expect(alice.presence.at(-1)).toBe(`${id(bob)}:online`);
    expect(bob.presence).toEqual([`${id(alice)}:online`]);
    await barrier(carol);
    expect(carol.presence).toEqual([]);
    // Saving the same list again changes nothing.
    await bob.client.setContacts([alice.account.accountId]);
    await barrier(alice, bob);
    expect(alice.presence).toHaveLength(2);
    expect(bob.presence).toHaveLength(1);
  });

  it('becoming mutual with a hidden or offline account tells exactly what a snapshot would', async () => {
    const [alice, bob, erin] = await Promise.all([person(), person(), person()]);
    await alice.client.setPresenceVisible(false);
    await alice.client.setContacts([bob.account.accountId]);
    await erin.client.setContacts([bob.account.accountId]); // visible, never connected
    await bob.client.connect();
    await alice.client.connect();
    await bob.client.setContacts([alice.account.accountId, erin.account.accountId]);
    await until(() => bob.presence.length === 1, 'presence of Erin at Bob');
    await barrier(bob, alice);
    // Hidden Alice sends nothing; offline Erin is shared and offline.
    expect(bob.presence).toEqual([`${id(erin)}:offline`]);
    expect(alice.presence).toEqual([`${id(bob)}:online`]);
  });

  it('no longer mutual: the other side hears that presence is not shared any more', async () => {
    const { alice, bob } = await world();
    await alice.client.connect();
    await bob.client.connect();
    await until(() => alice.presence.length === 1, 'Bob online at Alice');
    await bob.client.setContacts([]);
    await until(() => alice.presence.length === 2, 'not shared at Alice');
    expect(alice.presence.at(-1)).toBe(`${id(bob)}:not shared`);
    // Bob going offline now tells Alice nothing.
    bob.client.close();
    await barrier(alice);
    expect(alice.presence).toHaveLength(2);
  });
});
