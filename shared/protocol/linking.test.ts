/**
 * The device-linking handshake (docs/protocol.md §20) end to end between the two state machines,
 * and every way a relay in the middle can interfere: tampering, replaying, substituting the new
 * device's keys or the account key, guessing the short code, another version.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aesGcmSeal } from '../crypto/aead.js';
import { concatBytes, toBase64Url, utf8 } from '../crypto/bytes.js';
import { ed25519GenerateKeyPair, type Ed25519KeyPair } from '../crypto/ed25519.js';
import { x25519GenerateKeyPair } from '../crypto/x25519.js';
import { deterministicRng } from '../testing/deterministic-rng.js';
import { Capability, LINK_OFFER_LENGTH, MAX_LINK_ACCOUNT_STATE_BYTES } from './constants.js';
import { signDeviceList, type DeviceList } from './device-list.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';
import {
  createLinkOffer,
  drawLinkCodeDigits,
  encodeLinkOffer,
  formatLinkCode,
  LinkFrameType,
  linkOfferText,
  openProvisioning,
  parseLinkCode,
  parseLinkOffer,
  parseLinkOfferText,
  receiveAccount,
  receiveConfirm,
  receiveHello,
  receiveReply,
  sealProvisioning,
  startPrimaryLink,
  type LinkDeviceKeys,
  type LinkTarget,
} from './linking.js';
import { pad } from './padding.js';

const NOW = Date.UTC(2026, 0, 15, 12);

function code(run: () => unknown): ProtocolErrorCode | 'ok' {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (isProtocolError(e)) return e.code;
    throw e;
  }
}

type World = {
  rng: ReturnType<typeof deterministicRng>;
  relayId: Uint8Array;
  channelId: Uint8Array;
  accountId: Uint8Array;
  accountKey: Ed25519KeyPair;
  primaryEntry: DeviceList['devices'][number];
  device: LinkDeviceKeys;
};

function world(seed: string): World {
  const rng = deterministicRng(`linking test/${seed}`);
  const relayId = rng(16);
  const channelId = rng(16);
  const accountId = rng(16);
  const accountKey = ed25519GenerateKeyPair(rng);
  const primaryEntry = {
    deviceId: 1,
    identityDhKey: x25519GenerateKeyPair(rng).publicKey,
    identitySigningKey: ed25519GenerateKeyPair(rng).publicKey,
    capabilities: Capability.pq,
    addedAt: NOW,
  };
  const device = { identityDhKey: x25519GenerateKeyPair(rng).publicKey, identitySigningKey: ed25519GenerateKeyPair(rng).publicKey, capabilities: Capability.pq };
  return { rng, relayId, channelId, accountId, accountKey, primaryEntry, device };
}

function listWith(w: World, device: LinkDeviceKeys, deviceId = 2, accountKey = w.accountKey): Uint8Array {
  const list: DeviceList = {
    accountId: w.accountId,
    version: 2,
    issuedAt: NOW,
    devices: [w.primaryEntry, { deviceId, identityDhKey: device.identityDhKey, identitySigningKey: device.identitySigningKey, capabilities: device.capabilities, addedAt: NOW }],
  };
  return signDeviceList(list, accountKey.privateKey);
}

/** Runs the link up to the primary's Hello, by the given method. */
function begin(w: World, method: 'offer' | 'code' | 'wrong-code') {
  const n = createLinkOffer({ relayId: w.relayId, channelId: w.channelId, rendezvous: '482913' }, { rng: w.rng });
  let target: LinkTarget;
  if (method === 'offer') target = { method: 'offer', offer: parseLinkOfferText(n.offerText) };
  else {
    const typed = parseLinkCode(n.code);
    const digits = method === 'code' ? typed.digits : String((Number(typed.digits) + 1) % 1e8).padStart(8, '0');
    target = { method: 'code', code: { rendezvous: typed.rendezvous, digits }, channelId: w.channelId };
  }
  const account = { accountId: w.accountId, accountPublicKey: w.accountKey.publicKey };
  const p = startPrimaryLink({ relayId: w.relayId, target, account }, { rng: w.rng });
  return { n, p };
}

/** The whole link; returns every frame and the provisioning the new device opened. */
function fullLink(w: World, method: 'offer' | 'code') {
  const { n, p } = begin(w, method);
  const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
  const r = receiveReply(p.state, h.reply);
  const a = receiveAccount(h.state, r.account);
  const c = receiveConfirm(r.state, a.confirm);
  const accountState = utf8('the account state blob');
  const provision = sealProvisioning(c.state, { deviceId: 2, signedDeviceList: listWith(w, c.device), accountState });
  const result = openProvisioning(a.state, provision);
  return { n, p, h, r, a, c, provision, result, accountState };
}

describe('linking: the handshake', () => {
  it.each(['offer', 'code'] as const)('by %s: the new device ends with its entry on the signed list and the account state, the primary with the new keys', (method) => {
    const w = world(method);
    const { r, a, c, result, accountState } = fullLink(w, method);
    expect(r.device).toEqual(w.device);
    expect(c.device).toEqual(w.device);
    expect(a.account).toEqual({ accountId: w.accountId, accountPublicKey: w.accountKey.publicKey });
    expect(result.deviceId).toBe(2);
    expect(result.deviceList.devices.map((d) => d.deviceId)).toEqual([1, 2]);
    expect(result.accountState).toEqual(accountState);
  });

  it('frames have the documented lengths, padded to 160-byte blocks', () => {
    const { p, h, r, a, provision } = fullLink(world('lengths'), 'offer');
    expect(p.hello.length).toBe(84);
    expect(h.reply.length).toBe(2 + 32 + 33 + 160 + 16);
    expect(r.account.length).toBe(2 + 160 + 16);
    expect(a.confirm.length).toBe(2 + 160 + 16);
    expect((provision.length - 2 - 16) % 160).toBe(0);
  });

  it('the relay sees different ciphertexts for the same inputs under different randomness', () => {
    const one = fullLink(world('same'), 'offer');
    const w2 = world('same');
    w2.rng(1); // shift the stream
    const two = fullLink({ ...w2, relayId: one.n.offer.relayId, channelId: one.n.offer.channelId }, 'offer');
    expect(toBase64Url(one.h.reply)).not.toBe(toBase64Url(two.h.reply));
  });
});

describe('linking: a wrong short code', () => {
  it('the primary sees LINK_AUTH_FAILED at the reply, and the new device refuses a second guess on the channel', () => {
    const w = world('wrong code');
    const { n, p } = begin(w, 'wrong-code');
    const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    expect(code(() => receiveReply(p.state, h.reply))).toBe('LINK_AUTH_FAILED');
    // One guess: the same state refuses any further Hello, the right one included.
    const right = startPrimaryLink(
      { relayId: w.relayId, target: { method: 'code', code: parseLinkCode(n.code), channelId: w.channelId }, account: { accountId: w.accountId, accountPublicKey: w.accountKey.publicKey } },
      { rng: w.rng },
    );
    expect(code(() => receiveHello(n.state, right.hello, w.device, { rng: w.rng }))).toBe('LINK_REPLAYED');
    // A primary state is used once, too.
    expect(code(() => receiveReply(p.state, h.reply))).toBe('LINK_REPLAYED');
  });

  it('a relay that guesses the code and plays the primary gets LINK_AUTH_FAILED at the new device, which learns nothing it accepts', () => {
    const w = world('relay guesses');
    const { n, p } = begin(w, 'wrong-code');
    const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    // The guessing "primary" cannot open the reply; whatever Account frame it makes does not open.
    const forged = concatBytes(Uint8Array.of(1, LinkFrameType.account), aesGcmSeal(new Uint8Array(32), new Uint8Array(12), pad(new Uint8Array(81)), Uint8Array.of(1, 3)));
    expect(code(() => receiveAccount(h.state, forged))).toBe('LINK_AUTH_FAILED');
  });
});

describe('linking: a relay that changes frames', () => {
  it('a flipped byte anywhere in the reply, account, confirm or provision frame is LINK_AUTH_FAILED (or MALFORMED for the clear fields)', () => {
    fc.assert(
      fc.property(fc.constantFrom('reply', 'account', 'confirm', 'provision'), fc.nat(), (which, at) => {
        const w = world(`flip ${which} ${at}`);
        const { n, p } = begin(w, 'code');
        const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
        const flip = (b: Uint8Array): Uint8Array => {
          const out = b.slice();
          const i = 2 + (at % (b.length - 2)); // not the version/type bytes (their own tests below)
          out[i]! ^= 0x01;
          return out;
        };
        if (which === 'reply') {
          expect(['LINK_AUTH_FAILED', 'MALFORMED', 'INVALID_KEY']).toContain(code(() => receiveReply(p.state, flip(h.reply))));
          return;
        }
        const r = receiveReply(p.state, h.reply);
        if (which === 'account') {
          expect(code(() => receiveAccount(h.state, flip(r.account)))).toBe('LINK_AUTH_FAILED');
          return;
        }
        const a = receiveAccount(h.state, r.account);
        if (which === 'confirm') {
          expect(code(() => receiveConfirm(r.state, flip(a.confirm)))).toBe('LINK_AUTH_FAILED');
          return;
        }
        const c = receiveConfirm(r.state, a.confirm);
        const provision = sealProvisioning(c.state, { deviceId: 2, signedDeviceList: listWith(w, c.device), accountState: new Uint8Array(10) });
        expect(code(() => openProvisioning(a.state, flip(provision)))).toBe('LINK_AUTH_FAILED');
      }),
      { numRuns: 40 },
    );
  });

  it('a relay that substitutes the new device ephemeral key is caught: LINK_KEY_MISMATCH with an offer, LINK_AUTH_FAILED with a code', () => {
    for (const method of ['offer', 'code'] as const) {
      const w = world(`substitute ek ${method}`);
      const { n, p } = begin(w, method);
      const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
      const swapped = h.reply.slice();
      swapped.set(x25519GenerateKeyPair(w.rng).publicKey, 2 + 32 + 1);
      expect(code(() => receiveReply(p.state, swapped))).toBe(method === 'offer' ? 'LINK_KEY_MISMATCH' : 'LINK_AUTH_FAILED');
    }
  });

  it('a relay that substitutes the new device identity keys (its own reply, from its own CPace run) fails: it cannot know the code', () => {
    const w = world('substitute device');
    const { n, p } = begin(w, 'code');
    receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    // The relay answers the Hello itself with its own device keys and a guessed code.
    const fake = createLinkOffer({ relayId: w.relayId, channelId: w.channelId, rendezvous: '482913' }, { rng: w.rng });
    const relayDevice = { ...w.device, identityDhKey: x25519GenerateKeyPair(w.rng).publicKey };
    const forged = receiveHello(fake.state, p.hello, relayDevice, { rng: w.rng });
    expect(code(() => receiveReply(p.state, forged.reply))).toBe('LINK_AUTH_FAILED');
  });

  it('a relay that substitutes the account key (an Account frame from another link run) fails at the new device', () => {
    const w = world('substitute account');
    const { n, p } = begin(w, 'offer');
    const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    receiveReply(p.state, h.reply);
    // The relay's own account, run on a second channel with a second new-device offer.
    const w2 = world('relay account');
    const other = begin(w2, 'offer');
    const h2 = receiveHello(other.n.state, other.p.hello, w2.device, { rng: w2.rng });
    const r2 = receiveReply(other.p.state, h2.reply);
    expect(code(() => receiveAccount(h.state, r2.account))).toBe('LINK_AUTH_FAILED');
  });

  it('a party holding the link keys that confirms another account key or other device keys fails key confirmation on the other side', () => {
    const w = world('confirm');
    const { n, p } = begin(w, 'offer');
    const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    const r = receiveReply(p.state, h.reply);
    // Re-seal the Account frame with the real keys but another account key inside: the tag no longer matches.
    const other = ed25519GenerateKeyPair(w.rng).publicKey;
    const tag = new Uint8Array(32);
    const payload = concatBytes(w.accountId, Uint8Array.of(0x06), other, tag);
    const frame = concatBytes(Uint8Array.of(1, 3), aesGcmSeal(r.state.keys.toNew, concatBytes(new Uint8Array(11), Uint8Array.of(3)), pad(payload), Uint8Array.of(1, 3)));
    expect(code(() => receiveAccount(h.state, frame))).toBe('LINK_CONFIRMATION_FAILED');
    // And the primary refuses a Confirm whose tag is not the new device's over the same keys.
    const confirm = concatBytes(Uint8Array.of(1, 4), aesGcmSeal(r.state.keys.toPrimary, concatBytes(new Uint8Array(11), Uint8Array.of(4)), pad(new Uint8Array(32)), Uint8Array.of(1, 4)));
    expect(code(() => receiveConfirm(r.state, confirm))).toBe('LINK_CONFIRMATION_FAILED');
  });

  it('replayed frames are LINK_REPLAYED on both sides', () => {
    const w = world('replay');
    const { p, h, r, a, c, provision } = fullLink(w, 'code');
    // The new device, after the provisioning was opened: every earlier frame again.
    expect(code(() => receiveAccount(h.state, r.account))).toBe('LINK_REPLAYED');
    expect(code(() => openProvisioning(a.state, provision))).toBe('LINK_REPLAYED');
    // A Hello again at the await-account step (the frame type of a step already taken).
    expect(code(() => receiveAccount(h.state, p.hello))).toBe('LINK_REPLAYED');
    expect(code(() => openProvisioning(a.state, r.account))).toBe('LINK_REPLAYED');
    // The primary: the reply again at the confirm step, the confirm again after it.
    expect(code(() => receiveConfirm(r.state, h.reply))).toBe('LINK_REPLAYED');
    expect(code(() => receiveConfirm(r.state, a.confirm))).toBe('LINK_REPLAYED');
    expect(code(() => sealProvisioning(c.state, { deviceId: 2, signedDeviceList: listWith(w, c.device), accountState: new Uint8Array(0) }))).toBe('LINK_REPLAYED');
  });

  it('another version byte is LINK_UNSUPPORTED_VERSION, a later step or the other direction MALFORMED', () => {
    const w = world('version');
    const { n, p } = begin(w, 'offer');
    const v2 = p.hello.slice();
    v2[0] = 2;
    expect(code(() => receiveHello(n.state, v2, w.device, { rng: w.rng }))).toBe('LINK_UNSUPPORTED_VERSION');
    const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    const r2 = h.reply.slice();
    r2[0] = 0;
    expect(code(() => receiveReply(p.state, r2))).toBe('LINK_UNSUPPORTED_VERSION');
    const r = receiveReply(p.state, h.reply);
    const provisionType = r.account.slice();
    provisionType[1] = LinkFrameType.provision;
    expect(code(() => receiveAccount(h.state, provisionType))).toBe('MALFORMED');
    expect(code(() => receiveAccount(h.state, Uint8Array.of(1)))).toBe('MALFORMED');
    const unknown = r.account.slice();
    unknown[1] = 0x09;
    expect(code(() => receiveAccount(h.state, unknown))).toBe('MALFORMED');
  });

  it('a Hello whose CPace share is the identity or not a group element is INVALID_KEY, and spends the state', () => {
    for (const share of [new Uint8Array(32), new Uint8Array(32).fill(0xff)]) {
      const w = world('identity hello');
      const { n, p } = begin(w, 'offer');
      const bad = p.hello.slice();
      bad.set(share, 3 + 16);
      expect(code(() => receiveHello(n.state, bad, w.device, { rng: w.rng }))).toBe('INVALID_KEY');
      expect(code(() => receiveHello(n.state, p.hello, w.device, { rng: w.rng }))).toBe('LINK_REPLAYED');
    }
  });

  it('a Hello with an unknown method, a wrong length or a low-order ephemeral key is refused with a typed error', () => {
    const w = world('hello shapes');
    const cases: [string, (b: Uint8Array) => Uint8Array, ProtocolErrorCode][] = [
      ['method 3', (b) => { const o = b.slice(); o[2] = 3; return o; }, 'MALFORMED'],
      ['short', (b) => b.slice(0, 83), 'MALFORMED'],
      ['long', (b) => concatBytes(b, Uint8Array.of(0)), 'MALFORMED'],
      ['ephemeral type byte', (b) => { const o = b.slice(); o[2 + 1 + 16 + 32] = 0x06; return o; }, 'MALFORMED'],
      ['low-order ephemeral', (b) => { const o = b.slice(); o.set(new Uint8Array(32), 2 + 1 + 16 + 32 + 1); return o; }, 'INVALID_KEY'],
    ];
    for (const [name, mutate, expected] of cases) {
      const { n, p } = begin(w, 'offer');
      expect(code(() => receiveHello(n.state, mutate(p.hello), w.device, { rng: w.rng })), name).toBe(expected);
    }
  });
});

describe('linking: provisioning', () => {
  it('the primary refuses to seal a list without the confirmed device keys, under another account key, or with too large an account state', () => {
    const w = world('seal checks');
    const { n, p } = begin(w, 'offer');
    const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    const r = receiveReply(p.state, h.reply);
    const a = receiveAccount(h.state, r.account);
    const c = receiveConfirm(r.state, a.confirm);
    const otherKeys = { ...w.device, identitySigningKey: ed25519GenerateKeyPair(w.rng).publicKey };
    expect(code(() => sealProvisioning(c.state, { deviceId: 2, signedDeviceList: listWith(w, otherKeys), accountState: new Uint8Array(0) }))).toBe('LINK_KEY_MISMATCH');
    expect(code(() => sealProvisioning(c.state, { deviceId: 3, signedDeviceList: listWith(w, w.device, 2), accountState: new Uint8Array(0) }))).toBe('LINK_KEY_MISMATCH');
    expect(code(() => sealProvisioning(c.state, { deviceId: 2, signedDeviceList: listWith(w, w.device, 2, ed25519GenerateKeyPair(w.rng)), accountState: new Uint8Array(0) }))).toBe('BAD_SIGNATURE');
    expect(code(() => sealProvisioning(c.state, { deviceId: 2, signedDeviceList: listWith(w, w.device), accountState: new Uint8Array(MAX_LINK_ACCOUNT_STATE_BYTES + 1) }))).toBe('MALFORMED');
    // None of these spent the state: the right list still goes through.
    const frame = sealProvisioning(c.state, { deviceId: 2, signedDeviceList: listWith(w, w.device), accountState: new Uint8Array(MAX_LINK_ACCOUNT_STATE_BYTES) });
    expect(openProvisioning(a.state, frame).accountState.length).toBe(MAX_LINK_ACCOUNT_STATE_BYTES);
  });

  it('the new device refuses a provisioning whose list lacks its confirmed keys (LINK_KEY_MISMATCH)', () => {
    const w = world('open checks');
    const { n, p } = begin(w, 'offer');
    const h = receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    const r = receiveReply(p.state, h.reply);
    const a = receiveAccount(h.state, r.account);
    // A primary holding the keys that puts other device keys on the list.
    const otherKeys = { ...w.device, identityDhKey: x25519GenerateKeyPair(w.rng).publicKey };
    const signed = listWith(w, otherKeys);
    const payload = concatBytes(Uint8Array.of(0, 0, 0, 2), Uint8Array.of(0, 0, (signed.length >> 8) & 0xff, signed.length & 0xff), signed, new Uint8Array(4));
    const frame = concatBytes(Uint8Array.of(1, 5), aesGcmSeal(r.state.keys.toNew, concatBytes(new Uint8Array(11), Uint8Array.of(5)), pad(payload), Uint8Array.of(1, 5)));
    expect(code(() => openProvisioning(a.state, frame))).toBe('LINK_KEY_MISMATCH');
  });
});

describe('linking: offer and short code', () => {
  const w = world('offer text');
  const n = createLinkOffer({ relayId: w.relayId, channelId: w.channelId, rendezvous: '000123' }, { rng: w.rng });

  it('the offer text round-trips, with white space around it, and is 81 bytes behind its prefix', () => {
    expect(encodeLinkOffer(n.offer).length).toBe(LINK_OFFER_LENGTH);
    expect(parseLinkOfferText(`  ${n.offerText}\n`)).toEqual(n.offer);
    expect(n.offerText).toBe(linkOfferText(n.offer));
    expect(n.offerText.startsWith('parley-link:')).toBe(true);
  });

  it('bad offer text: another prefix, bad base64url, wrong length, another version', () => {
    const bytes = encodeLinkOffer(n.offer);
    const v2 = bytes.slice();
    v2[0] = 2;
    expect(code(() => parseLinkOfferText(n.offerText.replace('parley-link:', 'parley-lnk:')))).toBe('MALFORMED');
    expect(code(() => parseLinkOfferText(`${n.offerText}=`))).toBe('MALFORMED');
    expect(code(() => parseLinkOfferText(`parley-link:${toBase64Url(bytes.subarray(0, 80))}`))).toBe('MALFORMED');
    expect(code(() => parseLinkOfferText(`parley-link:${toBase64Url(v2)}`))).toBe('LINK_UNSUPPORTED_VERSION');
    expect(code(() => parseLinkOffer(new Uint8Array(0)))).toBe('MALFORMED');
  });

  it('an offer for another relay is refused before anything is sent (UNTRUSTED_IDENTITY)', () => {
    const otherRelay = w.relayId.slice();
    otherRelay[0]! ^= 1;
    const account = { accountId: w.accountId, accountPublicKey: w.accountKey.publicKey };
    expect(code(() => startPrimaryLink({ relayId: otherRelay, target: { method: 'offer', offer: n.offer }, account }, { rng: w.rng }))).toBe('UNTRUSTED_IDENTITY');
  });

  it('the short code is "RRRRRR-DDDD-DDDD"; typing ignores spaces and hyphens and needs exactly 14 digits', () => {
    expect(n.code).toMatch(/^000123-[0-9]{4}-[0-9]{4}$/);
    const parsed = parseLinkCode(n.code);
    expect(formatLinkCode(parsed)).toBe(n.code);
    expect(parseLinkCode(` ${n.code.replace(/-/g, ' ')} `)).toEqual(parsed);
    for (const bad of ['', '0001231234567', '000123123456789', '000123-1234-567a', '０００１２３12345678', '000123_1234_5678']) {
      expect(code(() => parseLinkCode(bad)), bad).toBe('MALFORMED');
    }
    expect(code(() => formatLinkCode({ rendezvous: '12345', digits: '12345678' }))).toBe('MALFORMED');
    expect(code(() => createLinkOffer({ relayId: w.relayId, channelId: w.channelId, rendezvous: 'abcdef' }, { rng: w.rng }))).toBe('MALFORMED');
  });

  it('code digits come from u32 draws below 4.2e9 reduced mod 1e8; larger draws are drawn again', () => {
    const draws = [Uint8Array.of(0xfa, 0x56, 0xea, 0x00), Uint8Array.of(0, 0, 0x30, 0x39)]; // 4,200,000,000 then 12,345
    expect(drawLinkCodeDigits(() => draws.shift()!)).toBe('00012345');
    const last = [Uint8Array.of(0xfa, 0x56, 0xe9, 0xff)]; // 4,199,999,999
    expect(drawLinkCodeDigits(() => last.shift()!)).toBe('99999999');
  });
});

describe('linking: secrets', () => {
  it('taking the Hello wipes the state\'s secret and ephemeral key, not the offer the caller holds', () => {
    const w = world('wipe');
    const { n, p } = begin(w, 'offer');
    const shown = linkOfferText(n.offer);
    receiveHello(n.state, p.hello, w.device, { rng: w.rng });
    expect(n.state.secret.every((b) => b === 0)).toBe(true);
    expect(n.state.ephemeral.privateKey.every((b) => b === 0)).toBe(true);
    expect(linkOfferText(n.offer)).toBe(shown);
    expect(n.offer.secret.some((b) => b !== 0)).toBe(true);
  });
});
