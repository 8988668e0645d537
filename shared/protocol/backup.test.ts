import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { concatBytes, toHex, utf8 } from '../crypto/bytes.js';
import { ed25519Verify } from '../crypto/ed25519.js';
import { deterministicRng } from '../testing/deterministic-rng.js';
import { padmeLength, sealSegment } from './attachment-cipher.js';
import {
  authenticateBackupHeader,
  BACKUP_MAGIC,
  backupLayout,
  backupRequestSignatureInput,
  BackupReader,
  BackupSection,
  BackupWriter,
  deriveBackupKeys,
  encodeBackupHeader,
  encodeSectionHeader,
  newRecoveryKey,
  openBackup,
  openBackupContentKey,
  parseBackupHeader,
  recoveryKeyToWords,
  RecoveryWordsError,
  RECOVERY_WORD_LIST,
  sealBackup,
  signBackupRequest,
  wordsToRecoveryKey,
  type BackupContent,
  type BackupEvent,
  type BackupHeader,
  type NewBackupHeader,
} from './backup.js';
import { ATTACHMENT_SEGMENT_SIZE, BACKUP_HEADER_LENGTH, Label } from './constants.js';
import { isProtocolError, type ProtocolErrorCode } from './errors.js';

const SEG = ATTACHMENT_SEGMENT_SIZE;
const rng = deterministicRng('backup.test');
const recoveryKey = newRecoveryKey({ rng });
const otherKey = newRecoveryKey({ rng });
const PARAMS = { memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 };
/** Stand-ins for Argon2id outputs (the protocol takes them already derived; the engine runs Argon2id). */
const stretched = rng(32);
const wrongStretched = rng(32);
const T = 1_800_000_000_000;

function newHeader(over: Partial<NewBackupHeader> = {}): NewBackupHeader {
  return { recoveryKey, kdf: { kind: 'recovery-key' }, backupSalt: rng(32), contentSalt: rng(32), createdAt: T, stretched: null, ...over };
}

const content: BackupContent = {
  account: utf8('{"v":1}'),
  messages: [new Uint8Array(300).fill(2), new Uint8Array(40).fill(3)],
  attachments: [
    { attachmentId: new Uint8Array(16).fill(4), bytes: Uint8Array.from({ length: 2 * SEG + 77 }, (_, i) => i % 251) },
    { attachmentId: new Uint8Array(16).fill(5), bytes: new Uint8Array(0) },
  ],
};

function code(run: () => unknown): ProtocolErrorCode | 'ok' | string {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (isProtocolError(e)) return e.code;
    return `not a ProtocolError: ${String(e)}`;
  }
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice();
  out[at]! ^= 0x01;
  return out;
}

/** Seals arbitrary content plaintext (already padded by the caller) under a real header: crafts what a key holder could write. */
function sealRaw(plaintext: Uint8Array): Uint8Array {
  const { header, contentKey } = encodeBackupHeader(newHeader());
  const parts = [header.bytes];
  const n = Math.max(1, Math.ceil(plaintext.length / SEG));
  for (let i = 0; i < n; i++) parts.push(sealSegment(contentKey, header.ad, i, i === n - 1, plaintext.subarray(i * SEG, (i + 1) * SEG)));
  return concatBytes(...parts);
}

function padded(plain: Uint8Array): Uint8Array {
  const out = new Uint8Array(padmeLength(plain.length));
  out.set(plain);
  return out;
}

const section = (type: number, body: Uint8Array): Uint8Array => concatBytes(encodeSectionHeader(type, body.length), body);
const END = encodeSectionHeader(BackupSection.end, 0);
const ACCOUNT = section(BackupSection.account, utf8('{}'));

describe('recovery words', () => {
  it('a recovery key is 24 list words and the words give the same key back', () => {
    const words = recoveryKeyToWords(recoveryKey);
    expect(words).toHaveLength(24);
    for (const w of words) expect(RECOVERY_WORD_LIST).toContain(w);
    expect(toHex(wordsToRecoveryKey(words))).toBe(toHex(recoveryKey));
  });

  it('what a person types is forgiven for case, spacing, line breaks and commas, nothing else', () => {
    const words = recoveryKeyToWords(recoveryKey);
    const typed = `  ${words.slice(0, 12).join('  ').toUpperCase()}\n${words.slice(12).join(', ')}  `;
    expect(toHex(wordsToRecoveryKey(typed))).toBe(toHex(recoveryKey));
  });

  it('a word not in the list is BACKUP_BAD_WORD at its position, and the message never holds the word', () => {
    const words = recoveryKeyToWords(recoveryKey);
    words[4] = 'zebrax';
    let err: unknown;
    try {
      wordsToRecoveryKey(words);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RecoveryWordsError);
    expect((err as RecoveryWordsError).code).toBe('BACKUP_BAD_WORD');
    expect((err as RecoveryWordsError).position).toBe(4);
    expect((err as Error).message).not.toContain('zebrax');
  });

  it('23 or 25 words are BACKUP_BAD_WORD without a position', () => {
    const words = recoveryKeyToWords(recoveryKey);
    for (const w of [words.slice(0, 23), [...words, 'abandon']]) {
      let err: unknown;
      try {
        wordsToRecoveryKey(w);
      } catch (e) {
        err = e;
      }
      expect((err as RecoveryWordsError).code).toBe('BACKUP_BAD_WORD');
      expect((err as RecoveryWordsError).position).toBeNull();
    }
  });

  it('list words that fail the checksum (two swapped, one replaced) are BACKUP_BAD_CHECKSUM', () => {
    const words = recoveryKeyToWords(recoveryKey);
    const swapped = [...words];
    [swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!];
    expect(swapped).not.toEqual(words);
    expect(code(() => wordsToRecoveryKey(swapped))).toBe('BACKUP_BAD_CHECKSUM');
    // Every replacement of the last word but one in 256 breaks the 8-bit checksum: count them.
    let failures = 0;
    for (const w of RECOVERY_WORD_LIST.slice(0, 64)) {
      if (w === words[23]) continue;
      if (code(() => wordsToRecoveryKey([...words.slice(0, 23), w])) === 'BACKUP_BAD_CHECKSUM') failures++;
    }
    expect(failures).toBeGreaterThanOrEqual(56);
  });
});

describe('derived keys', () => {
  it('backup id, auth key, MAC key, wrap and content keys are all different (separate labels) and depend on the recovery key', () => {
    const k = deriveBackupKeys(recoveryKey);
    const o = deriveBackupKeys(otherKey);
    expect(k.backupId).toHaveLength(16);
    const { contentKey } = encodeBackupHeader(newHeader());
    const hexes = [k.backupId, k.authPrivateKey, k.authPublicKey, k.macKey, contentKey].map(toHex);
    expect(new Set(hexes.map((h) => h.slice(0, 32))).size).toBe(5);
    expect(toHex(o.backupId)).not.toBe(toHex(k.backupId));
    expect(toHex(o.authPublicKey)).not.toBe(toHex(k.authPublicKey));
  });

  it('the same recovery key always names the same backup id (one current backup per id at the relay)', () => {
    expect(toHex(deriveBackupKeys(wordsToRecoveryKey(recoveryKeyToWords(recoveryKey))).backupId)).toBe(toHex(deriveBackupKeys(recoveryKey).backupId));
  });

  it('two backups under one backup salt get different content keys (fresh content salt)', () => {
    const backupSalt = rng(32);
    const a = encodeBackupHeader(newHeader({ backupSalt }));
    const b = encodeBackupHeader(newHeader({ backupSalt }));
    expect(toHex(a.contentKey)).not.toBe(toHex(b.contentKey));
    expect(toHex(a.header.keyCommitment)).not.toBe(toHex(b.header.keyCommitment));
  });

  it('no label is a prefix of another (inputs starting with different labels never collide)', () => {
    const labels = Object.values(Label);
    for (const a of labels) for (const b of labels) if (a !== b) expect(b.startsWith(a), `${a} / ${b}`).toBe(false);
  });

  it('a request signature verifies under the auth public key only for its relay, nonce, time, id and operation', () => {
    const keys = deriveBackupKeys(recoveryKey);
    const relayId = rng(16);
    const nonce = rng(32);
    const sig = signBackupRequest(keys, relayId, nonce, T, 'put');
    expect(ed25519Verify(keys.authPublicKey, backupRequestSignatureInput(relayId, nonce, T, keys.backupId, 'put'), sig)).toBe(true);
    expect(ed25519Verify(keys.authPublicKey, backupRequestSignatureInput(relayId, nonce, T, keys.backupId, 'get'), sig)).toBe(false);
    expect(ed25519Verify(keys.authPublicKey, backupRequestSignatureInput(relayId, rng(32), T, keys.backupId, 'put'), sig)).toBe(false);
    expect(ed25519Verify(keys.authPublicKey, backupRequestSignatureInput(rng(16), nonce, T, keys.backupId, 'put'), sig)).toBe(false);
    expect(ed25519Verify(keys.authPublicKey, backupRequestSignatureInput(relayId, nonce, T + 1, keys.backupId, 'put'), sig)).toBe(false);
    expect(ed25519Verify(deriveBackupKeys(otherKey).authPublicKey, backupRequestSignatureInput(relayId, nonce, T, keys.backupId, 'put'), sig)).toBe(false);
  });
});

describe('seal and open', () => {
  it('a backup without a passphrase opens to exactly what was written, across segment boundaries', () => {
    const { header, blob } = sealBackup(newHeader(), content);
    expect(toHex(blob.subarray(0, 8))).toBe(toHex(BACKUP_MAGIC));
    const opened = openBackup(blob, recoveryKey, null);
    expect(opened.header.createdAt).toBe(T);
    expect(toHex(opened.header.bytes)).toBe(toHex(header.bytes));
    expect(toHex(opened.content.account)).toBe(toHex(content.account));
    expect(opened.content.messages.map(toHex)).toEqual(content.messages.map(toHex));
    expect(opened.content.attachments.map((a) => [toHex(a.attachmentId), toHex(a.bytes)])).toEqual(content.attachments.map((a) => [toHex(a.attachmentId), toHex(a.bytes)]));
  });

  it('the blob is header ‖ STREAM segments over the Padmé-padded content', () => {
    const { blob } = sealBackup(newHeader(), content);
    const contentLength = 9 + content.account.length + content.messages.reduce((n, m) => n + 9 + m.length, 0) + content.attachments.reduce((n, a) => n + 9 + 16 + a.bytes.length, 0) + 9;
    const P = padmeLength(contentLength);
    const n = Math.ceil(P / SEG);
    expect(blob.length).toBe(BACKUP_HEADER_LENGTH + P + 16 * n);
    expect(backupLayout(blob.length).segments).toBe(n);
  });

  it('a passphrase backup opens with the right stretched passphrase only', () => {
    const { blob } = sealBackup(newHeader({ kdf: { kind: 'passphrase', params: PARAMS }, stretched }), content);
    const header = parseBackupHeader(blob);
    expect(header.kdf).toEqual({ kind: 'passphrase', params: PARAMS });
    expect(toHex(openBackup(blob, recoveryKey, stretched).content.account)).toBe(toHex(content.account));
    expect(code(() => openBackup(blob, recoveryKey, wrongStretched))).toBe('BACKUP_WRONG_PASSPHRASE');
    expect(code(() => openBackup(blob, recoveryKey, null))).toBe('BACKUP_PASSPHRASE_REQUIRED');
  });

  it('the wrong recovery words are BACKUP_WRONG_RECOVERY_KEY, with or without a passphrase', () => {
    const plain = sealBackup(newHeader(), content).blob;
    const pass = sealBackup(newHeader({ kdf: { kind: 'passphrase', params: PARAMS }, stretched }), content).blob;
    expect(code(() => openBackup(plain, otherKey, null))).toBe('BACKUP_WRONG_RECOVERY_KEY');
    expect(code(() => openBackup(pass, otherKey, stretched))).toBe('BACKUP_WRONG_RECOVERY_KEY');
  });

  it('a backup with only the account and no messages or attachments round-trips', () => {
    const { blob } = sealBackup(newHeader(), { account: utf8('{}'), messages: [], attachments: [] });
    const opened = openBackup(blob, recoveryKey, null).content;
    expect(opened.messages).toEqual([]);
    expect(opened.attachments).toEqual([]);
  });

  it('property: any content read in chunks of any size gives the same events', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { maxLength: 3 }),
        fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 3 }),
        fc.integer({ min: 1, max: 700 }),
        (account, messages, attachmentLengths, chunk) => {
          const c: BackupContent = {
            account,
            messages,
            attachments: attachmentLengths.map((len, i) => ({ attachmentId: new Uint8Array(16).fill(i + 1), bytes: new Uint8Array(len).fill(i + 9) })),
          };
          const { header, blob } = sealBackup(newHeader(), c);
          const key = openBackupContentKey(header, recoveryKey, null);
          const reader = new BackupReader(header, key, blob.length);
          const events: BackupEvent[] = [];
          for (let o = BACKUP_HEADER_LENGTH; o < blob.length; o += chunk) events.push(...reader.push(blob.subarray(o, Math.min(o + chunk, blob.length))));
          reader.finish();
          const data = events.filter((e) => e.kind === 'attachment-data').reduce((n, e) => n + (e.kind === 'attachment-data' ? e.bytes.length : 0), 0);
          expect(data).toBe(attachmentLengths.reduce((a, b) => a + b, 0));
          expect(events.filter((e) => e.kind === 'messages').length).toBe(messages.length);
          expect(events[0]!.kind).toBe('account');
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('bad input is a typed error, before any key or Argon2id is needed where possible', () => {
  const { blob } = sealBackup(newHeader(), content);
  const passBlob = sealBackup(newHeader({ kdf: { kind: 'passphrase', params: PARAMS }, stretched }), content).blob;

  it('bytes that are not a backup are MALFORMED; an empty or cut header is TRUNCATED', () => {
    expect(code(() => parseBackupHeader(utf8('PK\x03\x04 a zip file, not a backup')))).toBe('MALFORMED');
    expect(code(() => parseBackupHeader(new Uint8Array(0)))).toBe('TRUNCATED');
    expect(code(() => parseBackupHeader(blob.subarray(0, 5)))).toBe('TRUNCATED');
    expect(code(() => parseBackupHeader(blob.subarray(0, BACKUP_HEADER_LENGTH - 1)))).toBe('TRUNCATED');
  });

  it('a newer format version is UNSUPPORTED_VERSION saying so, whatever follows it', () => {
    const newer = concatBytes(BACKUP_MAGIC, Uint8Array.of(2), new Uint8Array(3).fill(0xee));
    let err: unknown;
    try {
      parseBackupHeader(newer);
    } catch (e) {
      err = e;
    }
    expect(isProtocolError(err, 'UNSUPPORTED_VERSION')).toBe(true);
    expect((err as Error).message).toMatch(/newer/);
    const v2 = blob.slice();
    v2[8] = 2;
    expect(code(() => openBackup(v2, recoveryKey, null))).toBe('UNSUPPORTED_VERSION');
  });

  it('Argon2id parameters out of bounds are refused by the header parser (no key, no Argon2id)', () => {
    const cases: [number, number][] = [
      [10, 64 * 1024 - 1], // m below 64 MiB
      [10, 1024 * 1024 + 1], // m above 1 GiB
      [14, 2], // t below 3
      [14, 11], // t above 10
      [18, 0], // p below 1
      [18, 5], // p above 4
    ];
    for (const [at, value] of cases) {
      const b = passBlob.slice();
      new DataView(b.buffer).setUint32(at, value, false);
      expect(code(() => parseBackupHeader(b)), `offset ${at} = ${value}`).toBe('BACKUP_PARAMS_OUT_OF_BOUNDS');
    }
    expect(code(() => encodeBackupHeader(newHeader({ kdf: { kind: 'passphrase', params: { ...PARAMS, iterations: 2 } }, stretched })))).toBe('BACKUP_PARAMS_OUT_OF_BOUNDS');
  });

  it('an unknown kdf, parameters in a backup without a passphrase, another segment size are MALFORMED', () => {
    const kdf = blob.slice();
    kdf[9] = 3;
    expect(code(() => parseBackupHeader(kdf))).toBe('MALFORMED');
    const params = blob.slice();
    params[13] = 1;
    expect(code(() => parseBackupHeader(params))).toBe('MALFORMED');
    const seg = blob.slice();
    new DataView(seg.buffer).setUint32(110, SEG * 2, false);
    expect(code(() => parseBackupHeader(seg))).toBe('MALFORMED');
  });

  it('every changed header byte after the version fails: the backup id as the wrong words, the rest as BACKUP_TAMPERED', () => {
    // kdf (9), parameters (10-21: a flipped low bit stays in bounds), salts, createdAt, backup id, segment size, commitment, MAC.
    const results = new Map<string, number>();
    for (let at = 9; at < BACKUP_HEADER_LENGTH; at++) {
      const b = flip(passBlob, at);
      const c = code(() => openBackup(b, recoveryKey, stretched));
      results.set(c, (results.get(c) ?? 0) + 1);
      // Parsed before any key: the kdf byte, a createdAt above 2^53 - 1 (its top byte), the segment size.
      if (at === 9 || at === 86 || (at >= 110 && at < 114)) expect(c, `byte ${at}`).toBe('MALFORMED');
      else if (at >= 10 && at < 22) expect(['BACKUP_PARAMS_OUT_OF_BOUNDS', 'BACKUP_TAMPERED'], `byte ${at}`).toContain(c);
      else if (at >= 94 && at < 110) expect(c, `byte ${at}`).toBe('BACKUP_WRONG_RECOVERY_KEY');
      else expect(c, `byte ${at}`).toBe('BACKUP_TAMPERED');
    }
    expect(results.get('ok')).toBeUndefined();
  });

  it('a header changed within the Argon2id bounds fails at the MAC, before the passphrase is needed', () => {
    const b = passBlob.slice();
    new DataView(b.buffer).setUint32(10, 1024 * 1024, false); // 1 GiB: in bounds, but not what was written
    const header = parseBackupHeader(b);
    expect(code(() => authenticateBackupHeader(header, recoveryKey))).toBe('BACKUP_TAMPERED');
  });

  it('a flipped content byte in any segment is BACKUP_TAMPERED', () => {
    const layout = backupLayout(blob.length);
    expect(layout.segments).toBeGreaterThanOrEqual(3);
    for (const at of [BACKUP_HEADER_LENGTH, BACKUP_HEADER_LENGTH + SEG + 20, blob.length - 1]) {
      expect(code(() => openBackup(flip(blob, at), recoveryKey, null)), `byte ${at}`).toBe('BACKUP_TAMPERED');
    }
  });

  it('segments swapped in from another backup under the same recovery key fail (AD binds the header)', () => {
    const other = sealBackup(newHeader(), content).blob;
    const mixed = concatBytes(blob.subarray(0, BACKUP_HEADER_LENGTH), other.subarray(BACKUP_HEADER_LENGTH));
    expect(code(() => openBackup(mixed, recoveryKey, null))).toBe('BACKUP_TAMPERED');
  });

  it('a truncated blob is TRUNCATED at a segment boundary or inside a tag, BACKUP_TAMPERED inside a segment; never a partial result', () => {
    expect(code(() => openBackup(blob.subarray(0, BACKUP_HEADER_LENGTH), recoveryKey, null))).toBe('TRUNCATED');
    expect(code(() => openBackup(blob.subarray(0, BACKUP_HEADER_LENGTH + 10), recoveryKey, null))).toBe('TRUNCATED');
    expect(code(() => openBackup(blob.subarray(0, BACKUP_HEADER_LENGTH + SEG + 16), recoveryKey, null))).toBe('TRUNCATED');
    expect(code(() => openBackup(blob.subarray(0, BACKUP_HEADER_LENGTH + 2 * (SEG + 16) + 5), recoveryKey, null))).toBe('TRUNCATED');
    expect(code(() => openBackup(blob.subarray(0, blob.length - 1), recoveryKey, null))).toBe('BACKUP_TAMPERED');
    expect(code(() => openBackup(blob.subarray(0, BACKUP_HEADER_LENGTH + 1000), recoveryKey, null))).toBe('BACKUP_TAMPERED');
  });

  it('bytes appended after the final segment fail', () => {
    expect(code(() => openBackup(concatBytes(blob, new Uint8Array(1)), recoveryKey, null))).not.toBe('ok');
    const oneSegment = sealBackup(newHeader(), { account: utf8('{}'), messages: [], attachments: [] }).blob;
    expect(code(() => openBackup(concatBytes(oneSegment, new Uint8Array(100)), recoveryKey, null))).toBe('BACKUP_TAMPERED');
  });

  it('the reader releases the account before the last segment, but finish() is what says the whole backup is authentic', () => {
    const parsed = parseBackupHeader(blob);
    const key = openBackupContentKey(parsed, recoveryKey, null);
    const reader = new BackupReader(parsed, key, blob.length);
    const events = reader.push(blob.subarray(BACKUP_HEADER_LENGTH, BACKUP_HEADER_LENGTH + SEG + 16));
    expect(events[0]!.kind).toBe('account');
    expect(code(() => reader.finish())).toBe('TRUNCATED');
  });
});

describe('content is parsed strictly (what only a key holder could write, still refused)', () => {
  const open = (plain: Uint8Array): string => code(() => openBackup(sealRaw(padded(plain)), recoveryKey, null));

  it('a well-formed crafted content opens (the helper is sound)', () => {
    expect(open(concatBytes(ACCOUNT, END))).toBe('ok');
  });

  it.each<[string, Uint8Array]>([
    ['no account first', concatBytes(section(BackupSection.messages, new Uint8Array(5)), END)],
    ['two accounts', concatBytes(ACCOUNT, ACCOUNT, END)],
    ['an empty account', concatBytes(section(BackupSection.account, new Uint8Array(0)), END)],
    ['an empty messages section', concatBytes(ACCOUNT, section(BackupSection.messages, new Uint8Array(0)), END)],
    ['messages after attachments', concatBytes(ACCOUNT, section(BackupSection.attachment, new Uint8Array(20)), section(BackupSection.messages, new Uint8Array(5)), END)],
    ['an attachment shorter than its id', concatBytes(ACCOUNT, section(BackupSection.attachment, new Uint8Array(15)), END)],
    ['the same attachment twice', concatBytes(ACCOUNT, section(BackupSection.attachment, new Uint8Array(20)), section(BackupSection.attachment, new Uint8Array(20)), END)],
    ['an unknown section type', concatBytes(ACCOUNT, section(0x04, new Uint8Array(3)), END)],
    ['an End section with a body', concatBytes(ACCOUNT, section(BackupSection.end, new Uint8Array(1)))],
    ['no End section', ACCOUNT],
    ['a section longer than the content', concatBytes(ACCOUNT, encodeSectionHeader(BackupSection.messages, 1000), new Uint8Array(10))],
    ['an account length beyond 16 MiB', concatBytes(encodeSectionHeader(BackupSection.account, 16 * 1024 * 1024 + 1), new Uint8Array(10))],
    ['a u64 length above 2^53 - 1', concatBytes(Uint8Array.of(BackupSection.account, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), END)],
  ])('%s is MALFORMED', (_name, plain) => {
    expect(open(plain)).toBe('MALFORMED');
  });

  it('non-zero padding after End is MALFORMED', () => {
    const p = padded(concatBytes(ACCOUNT, END, new Uint8Array(3)));
    p[p.length - 1] = 1;
    expect(code(() => openBackup(sealRaw(p), recoveryKey, null))).toBe('MALFORMED');
  });

  it('padding that is not the Padmé bucket of the content is MALFORMED', () => {
    const plain = concatBytes(ACCOUNT, section(BackupSection.messages, new Uint8Array(1000)), END);
    expect(padmeLength(plain.length)).not.toBe(plain.length + 100);
    expect(code(() => openBackup(sealRaw(concatBytes(plain, new Uint8Array(padmeLength(plain.length) - plain.length + 64))), recoveryKey, null))).toBe('MALFORMED');
  });
});

describe('writer misuse is a bug, not output', () => {
  it('sections out of order or attachment data beyond its length throw before anything is sealed', () => {
    const { header, contentKey } = encodeBackupHeader(newHeader());
    const w = new BackupWriter(header, contentKey);
    expect(() => w.messages(new Uint8Array(3))).toThrow();
    w.account(utf8('{}'));
    w.attachmentStart(new Uint8Array(16), 2);
    expect(() => w.attachmentData(new Uint8Array(3))).toThrow();
    expect(() => w.finish()).toThrow();
  });

  it('a header without a passphrase cannot carry a stretched passphrase, and one with cannot lack it', () => {
    expect(() => encodeBackupHeader(newHeader({ stretched }))).toThrow(RangeError);
    expect(() => encodeBackupHeader(newHeader({ kdf: { kind: 'passphrase', params: PARAMS } }))).toThrow(RangeError);
    const header: BackupHeader = encodeBackupHeader(newHeader()).header;
    expect(() => openBackupContentKey(header, recoveryKey, stretched)).toThrow(RangeError);
  });
});
