/**
 * Content of a kind this version does not know (issue 12, docs/protocol.md §16): it no longer
 * vanishes — the conversation shows "This message needs a newer version of Parley" once per
 * message, later messages still arrive, and malformed content of a known kind shows nothing.
 */
import { describe, expect, it } from 'vitest';
import { systemRng } from '../../../shared/crypto/random.js';
import { Writer } from '../../../shared/protocol/codec.js';
import { relayAndEngines } from '../../support/engines.js';
import { LinkedTestDevice } from './helpers/linked-device.js';

const fixture = relayAndEngines();

describe('unsupported content', () => {
  it('a newer kind shows one notice per message; malformed content shows nothing', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice);
    await alice.send(aToB, 'hello');
    await bob.receive(alice, 'hello');
    // Alice's second device runs a newer version: it sends a kind this build does not know.
    const newer = await LinkedTestDevice.link(alice, fixture.relay.url);
    try {
      const messageId = systemRng(16);
      const future = new Writer().u8(1).u8(0x3c).bytes(messageId).u64(Date.now()).bytes(systemRng(40)).finish();
      await newer.sendRawTo(bob, future);
      await newer.sendRawTo(bob, future); // the same message again (a resend): one notice
      await newer.sendRawTo(bob, new Writer().u8(1).u8(0x05).bytes(systemRng(16)).u64(Date.now()).u8(1).u16(0).finish());
      await newer.sendRawTo(bob, new Writer().u8(1).u8(0x01).bytes(systemRng(16)).u64(Date.now()).u8(9).finish());
      await alice.barrier(bob, aToB);
      const bToA = (await bob.conversationWith(alice))!;
      // Alice's new device also shows as one 'contact-devices-changed' notice (ADR 0027), not counted here.
      const all = (await bob.messages(bToA)).map((m) => m.kind);
      expect(all.filter((k) => k === 'contact-devices-changed')).toHaveLength(1);
      const kinds = all.filter((k) => k !== 'contact-devices-changed');
      expect(kinds.filter((k) => k === 'unsupported')).toHaveLength(1);
      expect(kinds).toEqual(['text', 'unsupported', 'text']);
      const [conversation] = await bob.call('conversations:list', {});
      expect(conversation!.lastMessage).toMatchObject({ kind: 'text' });
    } finally {
      newer.close();
    }
  });
});
