/**
 * Property suite (test/properties/README.md): "message keys never repeat", over any schedule of
 * sends both ways, reordered and dropped deliveries and new sessions between the same two devices.
 * The other properties of the suite live beside the code they test; the README points at each.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../shared/crypto/bytes.js';
import { deterministicRng, ManualClock } from '../../shared/testing/deterministic-rng.js';
import { makeDevice, Party, type TestDevice } from '../../shared/testing/protocol-fixtures.js';
import { messageKeys, messageSeed } from '../../shared/protocol/double-ratchet.js';

const T0 = Date.UTC(2026, 11, 1);

type Side = 'a' | 'b';

describe('property suite: message keys', () => {
  it('property: no message key and no nonce is ever used twice, under any schedule of sends, reordering, drops and new sessions', () => {
    const command = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('send' as const), from: fc.constantFrom<Side>('a', 'b') }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('deliver' as const), to: fc.constantFrom<Side>('a', 'b'), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), to: fc.constantFrom<Side>('a', 'b'), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('new-session' as const), from: fc.constantFrom<Side>('a', 'b') }) },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 6 }), fc.array(command, { minLength: 1, maxLength: 80 }), (seed, commands) => {
        const rng = deterministicRng(`keys-${seed}`);
        const clock = new ManualClock(T0);
        const dev: Record<Side, TestDevice> = { a: makeDevice(rng, T0), b: makeDevice(rng, T0) };
        const me: Record<Side, Party> = { a: new Party(dev.a, rng, clock.now), b: new Party(dev.b, rng, clock.now) };
        const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');
        me.a.initiate(dev.b);
        const inFlight: Record<Side, { bytes: Uint8Array; text: string }[]> = { a: [], b: [] }; // by recipient
        const keys = new Set<string>();
        const nonces = new Set<string>();
        let used = 0;
        let sessions = 1;
        let n = 0;
        for (const c of commands) {
          if (c.kind === 'new-session') {
            if (sessions >= 4) continue; // one-time prekeys are finite; a few new sessions are enough
            me[c.from].initiate(dev[other(c.from)]);
            sessions++;
            continue;
          }
          if (c.kind === 'send') {
            const to = other(c.from);
            // b can send only once it holds a session (after a's first message arrived)
            const chain = me[c.from].record(dev[to])?.current?.ratchet.sendingChain;
            if (!chain) continue;
            const mk = messageKeys(messageSeed(chain.key));
            keys.add(toHex(mk.key));
            nonces.add(toHex(mk.nonce));
            used++;
            const text = `m${n++}`;
            inFlight[to].push({ bytes: me[c.from].encrypt(dev[to], utf8(text)), text });
            continue;
          }
          const queue = inFlight[c.to];
          if (queue.length === 0) continue;
          const [m] = queue.splice(c.pick % queue.length, 1);
          if (c.kind === 'drop') continue;
          const got = me[c.to].decrypt(dev[other(c.to)], m!.bytes);
          expect(new TextDecoder().decode(got.plaintext)).toBe(m!.text);
        }
        expect(keys.size).toBe(used);
        expect(nonces.size).toBe(used);
      }),
      { numRuns: 60 },
    );
  });
});
