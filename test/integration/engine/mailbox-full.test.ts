/**
 * A recipient whose relay mailbox is full (issue 10, item 4), seen from the sending engine: the
 * relay refuses the send with MAILBOX_FULL, the message becomes `failed` (with Retry) — no crash,
 * no silent loss, the messages before it untouched — and once the recipient has collected its
 * mailbox, Retry delivers it.
 */
import { describe, expect, it } from 'vitest';
import { relayAndEngines } from '../../support/engines.js';

const MAILBOX_CAP = 3;
const fixture = relayAndEngines({ limits: { maxMailboxEnvelopes: MAILBOX_CAP } });
const engine = (name: string) => fixture.engine(name);

describe('a full mailbox at the relay', () => {
  it('makes the send a failed message with Retry, not a crash or a loss; Retry delivers it once the recipient has collected', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    await alice.send(aToB, 'before');
    await bob.receive(alice, 'before');

    await bob.close();
    const fit = [];
    for (const body of ['one', 'two', 'three']) fit.push(await alice.send(aToB, body));
    for (const m of fit) await alice.waitStatus(m.id, 'sent');
    const over = await alice.send(aToB, 'four');
    await alice.waitStatus(over.id, 'failed');
    for (const m of fit) expect(await alice.statusOf(m.id)).toBe('sent');

    const bobAgain = await bob.restart();
    fixture.track(bobAgain);
    await bobAgain.receive(alice, 'three');
    const bToA = (await bobAgain.conversationWith(alice))!;
    expect((await bobAgain.messages(bToA)).map((m) => m.body)).toEqual(['before', 'one', 'two', 'three']);

    await alice.call('messages:retry', { messageId: over.id });
    await bobAgain.receive(alice, 'four');
    await alice.waitStatus(over.id, 'delivered');
    expect((await bobAgain.messages(bToA)).map((m) => m.body)).toEqual(['before', 'one', 'two', 'three', 'four']);
  });
});
