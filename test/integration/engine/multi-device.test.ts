/**
 * Fan-out to every device on a contact's verified list, and the list changing under a sender: a
 * second (and third) device is linked to Bob's account by a fixture that signs Bob's next list with
 * his account key (device linking is a later issue). Alice's engine learns of it from the relay's
 * MISMATCHED_DEVICES (missing), or from a message of the unknown device; of a removal from
 * MISMATCHED_DEVICES (stale) — and verifies the list each time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { systemRng } from '../../../shared/crypto/random.js';
import { waitFor, relayAndEngines } from '../../support/engines.js';
import { LinkedTestDevice } from './helpers/linked-device.js';

const fixture = relayAndEngines();
const devices: LinkedTestDevice[] = [];
// Registered after the fixture's hooks, so it runs first: devices go before their engines.
afterEach(() => {
  for (const d of devices.splice(0)) d.close();
});

const engine = (name: string) => fixture.engine(name);

describe('multi-device fan-out', () => {
  it("reaches Bob's second device after MISMATCHED_DEVICES (missing), drops it after (stale); the first device to read wins", async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    await alice.send(aToB, 'first');
    await bob.receive(alice, 'first');

    const second = await LinkedTestDevice.link(bob, fixture.relay.url);
    devices.push(second);
    const both = await alice.send(aToB, 'to both devices');
    await bob.receive(alice, 'to both devices');
    await waitFor(() => second.texts().includes('to both devices'), 'the second device got it');
    expect(second.failures).toEqual([]);
    const [contact] = await alice.call('contacts:list', {});
    expect(contact!.deviceCount).toBe(2);
    await alice.waitStatus(both.id, 'delivered');

    // The second device reads first: its read receipt alone makes the message read.
    const read = second.received.find((r) => r.content.type === 'text' && r.content.text === 'to both devices')!;
    await second.sendTo(alice, { type: 'receipt', messageId: systemRng(16), sentAt: Date.now(), receipt: 'read', messageIds: [read.content.messageId] });
    await alice.waitStatus(both.id, 'read');

    // Bob's first device learns its own list and copies what it sends to the second one.
    await bob.engine.messaging!.contacts.syncOwnList();
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'sent from device one');
    await alice.receive(bob, 'sent from device one');
    await waitFor(() => second.received.some((r) => r.content.type === 'sent' && r.content.text === 'sent from device one'), 'the transcript');
    // The transcript to Bob's own other device went sealed (ADR 0029): the relay did not name its sender.
    expect(second.sealed).toBeGreaterThan(0);
    expect(second.failures).toEqual([]);

    // The second device leaves the list: Alice's next send is refused as stale, refreshed, retried.
    await second.unlink();
    const after = await alice.send(aToB, 'after the unlink');
    await bob.receive(alice, 'after the unlink');
    await alice.waitStatus(after.id, 'delivered');
    expect((await alice.call('contacts:list', {}))[0]!.deviceCount).toBe(1);
    expect(second.texts()).not.toContain('after the unlink');
  });

  it('a message from a device not yet on the stored list makes the receiver fetch and verify the list first', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    await alice.add(bob);
    await bob.add(alice);
    const third = await LinkedTestDevice.link(bob, fixture.relay.url);
    devices.push(third);
    await third.sendTo(alice, { type: 'text', messageId: systemRng(16), sentAt: Date.now(), text: 'hello from a new device', expireTimerSeconds: null });
    const got = await alice.receive(bob, 'hello from a new device');
    expect(got.senderId).toBe(bob.accountId);
    expect((await alice.call('contacts:list', {}))[0]!.deviceCount).toBe(2);
    // …and answers it on the new device too (the delivery receipt reached it).
    await waitFor(() => third.received.some((r) => r.content.type === 'receipt' && r.content.receipt === 'delivered'), 'a delivery receipt on the new device');
  });
});
