/**
 * Backups (DESIGN §3.9, docs/protocol.md §25): the recovery key behind 24 words, every key derived
 * from it, the backup header, and the content framing, segmented with the file cipher's STREAM
 * segments (attachment-cipher.ts, §17.3).
 *
 *   recovery key = the 32 bytes of BIP39 entropy behind 24 English words (@scure/bip39; never the
 *                  BIP39 seed, `mnemonicToSeed`)
 *   backup id    = HKDF(rk, Parley_v1_BackupId, 16)       the relay's name for the current backup
 *   auth key     = HKDF(rk, Parley_v1_BackupAuth, 32)     Ed25519 seed: signs relay requests
 *   MAC key      = HKDF(rk, Parley_v1_BackupMacKey, 32)   authenticates the header
 *   wrap key     = HKDF(rk, salt, Parley_v1_BackupWrap)                       no passphrase
 *                = HKDF(rk ‖ Argon2id(pass, salt, m,t,p), salt, Parley_v1_BackupPassphraseWrap)
 *   content key  = HKDF(wrap key, content salt, Parley_v1_BackupContent)     fresh per backup
 *   blob         = header (178) ‖ sealed₀ ‖ … ‖ sealedₙ₋₁,   ADᵢ = SHA-256(header)
 *
 * The header is in clear and MAC'd under a key from the recovery key alone, so a reader tells the
 * wrong words (backup id), a changed header (MAC), a wrong passphrase (the content key's commitment)
 * and a changed or cut blob (segments) apart, and refuses Argon2id parameters out of bounds before
 * anything runs. The content is a sequence of sections (account JSON, §22 history archives,
 * attachments) ended by an End section and Padmé zero padding.
 *
 * Owns: the words, the derivations, header encoding and checks, the section framing, a streaming
 * writer and reader over the segment functions, and whole-buffer `sealBackup`/`openBackup` for tests
 * and vectors. Does not own: Argon2id (async, the engine's worker: callers pass its output), what
 * the account JSON holds or how archives are imported (the engine), the relay, files, workers.
 * Synchronous and sans-I/O: randomness and time come from the caller.
 *
 * Sharp edges: the reader releases sections as their segments authenticate, but a backup is
 * authentic as a whole only after `finish()`; a restorer MUST stage everything and commit nothing
 * before then (no partial restore). A content key encrypts exactly one backup: the content salt is
 * fresh for every backup, while the backup salt (and so the wrap key) stays as long as the
 * passphrase does, which lets the engine back up daily without asking for the passphrase again.
 */
import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist as englishWords } from '@scure/bip39/wordlists/english.js';
import { concatBytes, constantTimeEqual, toHex, utf8, wipe } from '../crypto/bytes.js';
import { ed25519PublicKey, ed25519Sign } from '../crypto/ed25519.js';
import { assertLength } from '../crypto/errors.js';
import { hkdfSha256 } from '../crypto/hkdf.js';
import { hmacSha256 } from '../crypto/hmac.js';
import type { Rng } from '../crypto/random.js';
import { sha256 } from '../crypto/sha256.js';
import { openSegment, padmeLength, sealSegment } from './attachment-cipher.js';
import { Reader, Writer } from './codec.js';
import {
  ATTACHMENT_SEGMENT_SIZE,
  ATTACHMENT_TAG_LENGTH,
  BACKUP_ARGON2_BOUNDS,
  BACKUP_HEADER_LENGTH,
  BACKUP_ID_LENGTH,
  BACKUP_RECOVERY_KEY_LENGTH,
  BACKUP_RECOVERY_WORDS,
  BACKUP_SALT_LENGTH,
  BACKUP_VERSION,
  MAX_BACKUP_ACCOUNT_BYTES,
  MAX_BACKUP_MESSAGES_SECTION_BYTES,
  RELAY_ID_LENGTH,
  label,
} from './constants.js';
import { ProtocolError } from './errors.js';

const SEG = ATTACHMENT_SEGMENT_SIZE;
const SEALED_SEG = SEG + ATTACHMENT_TAG_LENGTH;
/** "PARLEYBK": what a backup blob or exported file starts with. */
export const BACKUP_MAGIC = utf8('PARLEYBK');
const KEY_LENGTH = 32;
const MAC_LENGTH = 32;
/** The header before its MAC: what the MAC covers. */
const MACED_LENGTH = BACKUP_HEADER_LENGTH - MAC_LENGTH;
const SECTION_HEADER_LENGTH = 9;
export const BACKUP_ATTACHMENT_ID_LENGTH = 16;
/** The relay's single-use challenge nonce a backup request signs. */
export const BACKUP_REQUEST_NONCE_LENGTH = 32;

// ── Recovery words ───────────────────────────────────────────────────────────

/** Recovery words that do not name a recovery key; `position` is the first bad word (0-based), null for a wrong count. */
export class RecoveryWordsError extends ProtocolError {
  constructor(
    code: 'BACKUP_BAD_WORD' | 'BACKUP_BAD_CHECKSUM',
    message: string,
    readonly position: number | null,
  ) {
    super(code, message);
  }
}

const WORD_INDEX: ReadonlyMap<string, number> = new Map(englishWords.map((w, i) => [w, i]));

/** A fresh recovery key (32 bytes from `rng`). */
export function newRecoveryKey(deps: { readonly rng: Rng }): Uint8Array {
  return deps.rng(BACKUP_RECOVERY_KEY_LENGTH);
}

/** The 24 BIP39 English words of a recovery key. */
export function recoveryKeyToWords(recoveryKey: Uint8Array): string[] {
  assertLength(recoveryKey, BACKUP_RECOVERY_KEY_LENGTH, 'recovery key');
  return entropyToMnemonic(recoveryKey, englishWords).split(' ');
}

/**
 * Splits what a person typed or pasted into words: Unicode NFKD, lower case, any run of white
 * space (or commas) between words. Nothing else is forgiven: a word must be in the list exactly.
 */
export function normalizeRecoveryWords(input: string | readonly string[]): string[] {
  const text = typeof input === 'string' ? input : input.join(' ');
  return text
    .normalize('NFKD')
    .toLowerCase()
    .split(/[\s,]+/u)
    .filter((w) => w.length > 0);
}

/**
 * The recovery key behind 24 words. BACKUP_BAD_WORD for a wrong count or a word not in the list
 * (with its position; the word itself is never put in the message), BACKUP_BAD_CHECKSUM when all
 * are list words but the BIP39 checksum fails.
 */
export function wordsToRecoveryKey(input: string | readonly string[]): Uint8Array {
  const words = normalizeRecoveryWords(input);
  if (words.length !== BACKUP_RECOVERY_WORDS) {
    throw new RecoveryWordsError('BACKUP_BAD_WORD', `${BACKUP_RECOVERY_WORDS} recovery words expected, got ${words.length}`, null);
  }
  const bad = words.findIndex((w) => !WORD_INDEX.has(w));
  if (bad >= 0) throw new RecoveryWordsError('BACKUP_BAD_WORD', `word ${bad + 1} is not a recovery word`, bad);
  try {
    return new Uint8Array(mnemonicToEntropy(words.join(' '), englishWords));
  } catch {
    throw new RecoveryWordsError('BACKUP_BAD_CHECKSUM', 'the recovery words do not check out (a typo, or a word out of order)', null);
  }
}

/** The English word list (2,048 words), for a restore screen that completes words as they are typed. */
export const RECOVERY_WORD_LIST: readonly string[] = englishWords;

// ── Keys ─────────────────────────────────────────────────────────────────────

/** What the recovery key alone gives: no passphrase needed. */
export type BackupKeys = {
  readonly backupId: Uint8Array;
  /** Ed25519 seed of the relay request key. */
  readonly authPrivateKey: Uint8Array;
  readonly authPublicKey: Uint8Array;
  readonly macKey: Uint8Array;
};

/** Backup id, relay auth key and header MAC key: separate HKDF labels, no salt (§25.2). */
export function deriveBackupKeys(recoveryKey: Uint8Array): BackupKeys {
  assertLength(recoveryKey, BACKUP_RECOVERY_KEY_LENGTH, 'recovery key');
  const authPrivateKey = hkdfSha256(recoveryKey, undefined, label('BackupAuth'), KEY_LENGTH);
  return {
    backupId: hkdfSha256(recoveryKey, undefined, label('BackupId'), BACKUP_ID_LENGTH),
    authPrivateKey,
    authPublicKey: ed25519PublicKey(authPrivateKey),
    macKey: hkdfSha256(recoveryKey, undefined, label('BackupMacKey'), KEY_LENGTH),
  };
}

export type BackupArgon2Params = {
  /** Memory in KiB. */
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
};

/** BACKUP_PARAMS_OUT_OF_BOUNDS unless m, t, p lie within DESIGN §3.9's bounds: checked before Argon2id runs. */
export function checkBackupArgon2Params(p: BackupArgon2Params): void {
  for (const name of ['memoryKiB', 'iterations', 'parallelism'] as const) {
    const v = p[name];
    const { min, max } = BACKUP_ARGON2_BOUNDS[name];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new ProtocolError('BACKUP_PARAMS_OUT_OF_BOUNDS', `Argon2id ${name} ${v} outside ${min}-${max}`);
    }
  }
}

/** The passphrase as Argon2id's password: NFC-normalised UTF-8 (the same typed text gives the same bytes everywhere). */
export function backupPassphraseBytes(passphrase: string): Uint8Array {
  return utf8(passphrase.normalize('NFC'));
}

/**
 * The wrap key. `stretched` = Argon2id(passphrase bytes, backup salt, params, 32 bytes) when the
 * backup has a passphrase, else null.
 */
export function backupWrapKey(recoveryKey: Uint8Array, backupSalt: Uint8Array, stretched: Uint8Array | null): Uint8Array {
  assertLength(recoveryKey, BACKUP_RECOVERY_KEY_LENGTH, 'recovery key');
  assertLength(backupSalt, BACKUP_SALT_LENGTH, 'backup salt');
  if (stretched === null) return hkdfSha256(recoveryKey, backupSalt, label('BackupWrap'), KEY_LENGTH);
  assertLength(stretched, KEY_LENGTH, 'Argon2id output');
  const ikm = concatBytes(recoveryKey, stretched);
  try {
    return hkdfSha256(ikm, backupSalt, label('BackupPassphraseWrap'), KEY_LENGTH);
  } finally {
    wipe(ikm);
  }
}

/** The content key of one backup: HKDF(wrap key, content salt, Parley_v1_BackupContent). */
export function backupContentKey(wrapKey: Uint8Array, contentSalt: Uint8Array): Uint8Array {
  assertLength(wrapKey, KEY_LENGTH, 'wrap key');
  assertLength(contentSalt, BACKUP_SALT_LENGTH, 'content salt');
  return hkdfSha256(wrapKey, contentSalt, label('BackupContent'), KEY_LENGTH);
}

/** SHA-256(Parley_v1_BackupKeyCommit ‖ content key): in the header, so a wrong passphrase fails before any segment. */
export function backupKeyCommitment(contentKey: Uint8Array): Uint8Array {
  assertLength(contentKey, KEY_LENGTH, 'content key');
  return sha256(label('BackupKeyCommit'), contentKey);
}

// ── Header ───────────────────────────────────────────────────────────────────

export type BackupKdf = { readonly kind: 'recovery-key' } | { readonly kind: 'passphrase'; readonly params: BackupArgon2Params };
const KDF_BYTES = { 'recovery-key': 0x01, passphrase: 0x02 } as const;

export type BackupHeader = {
  /** The 178 header bytes, as they start the blob. */
  readonly bytes: Uint8Array;
  /** SHA-256(header): the AD of every segment. */
  readonly ad: Uint8Array;
  readonly kdf: BackupKdf;
  readonly backupSalt: Uint8Array;
  readonly contentSalt: Uint8Array;
  /** The backing-up device's clock (ms): restore shows it, so an old blob served by the relay is visible. */
  readonly createdAt: number;
  readonly backupId: Uint8Array;
  readonly keyCommitment: Uint8Array;
  readonly mac: Uint8Array;
};

export type NewBackupHeader = {
  readonly recoveryKey: Uint8Array;
  readonly kdf: BackupKdf;
  readonly backupSalt: Uint8Array;
  readonly contentSalt: Uint8Array;
  readonly createdAt: number;
  /** Argon2id(passphrase, backupSalt, kdf.params) for a passphrase backup, else null. */
  readonly stretched: Uint8Array | null;
};

/** The header of a new backup and its content key. RangeError on arguments that do not fit. */
export function encodeBackupHeader(h: NewBackupHeader): { readonly header: BackupHeader; readonly contentKey: Uint8Array } {
  if (!Number.isSafeInteger(h.createdAt) || h.createdAt < 0) throw new RangeError('createdAt out of range');
  if ((h.kdf.kind === 'passphrase') !== (h.stretched !== null)) throw new RangeError('a stretched passphrase goes with exactly the passphrase kdf');
  if (h.kdf.kind === 'passphrase') checkBackupArgon2Params(h.kdf.params);
  assertLength(h.contentSalt, BACKUP_SALT_LENGTH, 'content salt');
  const keys = deriveBackupKeys(h.recoveryKey);
  const wrapKey = backupWrapKey(h.recoveryKey, h.backupSalt, h.stretched);
  const contentKey = backupContentKey(wrapKey, h.contentSalt);
  wipe(wrapKey);
  const params = h.kdf.kind === 'passphrase' ? h.kdf.params : { memoryKiB: 0, iterations: 0, parallelism: 0 };
  const maced = new Writer()
    .bytes(BACKUP_MAGIC)
    .u8(BACKUP_VERSION)
    .u8(KDF_BYTES[h.kdf.kind])
    .u32(params.memoryKiB)
    .u32(params.iterations)
    .u32(params.parallelism)
    .bytes(h.backupSalt)
    .bytes(h.contentSalt)
    .u64(h.createdAt)
    .bytes(keys.backupId)
    .u32(SEG)
    .bytes(backupKeyCommitment(contentKey))
    .finish();
  const bytes = concatBytes(maced, headerMac(keys.macKey, maced));
  wipe(keys.macKey, keys.authPrivateKey);
  return { header: headerFrom(bytes).header, contentKey };
}

function headerMac(macKey: Uint8Array, maced: Uint8Array): Uint8Array {
  return hmacSha256(macKey, concatBytes(label('BackupHeader'), maced));
}

function headerFrom(bytes: Uint8Array): { readonly header: BackupHeader; readonly kdfByte: number; readonly segmentSize: number } {
  const r = new Reader(bytes, 'backup header');
  r.bytes(BACKUP_MAGIC.length);
  r.u8(); // version, checked by the caller first
  const kdfByte = r.u8();
  const params = { memoryKiB: r.u32(), iterations: r.u32(), parallelism: r.u32() };
  const kdf: BackupKdf = kdfByte === KDF_BYTES.passphrase ? { kind: 'passphrase', params } : { kind: 'recovery-key' };
  const backupSalt = r.bytes(BACKUP_SALT_LENGTH);
  const contentSalt = r.bytes(BACKUP_SALT_LENGTH);
  const createdAt = r.u64();
  const backupId = r.bytes(BACKUP_ID_LENGTH);
  const segmentSize = r.u32();
  const keyCommitment = r.bytes(32);
  const mac = r.bytes(MAC_LENGTH);
  r.end();
  return { header: { bytes, ad: sha256(bytes), kdf, backupSalt, contentSalt, createdAt, backupId, keyCommitment, mac }, kdfByte, segmentSize };
}

/**
 * Parses the header at the start of `blob` (§25.4, steps 1-5), before any key is involved: not a
 * backup (MALFORMED), another version (UNSUPPORTED_VERSION; checked before the rest, whose layout a
 * newer version may change), fewer bytes than a header (TRUNCATED), an unknown kdf or parameters
 * that do not fit it (MALFORMED), Argon2id parameters out of bounds (BACKUP_PARAMS_OUT_OF_BOUNDS),
 * another segment size (MALFORMED). Bytes after the header are the caller's (the segments).
 */
export function parseBackupHeader(blob: Uint8Array): BackupHeader {
  const magicPart = blob.subarray(0, Math.min(blob.length, BACKUP_MAGIC.length));
  for (let i = 0; i < magicPart.length; i++) {
    if (magicPart[i] !== BACKUP_MAGIC[i]) throw new ProtocolError('MALFORMED', 'not a Parley backup');
  }
  if (blob.length <= BACKUP_MAGIC.length) throw new ProtocolError('TRUNCATED', 'backup shorter than its header');
  const version = blob[BACKUP_MAGIC.length]!;
  if (version !== BACKUP_VERSION) {
    throw new ProtocolError('UNSUPPORTED_VERSION', version > BACKUP_VERSION ? `backup made by a newer format version (${version})` : `backup format version ${version}`);
  }
  if (blob.length < BACKUP_HEADER_LENGTH) throw new ProtocolError('TRUNCATED', 'backup shorter than its header');
  const { header, kdfByte, segmentSize } = headerFrom(blob.slice(0, BACKUP_HEADER_LENGTH));
  if (kdfByte !== KDF_BYTES['recovery-key'] && kdfByte !== KDF_BYTES.passphrase) throw new ProtocolError('MALFORMED', 'unknown backup kdf');
  if (header.kdf.kind === 'passphrase') checkBackupArgon2Params(header.kdf.params);
  else if (header.bytes.subarray(10, 22).some((b) => b !== 0)) throw new ProtocolError('MALFORMED', 'Argon2id parameters in a backup without a passphrase');
  if (segmentSize !== SEG) throw new ProtocolError('MALFORMED', 'unsupported backup segment size');
  return header;
}

/**
 * Checks that the header belongs to `recoveryKey` (BACKUP_WRONG_RECOVERY_KEY: its backup id is
 * another) and is unchanged (BACKUP_TAMPERED: the MAC, constant-time). Needs no passphrase, so a
 * changed header is caught before Argon2id runs on its parameters.
 */
export function authenticateBackupHeader(header: BackupHeader, recoveryKey: Uint8Array): void {
  const keys = deriveBackupKeys(recoveryKey);
  try {
    if (!constantTimeEqual(keys.backupId, header.backupId)) {
      throw new ProtocolError('BACKUP_WRONG_RECOVERY_KEY', 'these recovery words belong to another backup');
    }
    if (!constantTimeEqual(headerMac(keys.macKey, header.bytes.subarray(0, MACED_LENGTH)), header.mac)) {
      throw new ProtocolError('BACKUP_TAMPERED', 'the backup header was changed');
    }
  } finally {
    wipe(keys.macKey, keys.authPrivateKey);
  }
}

/**
 * The content key of an authenticated header (§25.4 steps 6-9): authenticates the header first,
 * then BACKUP_PASSPHRASE_REQUIRED (a passphrase backup, `stretched` null), BACKUP_WRONG_PASSPHRASE
 * (the key commitment differs), BACKUP_TAMPERED (it differs without a passphrase: only someone
 * holding the recovery key could have made that header). `stretched` for a backup without a
 * passphrase is a bug (RangeError).
 */
export function openBackupContentKey(header: BackupHeader, recoveryKey: Uint8Array, stretched: Uint8Array | null): Uint8Array {
  authenticateBackupHeader(header, recoveryKey);
  if (header.kdf.kind === 'recovery-key' && stretched !== null) throw new RangeError('this backup has no passphrase');
  if (header.kdf.kind === 'passphrase' && stretched === null) throw new ProtocolError('BACKUP_PASSPHRASE_REQUIRED', 'this backup needs its passphrase');
  const wrapKey = backupWrapKey(recoveryKey, header.backupSalt, stretched);
  const contentKey = backupContentKey(wrapKey, header.contentSalt);
  wipe(wrapKey);
  if (!constantTimeEqual(backupKeyCommitment(contentKey), header.keyCommitment)) {
    wipe(contentKey);
    throw header.kdf.kind === 'passphrase'
      ? new ProtocolError('BACKUP_WRONG_PASSPHRASE', 'wrong backup passphrase')
      : new ProtocolError('BACKUP_TAMPERED', 'the backup key commitment does not match');
  }
  return contentKey;
}

// ── Layout ───────────────────────────────────────────────────────────────────

export type BackupLayout = {
  readonly segments: number;
  /** Bytes of the last sealed segment (16 … 2²⁰ + 16). */
  readonly lastSealedLength: number;
};

/**
 * The segment layout of a blob of `blobLength` bytes: TRUNCATED when no segment or only part of a
 * tag follows the header (the blob was cut). A cut inside a segment shows when that segment fails
 * to authenticate (BACKUP_TAMPERED), a cut at a segment boundary as TRUNCATED (§17.6's retry).
 */
export function backupLayout(blobLength: number): BackupLayout {
  if (!Number.isSafeInteger(blobLength) || blobLength < 0) throw new RangeError('blob length out of range');
  const body = blobLength - BACKUP_HEADER_LENGTH;
  if (body < ATTACHMENT_TAG_LENGTH) throw new ProtocolError('TRUNCATED', 'backup ends before its first segment');
  const segments = Math.ceil(body / SEALED_SEG);
  const lastSealedLength = body - (segments - 1) * SEALED_SEG;
  if (lastSealedLength < ATTACHMENT_TAG_LENGTH) throw new ProtocolError('TRUNCATED', 'backup ends inside a tag');
  return { segments, lastSealedLength };
}

/** Byte offset of sealed segment `index` in the blob. */
export function backupSegmentOffset(index: number): number {
  return BACKUP_HEADER_LENGTH + index * SEALED_SEG;
}

/** openSegment (§17.3) under the content key and AD; a segment that does not authenticate is BACKUP_TAMPERED. */
export function openBackupSegment(contentKey: Uint8Array, ad: Uint8Array, index: number, last: boolean, sealed: Uint8Array): Uint8Array {
  try {
    return openSegment(contentKey, ad, index, last, sealed);
  } catch (e) {
    if (e instanceof ProtocolError && e.code === 'SEGMENT_AUTH_FAILED') throw new ProtocolError('BACKUP_TAMPERED', `backup segment ${index} does not authenticate`);
    throw e;
  }
}

// ── Content ──────────────────────────────────────────────────────────────────

/** Section types (§25.6). */
export const BackupSection = { account: 0x01, messages: 0x02, attachment: 0x03, end: 0xff } as const;

/** u8 type ‖ u64 length. */
export function encodeSectionHeader(type: number, length: number): Uint8Array {
  return new Writer().u8(type).u64(length).finish();
}

type WriterPhase = 'account' | 'messages' | 'attachments' | 'attachment-data' | 'done';

/**
 * Writes a backup's content as sealed segments (§25.5, §25.6): `account`, any `messages`, any
 * attachments (`attachmentStart` then exactly `length` bytes of `attachmentData`), `finish`. Each
 * call returns the segments completed by it, in order; a full segment is held back until a byte
 * after it exists, so only `finish` seals the final one. Memory: one segment. Calls out of order,
 * or data beyond an attachment's length, are bugs (Error).
 */
export class BackupWriter {
  readonly #key: Uint8Array;
  readonly #ad: Uint8Array;
  #buffer = new Uint8Array(SEG);
  #buffered = 0;
  #index = 0;
  #length = 0;
  #phase: WriterPhase = 'account';
  #attachmentLeft = 0;
  readonly #attachments = new Set<string>();

  constructor(header: BackupHeader, contentKey: Uint8Array) {
    assertLength(contentKey, KEY_LENGTH, 'content key');
    this.#key = contentKey.slice();
    this.#ad = header.ad;
  }

  /** Plaintext bytes written so far (without padding). */
  get length(): number {
    return this.#length;
  }

  account(json: Uint8Array): Uint8Array[] {
    if (this.#phase !== 'account') throw new Error('backup writer: the account comes first, once');
    if (json.length < 1 || json.length > MAX_BACKUP_ACCOUNT_BYTES) throw new RangeError('account section length');
    this.#phase = 'messages';
    return this.#section(BackupSection.account, json);
  }

  /** One §22 archive (a writer splits long histories over several sections). */
  messages(archive: Uint8Array): Uint8Array[] {
    if (this.#phase !== 'messages') throw new Error('backup writer: messages come after the account and before attachments');
    if (archive.length < 1 || archive.length > MAX_BACKUP_MESSAGES_SECTION_BYTES) throw new RangeError('messages section length');
    return this.#section(BackupSection.messages, archive);
  }

  attachmentStart(attachmentId: Uint8Array, length: number): Uint8Array[] {
    if (this.#phase !== 'messages' && this.#phase !== 'attachments') throw new Error('backup writer: an attachment is not finished');
    assertLength(attachmentId, BACKUP_ATTACHMENT_ID_LENGTH, 'attachment id');
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('attachment length');
    const id = toHex(attachmentId);
    if (this.#attachments.has(id)) throw new Error('backup writer: an attachment twice');
    this.#attachments.add(id);
    this.#phase = length === 0 ? 'attachments' : 'attachment-data';
    this.#attachmentLeft = length;
    return [...this.#push(encodeSectionHeader(BackupSection.attachment, BACKUP_ATTACHMENT_ID_LENGTH + length)), ...this.#push(attachmentId)];
  }

  attachmentData(bytes: Uint8Array): Uint8Array[] {
    if (this.#phase !== 'attachment-data' || bytes.length > this.#attachmentLeft) throw new Error('backup writer: attachment data beyond its length');
    this.#attachmentLeft -= bytes.length;
    if (this.#attachmentLeft === 0) this.#phase = 'attachments';
    return this.#push(bytes);
  }

  /** Writes End, pads with zeros to Padmé(length), and seals the rest with the final segment last. */
  finish(): Uint8Array[] {
    if (this.#phase === 'account' || this.#phase === 'attachment-data' || this.#phase === 'done') throw new Error('backup writer: nothing to finish');
    const out = this.#push(encodeSectionHeader(BackupSection.end, 0));
    this.#phase = 'done';
    let padding = padmeLength(this.#length) - this.#length;
    const zeros = new Uint8Array(Math.min(padding, SEG));
    while (padding > 0) {
      const n = Math.min(padding, zeros.length);
      out.push(...this.#push(zeros.subarray(0, n), false));
      padding -= n;
    }
    out.push(sealSegment(this.#key, this.#ad, this.#index, true, this.#buffer.subarray(0, this.#buffered)));
    wipe(this.#buffer, this.#key);
    return out;
  }

  #section(type: number, body: Uint8Array): Uint8Array[] {
    return [...this.#push(encodeSectionHeader(type, body.length)), ...this.#push(body)];
  }

  #push(bytes: Uint8Array, count = true): Uint8Array[] {
    if (count) this.#length += bytes.length;
    const out: Uint8Array[] = [];
    let o = 0;
    while (o < bytes.length) {
      if (this.#buffered === SEG) {
        // A byte follows this full segment, so it is not the last one.
        out.push(sealSegment(this.#key, this.#ad, this.#index++, false, this.#buffer));
        this.#buffered = 0;
      }
      const n = Math.min(bytes.length - o, SEG - this.#buffered);
      this.#buffer.set(bytes.subarray(o, o + n), this.#buffered);
      this.#buffered += n;
      o += n;
    }
    return out;
  }
}

/** What the reader releases as the content authenticates (§25.6). */
export type BackupEvent =
  | { readonly kind: 'account'; readonly json: Uint8Array }
  | { readonly kind: 'messages'; readonly archive: Uint8Array }
  | { readonly kind: 'attachment'; readonly attachmentId: Uint8Array; readonly length: number }
  | { readonly kind: 'attachment-data'; readonly bytes: Uint8Array }
  | { readonly kind: 'attachment-end' };

function malformed(what: string): ProtocolError {
  return new ProtocolError('MALFORMED', `backup content: ${what}`);
}

/**
 * Reads a backup's segments (the blob after its header, in chunks of any size) and parses its
 * sections strictly (§25.6, §25.7): each chunk may complete segments, whose plaintext is parsed at
 * once, and the events it completes are returned. `finish()` checks that every segment came, End
 * was read, the padding is zero and the padded length is Padmé of the content's. Until `finish`
 * returned, nothing read may be kept (no partial restore).
 */
export class BackupReader {
  readonly #key: Uint8Array;
  readonly #ad: Uint8Array;
  readonly #layout: BackupLayout;
  readonly #sealed = new Uint8Array(SEALED_SEG);
  #sealedFill = 0;
  #index = 0;
  // Section parsing state.
  #plainLength = 0;
  #phase: 'account' | 'messages' | 'attachments' | 'padding' = 'account';
  #head = new Uint8Array(SECTION_HEADER_LENGTH + BACKUP_ATTACHMENT_ID_LENGTH);
  #headFill = 0;
  #section: { type: number; left: number; body: Uint8Array | null; fill: number } | null = null;
  #contentLength = -1;
  readonly #attachments = new Set<string>();

  /** `blobLength` is the whole blob's (header included); TRUNCATED if it cannot hold a segment. */
  constructor(header: BackupHeader, contentKey: Uint8Array, blobLength: number) {
    assertLength(contentKey, KEY_LENGTH, 'content key');
    this.#key = contentKey.slice();
    this.#ad = header.ad;
    this.#layout = backupLayout(blobLength);
  }

  get segments(): number {
    return this.#layout.segments;
  }

  /** Segments opened so far. */
  get opened(): number {
    return this.#index;
  }

  /** The next bytes of the blob after the header. Bytes beyond the announced length are a bug of the caller. */
  push(chunk: Uint8Array): BackupEvent[] {
    const events: BackupEvent[] = [];
    let o = 0;
    while (o < chunk.length) {
      if (this.#index >= this.#layout.segments) throw new RangeError('backup reader: more bytes than the blob length');
      const last = this.#index === this.#layout.segments - 1;
      const want = last ? this.#layout.lastSealedLength : SEALED_SEG;
      const n = Math.min(chunk.length - o, want - this.#sealedFill);
      this.#sealed.set(chunk.subarray(o, o + n), this.#sealedFill);
      this.#sealedFill += n;
      o += n;
      if (this.#sealedFill === want) {
        const plain = openBackupSegment(this.#key, this.#ad, this.#index, last, this.#sealed.subarray(0, want));
        this.#index++;
        this.#sealedFill = 0;
        this.#parse(plain, events);
        wipe(plain);
      }
    }
    return events;
  }

  /** The content checks that need the end (§25.7); MALFORMED or TRUNCATED if they fail. */
  finish(): void {
    if (this.#index !== this.#layout.segments) throw new ProtocolError('TRUNCATED', 'backup reader: not every segment was read');
    if (this.#phase !== 'padding') throw malformed('no End section');
    if (padmeLength(this.#contentLength) !== this.#plainLength) throw malformed('padded length is not the Padmé bucket of the content');
    wipe(this.#key, this.#sealed);
  }

  #parse(plain: Uint8Array, events: BackupEvent[]): void {
    let o = 0;
    while (o < plain.length) {
      if (this.#phase === 'padding') {
        for (let i = o; i < plain.length; i++) if (plain[i] !== 0) throw malformed('padding is not zero');
        this.#plainLength += plain.length - o;
        return;
      }
      if (this.#section === null) {
        // Section header (and, for an attachment, its id), possibly split across segments.
        const need = this.#headFill < SECTION_HEADER_LENGTH ? SECTION_HEADER_LENGTH : SECTION_HEADER_LENGTH + BACKUP_ATTACHMENT_ID_LENGTH;
        const n = Math.min(plain.length - o, need - this.#headFill);
        this.#head.set(plain.subarray(o, o + n), this.#headFill);
        this.#headFill += n;
        o += n;
        this.#plainLength += n;
        if (this.#headFill === need) this.#startSection(events);
        continue;
      }
      const s = this.#section;
      const n = Math.min(plain.length - o, s.left);
      const part = plain.subarray(o, o + n);
      if (s.body) s.body.set(part, s.fill);
      else events.push({ kind: 'attachment-data', bytes: part.slice() });
      s.fill += n;
      s.left -= n;
      o += n;
      this.#plainLength += n;
      if (s.left === 0) this.#endSection(events);
    }
  }

  #startSection(events: BackupEvent[]): void {
    const r = new Reader(this.#head.subarray(0, SECTION_HEADER_LENGTH), 'backup section');
    const type = r.u8();
    const length = r.u64();
    switch (type) {
      case BackupSection.account:
        if (this.#phase !== 'account') throw malformed('a second account section');
        if (length < 1 || length > MAX_BACKUP_ACCOUNT_BYTES) throw malformed('account section length');
        this.#phase = 'messages';
        break;
      case BackupSection.messages:
        if (this.#phase !== 'messages') throw malformed(this.#phase === 'account' ? 'the account section must come first' : 'messages after attachments');
        if (length < 1 || length > MAX_BACKUP_MESSAGES_SECTION_BYTES) throw malformed('messages section length');
        break;
      case BackupSection.attachment: {
        if (this.#phase === 'account') throw malformed('the account section must come first');
        if (length < BACKUP_ATTACHMENT_ID_LENGTH) throw malformed('attachment section shorter than its id');
        if (this.#headFill < SECTION_HEADER_LENGTH + BACKUP_ATTACHMENT_ID_LENGTH) return; // read the id first
        const attachmentId = this.#head.slice(SECTION_HEADER_LENGTH);
        const id = toHex(attachmentId);
        if (this.#attachments.has(id)) throw malformed('an attachment twice');
        this.#attachments.add(id);
        this.#phase = 'attachments';
        this.#headFill = 0;
        const bodyLength = length - BACKUP_ATTACHMENT_ID_LENGTH;
        events.push({ kind: 'attachment', attachmentId, length: bodyLength });
        this.#section = { type, left: bodyLength, body: null, fill: 0 };
        if (bodyLength === 0) this.#endSection(events);
        return;
      }
      case BackupSection.end:
        if (this.#phase === 'account') throw malformed('the account section must come first');
        if (length !== 0) throw malformed('End section with a body');
        this.#phase = 'padding';
        this.#contentLength = this.#plainLength;
        this.#headFill = 0;
        return;
      default:
        throw malformed(`unknown section type ${type}`);
    }
    this.#headFill = 0;
    this.#section = { type, left: length, body: new Uint8Array(length), fill: 0 };
  }

  #endSection(events: BackupEvent[]): void {
    const s = this.#section!;
    this.#section = null;
    if (s.type === BackupSection.account) events.push({ kind: 'account', json: s.body! });
    else if (s.type === BackupSection.messages) events.push({ kind: 'messages', archive: s.body! });
    else events.push({ kind: 'attachment-end' });
  }
}

// ── Whole buffers (tests, vectors) ───────────────────────────────────────────

export type BackupContent = {
  readonly account: Uint8Array;
  readonly messages: readonly Uint8Array[];
  readonly attachments: readonly { readonly attachmentId: Uint8Array; readonly bytes: Uint8Array }[];
};

/** A whole backup in one buffer: header ‖ segments. */
export function sealBackup(h: NewBackupHeader, content: BackupContent): { readonly header: BackupHeader; readonly blob: Uint8Array } {
  const { header, contentKey } = encodeBackupHeader(h);
  const w = new BackupWriter(header, contentKey);
  wipe(contentKey);
  const parts: Uint8Array[] = [header.bytes, ...w.account(content.account)];
  for (const m of content.messages) parts.push(...w.messages(m));
  for (const a of content.attachments) parts.push(...w.attachmentStart(a.attachmentId, a.bytes.length), ...(a.bytes.length > 0 ? w.attachmentData(a.bytes) : []));
  parts.push(...w.finish());
  return { header, blob: concatBytes(...parts) };
}

/**
 * Opens a whole backup in the order of §25.4 and §25.7; returns its content only if all of it
 * checks out.
 */
export function openBackup(blob: Uint8Array, recoveryKey: Uint8Array, stretched: Uint8Array | null): { readonly header: BackupHeader; readonly content: BackupContent } {
  const header = parseBackupHeader(blob);
  const contentKey = openBackupContentKey(header, recoveryKey, stretched);
  const reader = new BackupReader(header, contentKey, blob.length);
  wipe(contentKey);
  let account: Uint8Array | null = null;
  const messages: Uint8Array[] = [];
  const attachments: { attachmentId: Uint8Array; bytes: Uint8Array }[] = [];
  let current: { attachmentId: Uint8Array; parts: Uint8Array[] } | null = null;
  for (const e of reader.push(blob.subarray(BACKUP_HEADER_LENGTH))) {
    if (e.kind === 'account') account = e.json;
    else if (e.kind === 'messages') messages.push(e.archive);
    else if (e.kind === 'attachment') current = { attachmentId: e.attachmentId, parts: [] };
    else if (e.kind === 'attachment-data') current!.parts.push(e.bytes);
    else {
      attachments.push({ attachmentId: current!.attachmentId, bytes: concatBytes(...current!.parts) });
      current = null;
    }
  }
  reader.finish();
  return { header, content: { account: account!, messages, attachments } };
}

// ── Relay requests ───────────────────────────────────────────────────────────

/** What a signed backup request asks the relay to do (§25.8). */
export const BackupOperation = { put: 0x01, get: 0x02, delete: 0x03 } as const;
export type BackupOperationName = keyof typeof BackupOperation;

/**
 * Parley_v1_BackupRequest ‖ relay id (16) ‖ nonce (32) ‖ u64 time ‖ backup id (16) ‖ u8 operation:
 * what the backup auth key signs for one request. The nonce is the relay's single-use challenge.
 */
export function backupRequestSignatureInput(relayId: Uint8Array, nonce: Uint8Array, time: number, backupId: Uint8Array, operation: BackupOperationName): Uint8Array {
  assertLength(relayId, RELAY_ID_LENGTH, 'relay id');
  assertLength(nonce, BACKUP_REQUEST_NONCE_LENGTH, 'backup request nonce');
  assertLength(backupId, BACKUP_ID_LENGTH, 'backup id');
  return new Writer().bytes(label('BackupRequest')).bytes(relayId).bytes(nonce).u64(time).bytes(backupId).u8(BackupOperation[operation]).finish();
}

/** Signs a backup request with the auth key of `keys`. */
export function signBackupRequest(keys: BackupKeys, relayId: Uint8Array, nonce: Uint8Array, time: number, operation: BackupOperationName): Uint8Array {
  return ed25519Sign(keys.authPrivateKey, backupRequestSignatureInput(relayId, nonce, time, keys.backupId, operation));
}
