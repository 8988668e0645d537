/**
 * Deniability shown with the forging tool (issue 17 "seed challenge 11", docs/deniability.md,
 * electron/engine/deniability): Bob's profile is copied before Alice writes to him; Alice (a real
 * engine on the real relay) then sends him three texts and the envelopes the relay delivered are
 * recorded as a transcript. From the copy alone — Bob's own secrets and Alice's PUBLIC signed device
 * list — the tool forges a transcript of the same three texts "from Alice". Parley's own verifier
 * (the engine's receive path, fed the envelopes offline) accepts both, shows both as Alice's, and
 * the two are the same structure byte for byte: same message types, header flags, lengths and
 * sender; nothing in either tells which one Alice really sent.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../../shared/api/types.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { fromBase64Url } from '../../../shared/crypto/bytes.js';
import { MessageType, parsePrekeyMessage } from '../../../shared/protocol/messages.js';
import type { Envelope } from '../../../shared/wire/frames.js';
import { forgeFromPeer, parseTranscript, transcriptOf, type Transcript } from '../../../electron/engine/deniability/forge.js';
import { verifyTranscript } from '../../../electron/engine/deniability/verify.js';
import { Engine } from '../../../electron/engine/engine.js';
import { ARGON2_BOUNDS } from '../../../electron/engine/keys/argon2.js';
import { KeychainKeyStore } from '../../../electron/engine/keys/keychain.js';
import { PassphraseKeyFile } from '../../../electron/engine/keys/passphrase-key-file.js';
import { resolveProfile } from '../../../electron/engine/profile.js';
import type { MemoryKeychain } from '../../support/keychain.js';
import { relayAndEngines, waitFor } from '../../support/engines.js';

const fixture = relayAndEngines();
const TEXTS = ['meet me at the old harbour', 'bring the documents', 'tell no one'];

/** A copy of a profile opened the way the forge CLI opens it: offline, no relay. */
async function openOffline(base: string, keychain: MemoryKeychain, events: EngineEvent[]): Promise<Engine> {
  const profile = resolveProfile(base, 'p');
  return Engine.start({
    profile,
    keychain: new KeychainKeyStore(keychain, profile.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng, { memoryKiB: ARGON2_BOUNDS.memoryKiB.min, iterations: 3, parallelism: 1 }),
    emit: (e) => events.push(e),
    messaging: { offline: true },
  });
}

/** The structure of each envelope: sender, message type, prekey header flags and ids' presence, length. */
function structure(t: Transcript) {
  return t.envelopes.map((e) => {
    const bytes = fromBase64Url(e.content);
    const prekey = bytes[1] === MessageType.Prekey ? parsePrekeyMessage(bytes) : null;
    return {
      source: e.source,
      version: bytes[0],
      type: bytes[1],
      flags: bytes[2],
      length: bytes.length,
      oneTimePrekey: prekey !== null && prekey.oneTimePrekeyId !== undefined,
      kem: prekey !== null && prekey.kem !== undefined,
      identityKey: prekey && Buffer.from(prekey.identityKey).toString('hex'),
    };
  });
}

describe('deniability: the forging tool', () => {
  it('forges, from Bob’s own profile and Alice’s public keys only, a transcript Parley’s verifier accepts exactly as the real one, with the same structure', async () => {
    const alice = await fixture.engine('alice');
    const bob = await fixture.engine('bob');
    const aToB = await alice.add(bob);
    await bob.add(alice); // Bob now holds Alice's public, signed device list (what the relay serves)
    await bob.drained();
    await bob.close();

    // Two copies of Bob's profile as it was before Alice wrote: one verifies the real transcript,
    // the other forges and verifies the forged one.
    const copies = [0, 1].map(() => {
      const dir = mkdtempSync(join(tmpdir(), 'parley-forge-'));
      cpSync(bob.options.base, dir, { recursive: true });
      return dir;
    });
    try {
      const live = await bob.restart();
      fixture.track(live);
      const recorded: Envelope[] = [];
      live.engine.messaging!.relay.on('envelope', (e) => recorded.push(e));
      for (const text of TEXTS) await alice.send(aToB, text);
      for (const text of TEXTS) await live.receive(alice, text);
      // Alice's client sent her profile key first (§16 0x07), then the three texts: the texts are
      // the transcript (the forger could forge the profile-key message the same way).
      const fromAlice = recorded.filter((e) => e.source && Buffer.from(e.source.accountId).toString('hex') === alice.accountId).slice(-3);
      expect(fromAlice).toHaveLength(3);
      const real = parseTranscript(JSON.stringify(transcriptOf({ accountId: Buffer.from(live.accountId, 'hex'), deviceId: 1 }, fromAlice)));

      // The forgery: Bob's copy, offline; Alice is only a contact there (her public keys).
      const forgeEvents: EngineEvent[] = [];
      const forger = await openOffline(copies[1]!, bob.options.keychain, forgeEvents);
      let forged: Transcript;
      try {
        const { db, account } = forger.current!;
        forged = parseTranscript(JSON.stringify(forgeFromPeer(db.reader, account, Buffer.from(alice.accountId, 'hex'), TEXTS, { rng: systemRng, now: () => Date.now() })));
      } finally {
        await forger.close();
      }

      // Same format, same structure, byte for byte where it is not random.
      expect(Object.keys(forged)).toEqual(Object.keys(real));
      expect(forged.recipient).toEqual(real.recipient);
      expect(structure(forged)).toEqual(structure(real));
      expect(structure(real).every((s) => s.type === MessageType.Prekey && s.kem)).toBe(true);

      // The verifier — Parley's own receive path — accepts both, as Alice's, and refuses nothing.
      const results = [];
      for (const [dir, transcript] of [
        [copies[0]!, real],
        [copies[1]!, forged],
      ] as const) {
        const events: EngineEvent[] = [];
        const engine = await openOffline(dir, bob.options.keychain, events);
        try {
          results.push(await verifyTranscript(engine.messaging!, transcript, events));
        } finally {
          await engine.close();
        }
      }
      for (const r of results) {
        expect(r.refused).toBe(0);
        expect(r.accepted.map((m) => [m.from, m.text])).toEqual(TEXTS.map((t) => [alice.accountId, t]));
      }

      // A transcript with one byte changed is refused by the same verifier (it can fail).
      const tampered: Transcript = {
        ...forged,
        envelopes: forged.envelopes.map((e, i) => {
          if (i !== 0) return e;
          const b = fromBase64Url(e.content);
          b[b.length - 1]! ^= 1;
          return { ...e, content: Buffer.from(b).toString('base64url') };
        }),
      };
      const third = mkdtempSync(join(tmpdir(), 'parley-forge-'));
      cpSync(bob.options.base, third, { recursive: true });
      copies.push(third);
      const events: EngineEvent[] = [];
      const check = await openOffline(third, bob.options.keychain, events);
      try {
        const r = await verifyTranscript(check.messaging!, { ...tampered, envelopes: tampered.envelopes.slice(0, 1) }, events);
        expect(r.accepted).toEqual([]);
        await waitFor(() => events.some((e) => e.event === 'message:decryptFailed'), 'the refusal');
      } finally {
        await check.close();
      }
    } finally {
      for (const dir of copies) rmSync(dir, { recursive: true, force: true });
    }
  });
});
