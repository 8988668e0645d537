/**
 * The passphrase key provider (DESIGN §4, Threema Desktop's model): the random database key is
 * stored wrapped in a small key file; the wrapping key comes from the passphrase through Argon2id
 * (in a worker thread) and HKDF. The file holds the parameters, the salt and the wrapped key —
 * never the key in plaintext. A wrong passphrase fails the AEAD (WRONG_PASSPHRASE); parameters
 * outside the bounds are refused before Argon2id runs.
 *
 *   file = "PARLEYKF" ‖ u8 version ‖ u32 m (KiB) ‖ u32 t ‖ u32 p ‖ salt(32) ‖ nonce(12) ‖ AES-256-GCM(key)(48)
 *   KEK  = HKDF-SHA-256(ikm = Argon2id(NFC(passphrase), salt, m, t, p), salt = 0³², info = Parley_v1_DatabaseKeyWrap, 32)
 *   AD   = every byte before the nonce (so no parameter can be swapped)
 *
 * Writes are atomic (temp file, fsync, rename) with mode 0600. Does not own the passphrase policy
 * (the engine checks MIN_PASSPHRASE_LENGTH) or the idle lock (app-lock.ts).
 *
 * A passphrase change re-keys the database (issue 10 item 13): the new key, wrapped under the new
 * passphrase, waits in a pending file (`<key file>.next`) while the database is re-keyed, and is
 * then renamed over the key file. Until then both files exist, so whichever key the database has
 * after a crash, one of the two passphrases unwraps it (engine.ts decides which file to keep).
 */
import { constants as fsConstants } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { aesGcmOpen, aesGcmSeal } from '../../../shared/crypto/aead.js';
import { bytesEqual, concatBytes, u32be, utf8 } from '../../../shared/crypto/bytes.js';
import { hkdfSha256 } from '../../../shared/crypto/hkdf.js';
import type { Rng } from '../../../shared/crypto/random.js';
import { DATABASE_KEY_LENGTH } from '../db/database.js';
import { Label } from '../../../shared/protocol/constants.js';
import {
  ARGON2_SALT_LENGTH,
  argon2idInWorker,
  checkArgon2Params,
  DEFAULT_ARGON2_PARAMS,
  type Argon2Params,
} from './argon2.js';
import { KeyError } from './errors.js';

/** TODO(#4 follow-up, lead): move into `Label` in shared/protocol/constants.ts and docs/protocol.md. */
export const DATABASE_KEY_WRAP_LABEL = Label.DatabaseKeyWrap;

const MAGIC = utf8('PARLEYKF');
const VERSION = 1;
const NONCE_LENGTH = 12;
const HEADER_LENGTH = MAGIC.length + 1 + 12 + ARGON2_SALT_LENGTH;
export const KEY_FILE_LENGTH = HEADER_LENGTH + NONCE_LENGTH + DATABASE_KEY_LENGTH + 16;

type ParsedKeyFile = { header: Uint8Array; params: Argon2Params; salt: Uint8Array; nonce: Uint8Array; wrapped: Uint8Array };

export function parseKeyFile(bytes: Uint8Array): ParsedKeyFile {
  if (bytes.length !== KEY_FILE_LENGTH || !bytesEqual(bytes.subarray(0, MAGIC.length), MAGIC)) {
    throw new KeyError('INVALID_KEY_FILE', 'not a Parley key file');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = MAGIC.length;
  if (bytes[o++] !== VERSION) throw new KeyError('INVALID_KEY_FILE', 'unsupported key file version');
  const params: Argon2Params = {
    memoryKiB: view.getUint32(o, false),
    iterations: view.getUint32(o + 4, false),
    parallelism: view.getUint32(o + 8, false),
  };
  o += 12;
  checkArgon2Params(params);
  const salt = bytes.slice(o, o + ARGON2_SALT_LENGTH);
  o += ARGON2_SALT_LENGTH;
  return {
    header: bytes.slice(0, HEADER_LENGTH),
    params,
    salt,
    nonce: bytes.slice(o, o + NONCE_LENGTH),
    wrapped: bytes.slice(o + NONCE_LENGTH),
  };
}

/** The bytes of the passphrase as Argon2id sees them: NFC-normalised UTF-8. */
export function passphraseBytes(passphrase: string): Uint8Array {
  return utf8(passphrase.normalize('NFC'));
}

async function wrappingKey(passphrase: string, salt: Uint8Array, params: Argon2Params): Promise<Uint8Array> {
  const stretched = await argon2idInWorker(passphraseBytes(passphrase), salt, params);
  try {
    return hkdfSha256(stretched, undefined, utf8(DATABASE_KEY_WRAP_LABEL), 32);
  } finally {
    stretched.fill(0);
  }
}

/** Writes `bytes` to `path` atomically with mode 0600 (temp file, fsync, rename, fsync dir). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  await rm(tmp, { force: true });
  const handle = await open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await syncDirectory(path);
}

/** Makes a rename in the directory of `path` durable (fsync of the directory, where possible). */
async function syncDirectory(path: string): Promise<void> {
  try {
    const dir = await open(dirname(path), fsConstants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // directories cannot be opened for fsync on every platform (Windows)
  }
}

export class PassphraseKeyFile {
  readonly kind = 'passphrase' as const;
  readonly #params: Argon2Params;

  constructor(
    readonly path: string,
    private readonly rng: Rng,
    params: Argon2Params = DEFAULT_ARGON2_PARAMS,
  ) {
    checkArgon2Params(params);
    this.#params = params;
  }

  async exists(): Promise<boolean> {
    try {
      return (await stat(this.path)).isFile();
    } catch {
      return false;
    }
  }

  /** Where a passphrase change keeps the new key until the database has it. */
  get pendingPath(): string {
    return `${this.path}.next`;
  }

  /** Wraps `databaseKey` under `passphrase` and (re)writes the key file with a fresh salt. */
  create(passphrase: string, databaseKey: Uint8Array): Promise<void> {
    return this.#write(this.path, passphrase, databaseKey);
  }

  /** Writes the pending key file: `databaseKey` (the database's next key) under `passphrase`. */
  createPending(passphrase: string, databaseKey: Uint8Array): Promise<void> {
    return this.#write(this.pendingPath, passphrase, databaseKey);
  }

  async hasPending(): Promise<boolean> {
    try {
      return (await stat(this.pendingPath)).isFile();
    } catch {
      return false;
    }
  }

  /** The pending key, null when there is none; WRONG_PASSPHRASE when `passphrase` does not open it. */
  async unlockPending(passphrase: string): Promise<Uint8Array | null> {
    if (!(await this.hasPending())) return null;
    return this.#unwrap(this.pendingPath, passphrase);
  }

  /** The database has the pending key now: the pending file replaces the key file (atomic rename). */
  async promotePending(): Promise<void> {
    await rename(this.pendingPath, this.path);
    await syncDirectory(this.path);
  }

  /** A passphrase change that did not finish: the database kept the key of the key file. */
  async discardPending(): Promise<void> {
    await rm(this.pendingPath, { force: true });
    await rm(`${this.pendingPath}.tmp`, { force: true });
  }

  async #write(path: string, passphrase: string, databaseKey: Uint8Array): Promise<void> {
    if (databaseKey.length !== DATABASE_KEY_LENGTH) throw new RangeError('a database key is 32 bytes');
    const salt = this.rng(ARGON2_SALT_LENGTH);
    const p = this.#params;
    const header = concatBytes(MAGIC, Uint8Array.of(VERSION), u32be(p.memoryKiB), u32be(p.iterations), u32be(p.parallelism), salt);
    const kek = await wrappingKey(passphrase, salt, p);
    const nonce = this.rng(NONCE_LENGTH);
    let wrapped: Uint8Array;
    try {
      wrapped = aesGcmSeal(kek, nonce, databaseKey, header);
    } finally {
      kek.fill(0);
    }
    await writeFileAtomic(path, concatBytes(header, nonce, wrapped));
  }

  /** The database key, or WRONG_PASSPHRASE / KEY_MISSING / INVALID_KEY_FILE / ARGON2_PARAMS_OUT_OF_RANGE. */
  unlock(passphrase: string): Promise<Uint8Array> {
    return this.#unwrap(this.path, passphrase);
  }

  async #unwrap(path: string, passphrase: string): Promise<Uint8Array> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch {
      throw new KeyError('KEY_MISSING', 'no key file for this profile');
    }
    const parsed = parseKeyFile(bytes);
    const kek = await wrappingKey(passphrase, parsed.salt, parsed.params);
    try {
      return aesGcmOpen(kek, parsed.nonce, parsed.wrapped, parsed.header);
    } catch {
      throw new KeyError('WRONG_PASSPHRASE', 'the passphrase does not open the key file');
    } finally {
      kek.fill(0);
    }
  }

  async destroy(): Promise<void> {
    await rm(this.path, { force: true });
    await rm(`${this.path}.tmp`, { force: true });
    await this.discardPending();
  }
}
