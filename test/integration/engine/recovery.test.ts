/**
 * Undecryptable envelopes and desync recovery (DESIGN §3.4, docs/protocol.md §10.5): an envelope
 * that does not decrypt is acknowledged, shown as a "could not be decrypted" notice, answered with
 * the signed decryption error, and later messages still decrypt; a receiver that lost its session
 * makes the sender rebuild it from a fresh bundle and resend what the relay accepted after the
 * failure; resends of messages the receiver has are dropped by message id.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { concatBytes, fromHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { MessageType } from '../../../shared/protocol/messages.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { deserializeSessionRecord } from '../../../shared/protocol/session-record.js';
import type { Envelope } from '../../../shared/wire/frames.js';
import { requestResend } from '../../../electron/engine/db/resends.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { readAll, sendFile } from '../../support/attachments.js';
import { type TestEngine, waitFor, relayAndEngines } from '../../support/engines.js';

const fixture = relayAndEngines();
const clients: RelayClient[] = [];
// Registered after the fixture's hooks, so it runs first: clients go before the engines.
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

async function pair(): Promise<{ alice: TestEngine; bob: TestEngine; aToB: string; bToA: string }> {
  const alice = await fixture.engine('alice');
  const bob = await fixture.engine('bob');
  const aToB = await alice.add(bob);
  const bToA = await bob.add(alice);
  return { alice, bob, aToB, bToA };
}

/** A relay client speaking as `t`'s own device (its identity key from its database). */
function impersonate(t: TestEngine): RelayClient {
  const account = t.engine.current!.account;
  const c = new RelayClient({ url: fixture.relay.url, accountId: account.accountId, deviceId: account.deviceId, identitySigningKey: account.identitySigning.privateKey });
  clients.push(c);
  return c;
}

function decryptionErrorsTo(t: TestEngine): Envelope[] {
  const seen: Envelope[] = [];
  t.engine.messaging!.relay.on('envelope', (e) => {
    if (e.content[1] === MessageType.DecryptionError) seen.push(e);
  });
  return seen;
}

describe('undecryptable envelopes', () => {
  it('are acknowledged, shown once as a notice, answered with a decryption error; later messages decrypt', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    const one = await alice.send(aToB, 'one');
    await bob.receive(alice, 'one');
    await alice.waitStatus(one.id, 'delivered');
    const errors = decryptionErrorsTo(alice);

    // An envelope from Alice's device that no session decrypts (a ratchet message of garbage).
    const garbage = concatBytes(new Uint8Array([1, MessageType.Ratchet]), systemRng(300));
    await impersonate(alice).send(fromHex(bob.accountId), [{ deviceId: 1, content: garbage }]);
    const failed = await bob.waitEvent('message:decryptFailed');
    expect(failed).toMatchObject({ conversationId: bToA, contactId: alice.accountId, deviceId: 1 });
    const notice = (await bob.messages(bToA)).find((m) => m.id === failed.messageId)!;
    expect(notice).toMatchObject({ kind: 'decryption-failed', body: null, senderId: null });
    // The signed report reaches Alice; it names no session of hers, so nothing is rebuilt.
    await waitFor(() => errors.length === 1, 'the decryption error at Alice');
    // Bob acknowledged the bad envelope: his mailbox is empty.
    await waitFor(() => bob.engine.messaging!.inbound.pending === 0, 'bob idle');

    const two = await alice.send(aToB, 'two');
    await bob.receive(alice, 'two');
    await alice.waitStatus(two.id, 'delivered');
    expect((await bob.messages(bToA)).map((m) => m.body ?? m.kind)).toEqual(['one', 'decryption-failed', 'two']);

    // A resend of everything (what an early decryption error asks for) is dropped by message id.
    const db = alice.engine.current!.db.writer;
    db.transaction(() => requestResend(db, { peerAccountId: fromHex(bob.accountId), peerDeviceId: 1, after: 0, rebuild: false }, Date.now()));
    const added = bob.payloads('message:added').length;
    alice.engine.messaging!.outbox.kick();
    await waitFor(() => db.get<{ n: number }>(sql`SELECT count(*) AS n FROM outbox`)!.n === 0, 'resends sent');
    // A sentinel sent after the resends: once Bob shows it, he has processed them.
    const sentinel = await alice.barrier(bob, aToB);
    expect((await bob.messages(bToA)).map((m) => m.body ?? m.kind)).toEqual(['one', 'decryption-failed', 'two', sentinel]);
    expect(bob.payloads('message:added').length).toBe(added + 1);

    // Everything was acknowledged: a new connection brings nothing back but a new sentinel.
    const again = await bob.restart();
    fixture.track(again);
    const second = await alice.barrier(again, aToB);
    expect(again.payloads('message:added').map((p) => p.message.body)).toEqual([second]);
    expect(again.payloads('message:decryptFailed')).toEqual([]);
  });

  it('a receiver that lost its session gets the sender to rebuild it and resend; both directions work after', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    const hello = await alice.send(aToB, 'hello');
    await bob.receive(alice, 'hello');
    await alice.waitStatus(hello.id, 'delivered');
    await bob.send(bToA, 'hi');
    await alice.receive(bob, 'hi');

    // Bob's session with Alice is gone (a restore from an old copy, a bug): her next message fails.
    const bobDb = bob.engine.current!.db.writer;
    bobDb.transaction(() => bobDb.run(sql`DELETE FROM sessions`));
    const lost = await alice.send(aToB, 'is this lost?');
    await bob.waitEvent('message:decryptFailed');
    // Alice rebuilds from a fresh bundle and resends: Bob gets the message after all, once.
    await bob.receive(alice, 'is this lost?');
    await alice.waitStatus(lost.id, 'delivered');
    // The broken session was archived and a new one started from a fresh bundle.
    const record = alice.engine.current!.db.reader.get<{ record: Uint8Array }>(sql`SELECT record FROM sessions WHERE peer_account_id = ${fromHex(bob.accountId)}`)!;
    expect(deserializeSessionRecord(new Uint8Array(record.record)).archived.length).toBeGreaterThanOrEqual(1);
    const after = await alice.send(aToB, 'after recovery');
    await bob.receive(alice, 'after recovery');
    await alice.waitStatus(after.id, 'delivered');
    const back = await bob.send(bToA, 'and back');
    await alice.receive(bob, 'and back');
    await bob.waitStatus(back.id, 'delivered');
    const texts = (await bob.messages(bToA)).filter((m) => m.kind === 'text').map((m) => m.body);
    expect(texts.filter((t) => t === 'is this lost?')).toHaveLength(1);
    expect(bob.payloads('message:decryptFailed')).toHaveLength(1);
  });

  it('a file lost with the session is resent after the decryption error: the receiver gets it once, with its caption, and opens it byte for byte', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    const hello = await alice.send(aToB, 'hello');
    await bob.receive(alice, 'hello');
    await alice.waitStatus(hello.id, 'delivered');

    const bobDb = bob.engine.current!.db.writer;
    bobDb.transaction(() => bobDb.run(sql`DELETE FROM sessions`));
    const bytes = pseudoRandomBytes('lost-file', 1024 * 1024 + 17);
    const sent = await sendFile(alice, aToB, 'report.bin', bytes, { caption: 'the report', asFile: true });
    await bob.waitEvent('message:decryptFailed');
    // Alice rebuilds the session and resends the file's pointer (same message id): Bob shows it once.
    await alice.waitStatus(sent.id, 'delivered', 20_000);
    const files = (await bob.messages(bToA)).filter((m) => m.kind === 'attachment');
    expect(files).toHaveLength(1);
    expect(files[0]).toMatchObject({ body: 'the report', senderId: alice.accountId, attachment: { size: bytes.length } });
    expect((await readAll(bob, files[0]!.id)).bytes.equals(Buffer.from(bytes))).toBe(true);
  });

  it('decryption errors are rate-limited per peer device', async () => {
    const { alice, bob, aToB, bToA } = await pair();
    const errors = decryptionErrorsTo(alice);
    const fake = impersonate(alice);
    for (let i = 0; i < 3; i++) {
      await fake.send(fromHex(bob.accountId), [{ deviceId: 1, content: concatBytes(new Uint8Array([1, MessageType.Ratchet]), systemRng(200)) }]);
    }
    await bob.waitEvent('message:decryptFailed');
    await waitFor(() => errors.length >= 1, 'one decryption error');
    // Barriers: a real message from the same device after the three (Bob has processed them once
    // he shows it); then, once Bob has handed everything queued to the relay, a sentinel back (queued after every
    // decryption error he sent, so Alice has seen them all once she shows it).
    await alice.barrier(bob, aToB);
    await bob.drained();
    await bob.barrier(alice, bToA);
    expect(errors).toHaveLength(1);
    expect((await bob.messages(bToA)).filter((m) => m.kind === 'decryption-failed')).toHaveLength(1);
    // After the interval, the next failure is reported again.
    bob.clock.advance(61_000);
    await fake.send(fromHex(bob.accountId), [{ deviceId: 1, content: concatBytes(new Uint8Array([1, MessageType.Ratchet]), systemRng(200)) }]);
    await waitFor(() => errors.length === 2, 'a second decryption error');
  });
});
