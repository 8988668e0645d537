import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aesGcmSeal } from '../crypto/aead.js';
import { concatBytes, utf8 } from '../crypto/bytes.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { deterministicRng, pseudoRandomBytes } from '../testing/deterministic-rng.js';
import { padmeLength } from './attachment-cipher.js';
import {
  ENCRYPTED_PROFILE_HEADER_LENGTH,
  MAX_ENCRYPTED_PROFILE_BYTES,
  MAX_PROFILE_ABOUT_BYTES,
  MAX_PROFILE_AVATAR_BYTES,
  MAX_PROFILE_NAME_BYTES,
  MIN_ENCRYPTED_PROFILE_BYTES,
  PROFILE_PLAINTEXT_FIXED_LENGTH,
} from './constants.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';
import {
  aboutProblem,
  decodeProfilePlaintext,
  decryptProfile,
  deriveFromProfileKey,
  displayNameProblem,
  encodeProfilePlaintext,
  encryptProfile,
  newProfileKey,
  parseEncryptedProfile,
  profileKeyId,
  type Profile,
} from './profile.js';

function codeOf(fn: () => unknown): ProtocolErrorCode | 'no error' | unknown {
  try {
    fn();
  } catch (e) {
    return isProtocolError(e) ? e.code : e;
  }
  return 'no error';
}

/** A WebP-shaped byte string (magic bytes and filler; never decoded here). */
function webp(length: number, seed = 'avatar'): Uint8Array {
  const out = pseudoRandomBytes(`profile.test/${seed}`, length);
  out.set(utf8('RIFF'), 0);
  new DataView(out.buffer).setUint32(4, length - 8, true);
  out.set(utf8('WEBP'), 8);
  return out;
}

const ACCOUNT = pseudoRandomBytes('profile.test/account', 16);
const OTHER_ACCOUNT = pseudoRandomBytes('profile.test/other-account', 16);
const KEY = pseudoRandomBytes('profile.test/key', 32);
const rng = () => deterministicRng('profile.test/nonce');

const PROFILE: Profile = { revision: 7, displayName: 'Alice Liddell', about: 'Down the rabbit hole', avatar: null };

/** The encryptor of §18.3 written out by hand, for plaintexts the encoder refuses to make. */
function encryptRaw(plaintext: Uint8Array, key = KEY, accountId = ACCOUNT): Uint8Array {
  const keyId = profileKeyId(key);
  const nonce = new Uint8Array(12).fill(3);
  const ad = concatBytes(utf8('Parley_v1_ProfileAD'), Uint8Array.of(1), accountId, keyId);
  return concatBytes(Uint8Array.of(1), keyId, nonce, aesGcmSeal(deriveFromProfileKey(key, 'cipherKey'), nonce, plaintext, ad));
}

const nameArb = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
  .filter((s) => displayNameProblem(s) === null);
const aboutArb = fc.string({ unit: 'grapheme', maxLength: 100 }).filter((s) => aboutProblem(s) === null);

describe('profile keys', () => {
  it('the cipher key and the key id are HKDF(salt 0³², profile key, their label) and differ from each other', () => {
    expect(deriveFromProfileKey(KEY, 'cipherKey')).toEqual(hkdfSha256(KEY, new Uint8Array(32), utf8('Parley_v1_ProfileCipherKey'), 32));
    expect(profileKeyId(KEY)).toEqual(hkdfSha256(KEY, new Uint8Array(32), utf8('Parley_v1_ProfileKeyId'), 16));
    expect(profileKeyId(KEY)).not.toEqual(deriveFromProfileKey(KEY, 'cipherKey').subarray(0, 16));
  });

  it('a profile key is one 32-byte draw; any other length is MALFORMED', () => {
    expect(newProfileKey({ rng: deterministicRng('k') })).toEqual(deterministicRng('k')(32));
    expect(codeOf(() => profileKeyId(new Uint8Array(31)))).toBe('MALFORMED');
    expect(codeOf(() => newProfileKey({ rng: (n) => new Uint8Array(n - 1) }))).toBe('MALFORMED');
  });
});

describe('profile plaintext', () => {
  it('property: encode then decode is the identity, and every profile without an avatar has the same length', () => {
    fc.assert(
      fc.property(fc.nat({ max: Number.MAX_SAFE_INTEGER }), nameArb, aboutArb, (revision, displayName, about) => {
        const p: Profile = { revision, displayName, about, avatar: null };
        const bytes = encodeProfilePlaintext(p);
        expect(bytes.length).toBe(PROFILE_PLAINTEXT_FIXED_LENGTH);
        expect(decodeProfilePlaintext(bytes)).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });

  it('property: an avatar is padded to its Padmé bucket with zeros and comes back byte for byte', () => {
    fc.assert(
      fc.property(fc.integer({ min: 12, max: MAX_PROFILE_AVATAR_BYTES }), (length) => {
        const p: Profile = { ...PROFILE, avatar: { format: 'webp', bytes: webp(length) } };
        const bytes = encodeProfilePlaintext(p);
        expect(bytes.length).toBe(PROFILE_PLAINTEXT_FIXED_LENGTH + padmeLength(length));
        const back = decodeProfilePlaintext(bytes);
        // Buffer equality: toEqual walks 64 KiB element by element.
        expect(Buffer.from(back.avatar!.bytes).equals(Buffer.from(p.avatar!.bytes))).toBe(true);
        expect({ ...back, avatar: null }).toEqual({ ...p, avatar: null });
      }),
      { numRuns: 60 },
    );
  });

  it('names of one and of 128 bytes both take the whole field: the length does not show', () => {
    const short = encodeProfilePlaintext({ ...PROFILE, displayName: 'A' });
    const long = encodeProfilePlaintext({ ...PROFILE, displayName: 'é'.repeat(MAX_PROFILE_NAME_BYTES / 2) });
    expect(short.length).toBe(long.length);
  });

  it('the owner cannot encode a name or about line that breaks the rule, or a non-WebP avatar', () => {
    for (const displayName of ['', '   ', 'a\nb', 'tab\there', '\u0085', 'x'.repeat(MAX_PROFILE_NAME_BYTES + 1)]) {
      expect(() => encodeProfilePlaintext({ ...PROFILE, displayName }), JSON.stringify(displayName)).toThrow(RangeError);
    }
    expect(() => encodeProfilePlaintext({ ...PROFILE, about: 'x'.repeat(MAX_PROFILE_ABOUT_BYTES + 1) })).toThrow(RangeError);
    expect(() => encodeProfilePlaintext({ ...PROFILE, about: 'two\nlines' })).toThrow(RangeError);
    expect(() => encodeProfilePlaintext({ ...PROFILE, avatar: { format: 'webp', bytes: new Uint8Array(100) } })).toThrow(RangeError);
    expect(() => encodeProfilePlaintext({ ...PROFILE, avatar: { format: 'webp', bytes: webp(MAX_PROFILE_AVATAR_BYTES + 1) } })).toThrow(RangeError);
    expect(() => encodeProfilePlaintext({ ...PROFILE, revision: -1 })).toThrow(RangeError);
    // The limits are bytes, not characters: 128 ASCII fits, 43 three-byte characters do not.
    expect(displayNameProblem('x'.repeat(MAX_PROFILE_NAME_BYTES))).toBeNull();
    expect(displayNameProblem('中'.repeat(43))).toBe('too-long');
  });

  it('a peer’s plaintext that breaks the rule is MALFORMED: bad padding, lengths, UTF-8, format, trailing bytes', () => {
    const good = encodeProfilePlaintext({ ...PROFILE, avatar: { format: 'webp', bytes: webp(1000) } });
    const at = (offset: number, value: number) => {
      const b = good.slice();
      b[offset] = value;
      return b;
    };
    const nameField = 8;
    const aboutField = nameField + 2 + MAX_PROFILE_NAME_BYTES;
    const avatarField = aboutField + 2 + MAX_PROFILE_ABOUT_BYTES;
    const emptyName = good.slice();
    emptyName.set([0, 0], nameField);
    emptyName.fill(0, nameField + 2, aboutField);
    const cases: Record<string, Uint8Array> = {
      'name padding not zero': at(aboutField - 1, 1),
      'name longer than its field': at(nameField, 0xff),
      'empty name': emptyName,
      'about padding not zero': at(avatarField - 1, 1),
      'name not UTF-8': at(nameField + 2, 0xff),
      'name with a control character': at(nameField + 2, 0x0a),
      'unknown avatar format': at(avatarField, 2),
      'avatar padding not zero': at(good.length - 1, 1),
      'avatar not WebP': at(avatarField + 5, 0),
      'trailing byte': concatBytes(good, Uint8Array.of(0)),
      'truncated': good.subarray(0, good.length - 1),
      'revision above 2^53 − 1': at(0, 0xff),
      'avatar length without an avatar': (() => {
        const b = encodeProfilePlaintext(PROFILE);
        b[b.length - 1] = 1;
        return b;
      })(),
    };
    for (const [name, bytes] of Object.entries(cases)) expect(codeOf(() => decodeProfilePlaintext(bytes)), name).toBe('MALFORMED');
    expect(Object.keys(cases)).toHaveLength(13);
  });
});

describe('encrypted profiles', () => {
  it('property: what the owner encrypts, a holder of the key decrypts for that account', () => {
    fc.assert(
      fc.property(nameArb, aboutArb, fc.boolean(), fc.uint8Array({ minLength: 32, maxLength: 32 }), (displayName, about, withAvatar, key) => {
        const p: Profile = { revision: 1, displayName, about, avatar: withAvatar ? { format: 'webp', bytes: webp(500) } : null };
        const bytes = encryptProfile(p, key, ACCOUNT, { rng: rng() });
        expect(bytes.length).toBe(withAvatar ? MIN_ENCRYPTED_PROFILE_BYTES + padmeLength(500) : MIN_ENCRYPTED_PROFILE_BYTES);
        expect(decryptProfile(bytes, key, ACCOUNT)).toEqual(p);
      }),
      { numRuns: 100 },
    );
  });

  it('the largest avatar gives exactly MAX_ENCRYPTED_PROFILE_BYTES', () => {
    const bytes = encryptProfile({ ...PROFILE, avatar: { format: 'webp', bytes: webp(MAX_PROFILE_AVATAR_BYTES) } }, KEY, ACCOUNT, { rng: rng() });
    expect(bytes.length).toBe(MAX_ENCRYPTED_PROFILE_BYTES);
    expect(parseEncryptedProfile(bytes).keyId).toEqual(profileKeyId(KEY));
  });

  it('a rotated key opens nothing made before (PROFILE_KEY_MISMATCH), and the old key nothing made after', () => {
    const before = encryptProfile(PROFILE, KEY, ACCOUNT, { rng: rng() });
    const rotated = newProfileKey({ rng: deterministicRng('rotation') });
    const after = encryptProfile({ ...PROFILE, revision: 8 }, rotated, ACCOUNT, { rng: rng() });
    expect(codeOf(() => decryptProfile(before, rotated, ACCOUNT))).toBe('PROFILE_KEY_MISMATCH');
    expect(codeOf(() => decryptProfile(after, KEY, ACCOUNT))).toBe('PROFILE_KEY_MISMATCH');
    expect(decryptProfile(after, rotated, ACCOUNT).revision).toBe(8);
  });

  it('property: any flipped bit after the key id, or another account id, is PROFILE_AUTH_FAILED', () => {
    const bytes = encryptProfile(PROFILE, KEY, ACCOUNT, { rng: rng() });
    fc.assert(
      fc.property(fc.integer({ min: 1 + 16, max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 }), (offset, bit) => {
        const tampered = bytes.slice();
        tampered[offset]! ^= 1 << bit;
        expect(codeOf(() => decryptProfile(tampered, KEY, ACCOUNT))).toBe('PROFILE_AUTH_FAILED');
      }),
      { numRuns: 300 },
    );
    // The relay serving Alice's profile as Bob's (were the key the same) does not open either.
    expect(codeOf(() => decryptProfile(bytes, KEY, OTHER_ACCOUNT))).toBe('PROFILE_AUTH_FAILED');
  });

  it('a flipped key-id bit is PROFILE_KEY_MISMATCH; a wrong version, a short or an oversized profile is MALFORMED', () => {
    const bytes = encryptProfile(PROFILE, KEY, ACCOUNT, { rng: rng() });
    const keyIdFlipped = bytes.slice();
    keyIdFlipped[1]! ^= 1;
    expect(codeOf(() => decryptProfile(keyIdFlipped, KEY, ACCOUNT))).toBe('PROFILE_KEY_MISMATCH');
    const version = bytes.slice();
    version[0] = 2;
    expect(codeOf(() => decryptProfile(version, KEY, ACCOUNT))).toBe('MALFORMED');
    expect(codeOf(() => decryptProfile(bytes.subarray(0, bytes.length - 1), KEY, ACCOUNT))).toBe('MALFORMED');
    expect(codeOf(() => parseEncryptedProfile(new Uint8Array(MAX_ENCRYPTED_PROFILE_BYTES + 1)))).toBe('MALFORMED');
    expect(codeOf(() => parseEncryptedProfile(new Uint8Array(ENCRYPTED_PROFILE_HEADER_LENGTH)))).toBe('MALFORMED');
  });

  it('a plaintext that authenticates but breaks the rule is MALFORMED, never shown', () => {
    const plaintext = encodeProfilePlaintext(PROFILE);
    plaintext[8 + 2] = 0x07; // a bell character in the name
    expect(codeOf(() => decryptProfile(encryptRaw(plaintext), KEY, ACCOUNT))).toBe('MALFORMED');
    // The hand-made encryptor is the real one for a valid plaintext.
    expect(decryptProfile(encryptRaw(encodeProfilePlaintext(PROFILE)), KEY, ACCOUNT)).toEqual(PROFILE);
  });

  it('encrypting draws exactly the 12-byte nonce', () => {
    const draws: number[] = [];
    encryptProfile(PROFILE, KEY, ACCOUNT, {
      rng: (n) => {
        draws.push(n);
        return new Uint8Array(n);
      },
    });
    expect(draws).toEqual([12]);
  });
});
