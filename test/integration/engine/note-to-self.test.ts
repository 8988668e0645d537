/**
 * "Note to self" (issue 12, ADR 0019): starting a conversation with one's own username gives this
 * account's notes instead of an error; a note is kept as sent, reaches nobody else, and is copied to
 * (and from) this account's other devices as a sent transcript addressed to the account itself.
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual, fromHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { relayAndEngines, waitFor } from '../../support/engines.js';
import { LinkedTestDevice } from './helpers/linked-device.js';

const fixture = relayAndEngines();

describe('note to self', () => {
  it('one’s own username opens "Note to self": notes stay sent, once, with no contact made', async () => {
    const alice = await fixture.engine('alice');
    const note = await alice.call('conversations:start', { username: alice.username.toUpperCase() });
    expect(note).toMatchObject({ kind: 'note-to-self', title: 'Note to self', contactId: alice.accountId, username: null, request: false });
    const sent = await alice.send(note.id, 'buy milk');
    expect(sent).toMatchObject({ status: 'sent', direction: 'outgoing', body: 'buy milk' });
    expect((await alice.call('conversations:start', { username: alice.username })).id).toBe(note.id);
    expect(await alice.call('contacts:list', {})).toEqual([]);
    const [listed] = await alice.call('conversations:list', {});
    expect(listed).toMatchObject({ id: note.id, lastMessage: { preview: 'buy milk', status: 'sent' } });
    // Nothing typing-related or queued leaves for anyone.
    await alice.call('conversations:setTyping', { conversationId: note.id, typing: true });
    await alice.drained();
    expect(await alice.errorOf('contacts:getSafetyNumber', { contactId: alice.accountId })).toBe('NOT_FOUND');
  });

  it('another username still adds that person', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const c = await alice.call('conversations:start', { username: bob.username });
    expect(c).toMatchObject({ kind: 'direct', contactId: bob.accountId, title: bob.username, request: false });
    expect(await alice.errorOf('conversations:start', { username: 'nobody_registered_this' })).toBe('NOT_FOUND');
  });

  it('notes are copied to and from this account’s other devices', async () => {
    const bob = await fixture.engine('bob');
    const second = await LinkedTestDevice.link(bob, fixture.relay.url);
    try {
      await bob.engine.messaging!.contacts.syncOwnList();
      const note = await bob.call('conversations:start', { username: bob.username });
      await bob.send(note.id, 'from device one');
      await waitFor(
        () => second.received.some((r) => r.content.type === 'sent' && r.content.text === 'from device one' && bytesEqual(r.content.destination, fromHex(bob.accountId))),
        'the transcript on the second device',
      );
      await second.sendTo(bob, { type: 'sent', messageId: systemRng(16), sentAt: Date.now(), destination: fromHex(bob.accountId), text: 'from device two', expireTimerSeconds: null });
      await waitFor(() => bob.payloads('message:added').some((p) => p.message.body === 'from device two'), 'the note from device two');
      // The device linked outside this engine also shows as a 'device-linked' notice (ADR 0027): only the notes here.
      expect((await bob.messages(note.id)).filter((m) => m.kind === 'text').map((m) => [m.body, m.direction])).toEqual([
        ['from device one', 'outgoing'],
        ['from device two', 'outgoing'],
      ]);
    } finally {
      second.close();
    }
  });
});
