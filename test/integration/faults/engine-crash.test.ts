/**
 * Engine crashes (issue 4 "Faults"; DESIGN §4 "a crash can neither lose a message nor desync a
 * session"): the built engine runs as a child process and SIGKILLs itself at each named point
 * (PARLEY_TEST_CRASH_AT, electron/engine/crash-points.ts) in the middle of a conversation through a
 * relay that is itself a child process. After a restart on the same profile — checked only through
 * the contract — nothing is lost, nothing is shown twice, every text ends up delivered, and the
 * sessions still decrypt both ways.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../shared/crypto/bytes.js';
import { messageTypeOf, MessageType, parsePrekeyMessage, parseRatchetMessage } from '../../../shared/protocol/messages.js';
import { DATABASE_FILE } from '../../../server/relay.js';
import { HostileProxy } from '../../hostile-proxy/hostile-proxy.js';
import { spawnRelay, tempDir, type RelayProcess } from '../relay/helpers/relay.js';
import { addContact, expectConversation, page, Profile, waitForPage } from './helpers.js';

let relay: RelayProcess;
let relayDir: string;
const profiles: Profile[] = [];
const proxies: HostileProxy[] = [];

beforeAll(async () => {
  relayDir = tempDir('parley-fault-relay-');
  relay = await spawnRelay({ dataDir: relayDir });
});
afterEach(async () => {
  for (const p of profiles.splice(0)) await p.dispose();
  for (const p of proxies.splice(0)) await p.close();
});
afterAll(async () => {
  await relay.stop();
  rmSync(relayDir, { recursive: true, force: true });
});

function profile(): Profile {
  const p = new Profile();
  profiles.push(p);
  return p;
}

const send = (p: Profile, conversationId: string, body: string) => p.p.call('messages:send', { conversationId, body });
const hasText = (body: string) => (ms: readonly { kind: string; body: string | null }[]) => ms.some((m) => m.kind === 'text' && m.body === body);

/** Alice and Bob as contacts both ways, one text each way delivered. */
async function talking(aliceRelayUrl = relay.url): Promise<{ alice: Profile; bob: Profile; aToB: string; bToA: string }> {
  const alice = profile();
  const bob = profile();
  await alice.create(aliceRelayUrl, 'alice');
  await bob.create(relay.url, 'bob');
  const aToB = await addContact(alice.p, bob);
  const bToA = await addContact(bob.p, alice);
  await send(alice, aToB, 'a1');
  await waitForPage(bob.p, bToA, hasText('a1'), 'a1 at Bob');
  await send(bob, bToA, 'b1');
  await expectConversation(alice.p, aToB, ['a1', 'b1'], 'Alice before the crash');
  await expectConversation(bob.p, bToA, ['a1', 'b1'], 'Bob before the crash');
  return { alice, bob, aToB, bToA };
}

/** Restarts the profile's engine with a crash point armed (the unlock may already race the crash). */
async function restartArmed(p: Profile, point: string): Promise<void> {
  await p.p.stop();
  try {
    await p.start({ PARLEY_TEST_CRASH_AT: point });
  } catch (e) {
    if (!/exited/.test(String(e))) throw e;
  }
}

/** Both ways once more after recovery: the sessions still decrypt. */
async function goOn(c: { alice: Profile; bob: Profile; aToB: string; bToA: string }, before: readonly string[]): Promise<void> {
  await send(c.alice, c.aToB, 'after: from alice');
  await waitForPage(c.bob.p, c.bToA, hasText('after: from alice'), 'the next text at Bob');
  await send(c.bob, c.bToA, 'after: from bob');
  const all = [...before, 'after: from alice', 'after: from bob'];
  await expectConversation(c.alice.p, c.aToB, all, 'Alice after recovery');
  await expectConversation(c.bob.p, c.bToA, all, 'Bob after recovery');
}

/**
 * The ratchet position of every envelope from `sender` waiting in the relay's mailboxes — what
 * left the sender's device and was not fetched yet. The relay holds its database exclusively, so it
 * is stopped (a drain: everything answered is committed), read, and started again on its port.
 */
async function queuedFrom(sender: Profile): Promise<{ ratchetKey: string; counter: number }[]> {
  await relay.stop();
  const db = new Database(path.join(relayDir, DATABASE_FILE), { readonly: true, fileMustExist: true });
  let rows: { content: Uint8Array }[];
  try {
    rows = db.prepare('SELECT content FROM mailbox WHERE source_account = ? ORDER BY seq').all(Buffer.from(fromHex(sender.accountId))) as typeof rows;
  } finally {
    db.close();
  }
  relay = await spawnRelay({ dataDir: relayDir, port: relay.port });
  return rows.map(({ content }) => {
    const bytes = new Uint8Array(content);
    const inner = messageTypeOf(bytes) === MessageType.Prekey ? parsePrekeyMessage(bytes).message : bytes;
    const { header } = parseRatchetMessage(inner);
    return { ratchetKey: toHex(header.ratchetKey), counter: header.counter };
  });
}

describe('engine killed at a crash point', () => {
  it('after-encrypt-before-commit: the ciphertext never leaves; after the restart the next text takes that chain step and no message key serves two ciphertexts', async () => {
    // Alice reaches the relay through a proxy that refuses sealed uploads, so she sends
    // authenticated and the relay's mailbox names her as the source of what she sent (sealed
    // envelopes name no source, and only Bob could open them to read their ratchet headers).
    const proxy = await HostileProxy.start(relay.url);
    proxies.push(proxy);
    proxy.refuseSealed = true;
    const c = await talking(proxy.url);
    // Alice's delivery receipt for b1 has reached Bob: her outbox is empty, nothing else encrypts.
    await waitForPage(c.bob.p, c.bToA, (ms) => ms.some((m) => m.body === 'b1' && (m.status === 'delivered' || m.status === 'read')), 'b1 delivered');
    await c.bob.p.stop();
    await send(c.alice, c.aToB, 'a2');
    await waitForPage(c.alice.p, c.aToB, (ms) => ms.some((m) => m.body === 'a2' && m.status === 'sent'), 'a2 at the relay');

    await restartArmed(c.alice, 'after-encrypt-before-commit');
    // Encrypted inside the send transaction (the chain stepped in memory, the envelope row written), killed before the commit.
    await expect(send(c.alice, c.aToB, 'a3 (encrypted, killed before the commit)')).rejects.toThrow(/exited/);
    await c.alice.crashed();

    await c.alice.start();
    // Nothing of a3 was committed, so there is no row for it, and nothing to send.
    expect((await page(c.alice.p, c.aToB)).map((m) => m.body)).toEqual(['a1', 'b1', 'a2']);

    await send(c.alice, c.aToB, 'a4: another plaintext');
    await waitForPage(c.alice.p, c.aToB, (ms) => ms.some((m) => m.body === 'a4: another plaintext' && m.status === 'sent'), 'a4 at the relay');
    // What left Alice's device while Bob was away: a2 and a4 only, a4 on the chain step after a2 —
    // the step a3 had taken in memory, taken again for another plaintext, which is safe because a3's
    // ciphertext never left. Every ciphertext that left has a message key of its own.
    const [a2, ...rest] = await queuedFrom(c.alice);
    expect(rest).toEqual([{ ratchetKey: a2!.ratchetKey, counter: a2!.counter + 1 }]);

    await c.bob.start();
    const expected = ['a1', 'b1', 'a2', 'a4: another plaintext'];
    await expectConversation(c.bob.p, c.bToA, expected, 'Bob');
    await expectConversation(c.alice.p, c.aToB, expected, 'Alice after the restart');
    await goOn(c, expected);
  });


  it('after-outbox-commit: the send committed before the kill goes out once after the restart; nothing lost or doubled; sessions go on', async () => {
    const c = await talking();
    await send(c.alice, c.aToB, 'a2');
    await restartArmed(c.alice, 'after-outbox-commit');
    // The message row, ratchet step and envelope commit together; then the process dies.
    await expect(send(c.alice, c.aToB, 'a3 (committed, then killed)')).rejects.toThrow(/exited/);
    await c.alice.crashed();

    await c.alice.start();
    const expected = ['a1', 'b1', 'a2', 'a3 (committed, then killed)'];
    await expectConversation(c.alice.p, c.aToB, expected, 'Alice after the restart');
    await expectConversation(c.bob.p, c.bToA, expected, 'Bob');
    await goOn(c, expected);
  });

  it.each([
    ['after-inbound-commit-before-ack', 'a batch committed, its envelopes not acknowledged: the redelivery is recognised, shown once'],
    ['mid-batch', 'a batch half processed, nothing committed: ratchet state and rows roll back together, the redelivery decrypts'],
  ])('%s — %s', async (point) => {
    const c = await talking();
    // Bob is away while Alice writes; he comes back with the crash point armed.
    await c.bob.p.stop();
    const burst = Array.from({ length: 8 }, (_, i) => `a${i + 2}`);
    for (const body of burst) await send(c.alice, c.aToB, body);
    await waitForPage(c.alice.p, c.aToB, (ms) => ms.filter((m) => m.status === 'sent').length === burst.length, 'the burst at the relay');
    try {
      await c.bob.start({ PARLEY_TEST_CRASH_AT: point });
    } catch (e) {
      if (!/exited/.test(String(e))) throw e;
    }
    await c.bob.crashed();

    await c.bob.start();
    const expected = ['a1', 'b1', ...burst];
    await expectConversation(c.bob.p, c.bToA, expected, 'Bob after the restart');
    await expectConversation(c.alice.p, c.aToB, expected, 'Alice (delivery receipts)');
    // The restarted engine announced each text at most once (those committed before the kill: not again).
    const added = c.bob.p.events.flatMap((e) => (e.event === 'message:added' && e.payload.message.direction === 'incoming' ? [e.payload.message.body] : []));
    expect(new Set(added).size).toBe(added.length);
    expect(added.length).toBeLessThanOrEqual(burst.length);
    await goOn(c, expected);
  });

  it('mid-batch on the first message of a session: the prekey message decrypts after the restart (no one-time prekey lost), both ways after', async () => {
    const alice = profile();
    const bob = profile();
    await alice.create(relay.url, 'alice');
    await bob.create(relay.url, 'bob', { PARLEY_TEST_CRASH_AT: 'mid-batch' });
    const aToB = await addContact(alice.p, bob);
    await send(alice, aToB, 'the very first message');
    await bob.crashed();

    await bob.start();
    const bToA = (await bob.p.call('conversations:list', {}))[0]?.id ?? (await waitForBobsConversation(bob));
    await expectConversation(bob.p, bToA, ['the very first message'], 'Bob after the restart');
    // Bob adds Alice (her message was a request until then): the delivery receipt goes now.
    await addContact(bob.p, alice);
    await expectConversation(alice.p, aToB, ['the very first message'], 'Alice');
    await goOn({ alice, bob, aToB, bToA }, ['the very first message']);
  });
});

async function waitForBobsConversation(bob: Profile): Promise<string> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [first] = await bob.p.call('conversations:list', {});
    if (first) return first.id;
    if (Date.now() > deadline) throw new Error('no conversation at Bob');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
