/**
 * The relay's identity (DESIGN §5): a random 16-byte relay id and two distinct Ed25519 keys — the
 * certificate key (signs sender certificates, sealed-sender issue) and the tree-head key (signs
 * key-transparency heads, transparency issue). Created on first start as `<data>/identity.bin`
 * (mode 0600; written to a temporary file and renamed, so a crash never leaves half a file) and
 * loaded on every later start. Binary, so the private keys never pass through a string. Only the
 * public keys leave this module (/.well-known/parley).
 *
 * Layout: "PARLEYID" ‖ u8 version (1) ‖ relay id (16) ‖ certificate key seed (32) ‖ tree-head key seed (32).
 */
import { chmodSync, existsSync, linkSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bytesEqual, concatBytes, copyBytes, utf8, wipe } from '../shared/crypto/bytes.js';
import { ed25519PublicKey, ED25519_SEED_LENGTH } from '../shared/crypto/ed25519.js';
import type { Rng } from '../shared/crypto/random.js';
import { RELAY_ID_LENGTH } from '../shared/wire/limits.js';

export const IDENTITY_FILE = 'identity.bin';
const IDENTITY_FILE_MODE = 0o600;
const MAGIC = utf8('PARLEYID');
const VERSION = 1;
const FILE_LENGTH = MAGIC.length + 1 + RELAY_ID_LENGTH + 2 * ED25519_SEED_LENGTH;

export type KeyPair = { readonly publicKey: Uint8Array; readonly privateKey: Uint8Array };
export type RelayIdentity = {
  readonly relayId: Uint8Array;
  readonly certificateKey: KeyPair;
  readonly treeHeadKey: KeyPair;
};

function keyPair(seed: Uint8Array): KeyPair {
  return { privateKey: seed, publicKey: ed25519PublicKey(seed) };
}

/** Loads `<dataDir>/identity.bin`, or the file `options.file` names, creating it first if absent. */
export function loadOrCreateIdentity(dataDir: string, rng: Rng, warn: (message: string) => void, options: { readonly file?: string } = {}): RelayIdentity {
  const file = options.file !== undefined ? path.resolve(options.file) : path.join(dataDir, IDENTITY_FILE);
  if (!existsSync(file)) {
    const certificateSeed = rng(ED25519_SEED_LENGTH);
    let treeHeadSeed = rng(ED25519_SEED_LENGTH);
    while (bytesEqual(certificateSeed, treeHeadSeed)) treeHeadSeed = rng(ED25519_SEED_LENGTH);
    const body = concatBytes(MAGIC, Uint8Array.of(VERSION), rng(RELAY_ID_LENGTH), certificateSeed, treeHeadSeed);
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, body, { mode: IDENTITY_FILE_MODE, flag: 'wx' });
    try {
      linkSync(temp, file);
    } catch (e) {
      // Another instance created it first: load theirs.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      rmSync(temp, { force: true });
      wipe(body, certificateSeed, treeHeadSeed);
    }
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    warn(`${file} was readable by other users (mode ${mode.toString(8)}); restricting it to 0600`);
    chmodSync(file, IDENTITY_FILE_MODE);
  }
  const raw = readFileSync(file);
  try {
    if (raw.length !== FILE_LENGTH || !bytesEqual(raw.subarray(0, MAGIC.length), MAGIC) || raw[MAGIC.length] !== VERSION) {
      throw new Error(`${file} is not a Parley relay identity file`);
    }
    let offset = MAGIC.length + 1;
    const take = (n: number): Uint8Array => copyBytes(raw.subarray(offset, (offset += n)));
    const relayId = take(RELAY_ID_LENGTH);
    const certificateKey = keyPair(take(ED25519_SEED_LENGTH));
    const treeHeadKey = keyPair(take(ED25519_SEED_LENGTH));
    if (bytesEqual(certificateKey.publicKey, treeHeadKey.publicKey)) throw new Error('identity: certificate and tree-head keys must differ');
    return { relayId, certificateKey, treeHeadKey };
  } finally {
    raw.fill(0);
  }
}
