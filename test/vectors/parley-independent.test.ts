/**
 * An independent implementation of docs/protocol.md that recomputes every vector in
 * test/vectors/parley/ — the proof that the document is complete and byte-exact. It imports only
 * @noble/* and node:crypto (never shared/, scripts/ or the generator): the test-vector RNG,
 * encodings, device lists (signature, account id, freshness, re-sign), prekey signatures and bundle
 * checks, PQXDH/X3DH, session ids, the Double Ratchet, padding, message and state layouts, the
 * signed and padded decryption error (its signature checked under the reporter's device key),
 * safety numbers, attachments, encrypted profiles and sealed sender are all re-implemented here from the document's sections (cited as §n). Each test
 * asserts how many vectors and cases it checked.
 *
 * Happy paths only, plus the checks the vectors exercise (bundle checks, device-list verification,
 * forged decryption errors) and the skipped-key path; the failure behaviour of the real
 * implementation is tested next to it in shared/protocol.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gcm } from '@noble/ciphers/aes.js';
import { ed25519, ristretto255, ristretto255_hasher, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';

// ── §1 Conventions ──────────────────────────────────────────────────────────

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
function unhex(s: string): Uint8Array {
  if (!/^([0-9a-f]{2})*$/.test(s)) throw new Error(`not lowercase hex: ${s.slice(0, 20)}`);
  return new Uint8Array(Buffer.from(s, 'hex'));
}
function cat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const u8 = (v: number): Uint8Array => Uint8Array.of(v);
const u16 = (v: number): Uint8Array => Uint8Array.of(v >>> 8, v & 0xff);
const u32 = (v: number): Uint8Array => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
function u64(v: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(v));
  return out;
}
const eqBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** A cursor over bytes, for the layouts of §4, §9, §11. */
class Cursor {
  off = 0;
  constructor(readonly b: Uint8Array) {}
  take(n: number): Uint8Array {
    if (this.off + n > this.b.length) throw new Error('short read');
    const out = this.b.slice(this.off, this.off + n);
    this.off += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  u16(): number {
    const b = this.take(2);
    return (b[0]! << 8) | b[1]!;
  }
  u32(): number {
    return new DataView(this.take(4).buffer).getUint32(0);
  }
  u64(): number {
    return Number(new DataView(this.take(8).buffer).getBigUint64(0));
  }
  /** Enc(key) of §1.1: type byte then raw key. */
  key(type: number): Uint8Array {
    const t = this.u8();
    if (t !== type) throw new Error(`type byte ${t}, expected ${type}`);
    return this.take(type === 0x08 ? 1184 : 32);
  }
  done(): boolean {
    return this.off === this.b.length;
  }
}

// §1.1 Enc
const encX = (k: Uint8Array): Uint8Array => cat(u8(0x05), k);
const encEd = (k: Uint8Array): Uint8Array => cat(u8(0x06), k);
const encKem = (k: Uint8Array): Uint8Array => cat(u8(0x08), k);

// §1.3 primitives
function dh(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  const out = x25519.getSharedSecret(priv, pub);
  if (out.every((b) => b === 0)) throw new Error('all-zero DH');
  return out;
}
const xPub = (priv: Uint8Array): Uint8Array => x25519.getPublicKey(priv);
const edPub = (seed: Uint8Array): Uint8Array => ed25519.getPublicKey(seed);
const sign = (seed: Uint8Array, m: Uint8Array): Uint8Array => ed25519.sign(m, seed);
const L_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
function verify(pub: Uint8Array, m: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== 64) return false;
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
  if (s >= L_ORDER) return false;
  try {
    if (ed25519.Point.fromBytes(pub, false).isSmallOrder()) return false;
    return ed25519.verify(sig, m, pub, { zip215: false });
  } catch {
    return false;
  }
}
const HKDF = (salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, len: number): Uint8Array => hkdf(sha256, ikm, salt, info, len);
const HMAC = (k: Uint8Array, m: Uint8Array): Uint8Array => hmac(sha256, k, m);
const seal = (key: Uint8Array, nonce: Uint8Array, pt: Uint8Array, ad: Uint8Array): Uint8Array => gcm(key, nonce, ad).encrypt(pt);
const open = (key: Uint8Array, nonce: Uint8Array, ct: Uint8Array, ad: Uint8Array): Uint8Array => gcm(key, nonce, ad).decrypt(ct);

// §2 labels
const LABEL = {
  DeviceList: utf8('Parley_v1_DeviceList'),
  SignedPrekey: utf8('Parley_v1_SignedPrekey'),
  KemPrekey: utf8('Parley_v1_KemPrekey'),
  Pqxdh: utf8('Parley_v1_PQXDH_X25519_SHA-256_ML-KEM-768'),
  X3dh: utf8('Parley_v1_X3DH_X25519_SHA-256'),
  Ratchet: utf8('Parley_v1_Ratchet'),
  MessageKeys: utf8('Parley_v1_MessageKeys'),
  SessionAd: utf8('Parley_v1_AD'),
  SessionId: utf8('Parley_v1_SessionId'),
  DecryptionError: utf8('Parley_v1_DecryptionError'),
  DeviceFingerprint: utf8('Parley_v1_DeviceFingerprint'),
  BaseKeySeen: utf8('Parley_v1_BaseKeySeen'),
  FileKeyCommit: utf8('Parley_v1_FileKeyCommit'),
  FileCiphertextDigest: utf8('Parley_v1_FileCiphertextDigest'),
  ProfileCipherKey: utf8('Parley_v1_ProfileCipherKey'),
  ProfileKeyId: utf8('Parley_v1_ProfileKeyId'),
  ProfileAd: utf8('Parley_v1_ProfileAD'),
  LinkCPace: utf8('Parley_v1_LinkCPace'),
  LinkTranscript: utf8('Parley_v1_LinkTranscript'),
  LinkKeys: utf8('Parley_v1_LinkKeys'),
  LinkConfirmPrimary: utf8('Parley_v1_LinkConfirmPrimary'),
  LinkConfirmNewDevice: utf8('Parley_v1_LinkConfirmNewDevice'),
  DeliveryToken: utf8('Parley_v1_DeliveryToken'),
  SenderCertificate: utf8('Parley_v1_SenderCertificate'),
  SealedEphemeral: utf8('Parley_v1_SealedEphemeral'),
  SealedContentKey: utf8('Parley_v1_SealedContentKey'),
  SealedAd: utf8('Parley_v1_SealedAD'),
  SealedWrap: utf8('Parley_v1_SealedWrap'),
  SealedAuth: utf8('Parley_v1_SealedAuth'),
};

// ── §17 Attachments ─────────────────────────────────────────────────────────

const ATTACHMENT_SEGMENT = 2 ** 20;

/** §17.1 Padmé: L < 2 is its own bucket; else E = ⌊log₂ L⌋, S = ⌊log₂ E⌋ + 1, round L up to a multiple of 2^(E−S). */
function padme(L: number): number {
  if (L < 2) return L;
  const E = BigInt(L).toString(2).length - 1;
  const S = E.toString(2).length; // ⌊log₂ E⌋ + 1 for E ≥ 1
  const unit = 2 ** (E - S);
  return Math.ceil(L / unit) * unit;
}
const DAY = 24 * 3600_000;

// ── §13 Test-vector RNG ─────────────────────────────────────────────────────

function rngStream(seed: string): (n: number) => Uint8Array {
  const s = utf8(seed);
  let counter = 0;
  let block = new Uint8Array(0);
  let used = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (used === block.length) {
        block = new Uint8Array(createHash('sha256').update(s).update(u64(counter++)).digest());
        used = 0;
      }
      out[i] = block[used++]!;
    }
    return out;
  };
}

type DrawList = { readonly seed: string; readonly draws: readonly { readonly name: string; readonly length: number; readonly hex: string }[] };

/** Replays a vector's draw list from its seed (checking every byte) and hands draws out in order. */
class Draws {
  #next = 0;
  readonly values: Uint8Array[];
  constructor(readonly list: DrawList) {
    const rng = rngStream(list.seed);
    this.values = list.draws.map((d) => rng(d.length));
    list.draws.forEach((d, i) => expect(hex(this.values[i]!), `${list.seed} draw ${i} (${d.name})`).toBe(d.hex));
  }
  /** The next draw, which the document says is `name` of `length` bytes. */
  take(name: string, length: number): Uint8Array {
    const d = this.list.draws[this.#next];
    expect(d, `${this.list.seed}: no draw left for ${name}`).toBeDefined();
    expect({ name: d!.name, length: d!.length }, `${this.list.seed}: draw ${this.#next}`).toEqual({ name, length });
    return this.values[this.#next++]!;
  }
  allTaken(): void {
    expect(this.#next, `${this.list.seed}: unused draws`).toBe(this.list.draws.length);
  }
}

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./parley/${name}`, import.meta.url), 'utf8')) as T;
}

// ── §8.5 Padding ────────────────────────────────────────────────────────────

function pad(pt: Uint8Array): Uint8Array {
  const out = new Uint8Array((Math.floor(pt.length / 160) + 1) * 160);
  out.set(pt);
  out[pt.length] = 0x80;
  return out;
}
function unpad(p: Uint8Array): Uint8Array {
  let i = p.length - 1;
  while (i >= p.length - 160 && p[i] === 0) i--;
  if (p.length === 0 || p.length % 160 !== 0 || i < p.length - 160 || p[i] !== 0x80) throw new Error('bad padding');
  return p.slice(0, i);
}

// ── §4 Device lists ─────────────────────────────────────────────────────────

type Entry = { deviceId: number; ik: Uint8Array; ikSig: Uint8Array; capabilities: number; addedAt: number };

function deviceListBody(accountId: Uint8Array, version: number, issuedAt: number, entries: readonly Entry[]): Uint8Array {
  return cat(
    LABEL.DeviceList,
    accountId,
    u64(version),
    u64(issuedAt),
    u8(entries.length),
    ...entries.map((e) => cat(u32(e.deviceId), encX(e.ik), encEd(e.ikSig), u32(e.capabilities), u64(e.addedAt))),
  );
}
/** A device list's draws in §14.1 order: account id, account key, then each device's two identity keys. */
function drawDeviceList(d: Draws, specs: readonly { deviceId: number; capabilities: number; addedAt: number }[]): { accountId: Uint8Array; accountSeed: Uint8Array; entries: Entry[] } {
  const accountId = d.take('accountId', 16);
  const accountSeed = d.take('accountKey', 32);
  const entries = specs.map((spec) => {
    const ik = xPub(d.take(`device${spec.deviceId}.identityDh`, 32));
    const ikSig = edPub(d.take(`device${spec.deviceId}.identitySigning`, 32));
    return { ...spec, ik, ikSig };
  });
  return { accountId, accountSeed, entries };
}
const freshness = (issuedAt: number, now: number): string => (now - issuedAt > 30 * DAY ? 'stale' : 'fresh');
/** §4.3: the owner re-signs once the list is 7 days old. */
const needsResign = (issuedAt: number, now: number): boolean => now - issuedAt >= 7 * DAY;
/** §4.1 verifyDeviceList on well-formed bytes: the signature under the account key, then the expected account id. */
function verifyList(signed: Uint8Array, accountKey: Uint8Array, expectedAccountId: Uint8Array | undefined): string {
  const body = signed.subarray(0, signed.length - 64);
  if (!verify(accountKey, body, signed.subarray(signed.length - 64))) return 'BAD_SIGNATURE';
  if (expectedAccountId && !eqBytes(body.subarray(20, 36), expectedAccountId)) return 'UNTRUSTED_IDENTITY';
  return 'ok';
}

// ── §5 Prekeys ──────────────────────────────────────────────────────────────

const spkInput = (keyId: number, pub: Uint8Array, createdAt: number): Uint8Array =>
  cat(LABEL.SignedPrekey, encX(pub), u32(keyId), u64(createdAt), u8(0));
const kemInput = (keyId: number, pub: Uint8Array, createdAt: number, lastResort: boolean): Uint8Array =>
  cat(LABEL.KemPrekey, encKem(pub), u32(keyId), u64(createdAt), u8(lastResort ? 1 : 0));

type Bundle = {
  accountId: Uint8Array;
  deviceId: number;
  ik: Uint8Array;
  ikSig: Uint8Array;
  spk: { keyId: number; pub: Uint8Array; createdAt: number; sig: Uint8Array };
  opk?: { keyId: number; pub: Uint8Array } | undefined;
  kem?: { keyId: number; pub: Uint8Array; createdAt: number; lastResort: boolean; sig: Uint8Array } | undefined;
};

/** §5.3, in order. Returns the mode or the error code. */
function checkBundle(b: Bundle, entry: Entry, accountId: Uint8Array, now: number): string {
  if (!eqBytes(b.accountId, accountId) || b.deviceId !== entry.deviceId) return 'UNTRUSTED_IDENTITY';
  if (!eqBytes(b.ik, entry.ik) || !eqBytes(b.ikSig, entry.ikSig)) return 'UNTRUSTED_IDENTITY';
  if (b.spk.pub.length !== 32 || !verify(entry.ikSig, spkInput(b.spk.keyId, b.spk.pub, b.spk.createdAt), b.spk.sig)) return 'BAD_SIGNATURE';
  const age = (createdAt: number): string | null =>
    createdAt > now + DAY ? 'MALFORMED' : now - createdAt > 60 * DAY ? 'DEVICE_INACTIVE' : null;
  const spkAge = age(b.spk.createdAt);
  if (spkAge) return spkAge;
  if (b.opk && b.opk.pub.length !== 32) return 'MALFORMED';
  if ((entry.capabilities & 1) === 0) return 'x3dh';
  if (!b.kem) return 'MISSING_KEM_PREKEY';
  if (b.kem.pub.length !== 1184 || !verify(entry.ikSig, kemInput(b.kem.keyId, b.kem.pub, b.kem.createdAt, b.kem.lastResort), b.kem.sig)) {
    return 'MISSING_KEM_PREKEY';
  }
  return age(b.kem.createdAt) ?? 'pqxdh';
}

// ── §6 Key agreement ────────────────────────────────────────────────────────

type Agreement = { dh: Uint8Array[]; transcript: Uint8Array; info: Uint8Array; ikm: Uint8Array; sk: Uint8Array };

function agree(
  mode: 'pqxdh' | 'x3dh',
  pubs: { ikA: Uint8Array; ikB: Uint8Array; spk: Uint8Array; opk?: Uint8Array | undefined; pqpk?: Uint8Array | undefined; ek: Uint8Array; ct?: Uint8Array | undefined },
  dhs: Uint8Array[],
  ss: Uint8Array | undefined,
): Agreement {
  const transcript = cat(
    encX(pubs.ikA),
    encX(pubs.ikB),
    encX(pubs.spk),
    ...(pubs.opk ? [encX(pubs.opk)] : []),
    ...(mode === 'pqxdh' ? [encKem(pubs.pqpk!)] : []),
    encX(pubs.ek),
    ...(mode === 'pqxdh' ? [pubs.ct!] : []),
  );
  const info = cat(mode === 'pqxdh' ? LABEL.Pqxdh : LABEL.X3dh, sha256(transcript));
  const ikm = cat(new Uint8Array(32).fill(0xff), ...dhs, ...(mode === 'pqxdh' ? [ss!] : []));
  return { dh: dhs, transcript, info, ikm, sk: HKDF(new Uint8Array(32), ikm, info, 32) };
}

// ── §7 Session identity, §8 Double Ratchet, §9 messages ─────────────────────

type Party = { accountId: Uint8Array; deviceId: number };
function sessionAd(ikInit: Uint8Array, ikResp: Uint8Array, init: Party, resp: Party): Uint8Array {
  return cat(LABEL.SessionAd, encX(ikInit), encX(ikResp), init.accountId, u32(init.deviceId), resp.accountId, u32(resp.deviceId));
}
/** §7.2 */
const sessionIdOf = (ad: Uint8Array, ek: Uint8Array): Uint8Array => sha256(cat(LABEL.SessionId, ad, encX(ek))).slice(0, 16);

function kdfRk(rk: Uint8Array, dhOut: Uint8Array): [Uint8Array, Uint8Array] {
  const out = HKDF(rk, dhOut, LABEL.Ratchet, 64);
  return [out.slice(0, 32), out.slice(32)];
}
const seedOf = (ck: Uint8Array): Uint8Array => HMAC(ck, u8(1));
const nextCk = (ck: Uint8Array): Uint8Array => HMAC(ck, u8(2));
function msgKeys(mk: Uint8Array): { key: Uint8Array; nonce: Uint8Array } {
  const out = HKDF(new Uint8Array(32), mk, LABEL.MessageKeys, 44);
  return { key: out.slice(0, 32), nonce: out.slice(32) };
}

type Chain = { key: Uint8Array; index: number };
type Ratchet = {
  rk: Uint8Array;
  dhsPriv: Uint8Array;
  dhsPub: Uint8Array;
  dhr: Uint8Array | null;
  cks: Chain | null;
  ckr: Chain | null;
  pn: number;
  prev: { key: Uint8Array; end: number }[];
};

const ratchetHeader = (dhsPub: Uint8Array, pn: number, n: number): Uint8Array => cat(u8(1), u8(1), encX(dhsPub), u32(pn), u32(n));

type Sent = { bytes: Uint8Array; chainKey: Uint8Array; counter: number; pn: number; mk: Uint8Array; key: Uint8Array; nonce: Uint8Array; header: Uint8Array; ct: Uint8Array };

/** §8.3 */
function ratchetEncrypt(r: Ratchet, ad: Uint8Array, plaintext: Uint8Array): Sent {
  const cks = r.cks!;
  const header = ratchetHeader(r.dhsPub, r.pn, cks.index);
  const mk = seedOf(cks.key);
  const { key, nonce } = msgKeys(mk);
  const ct = seal(key, nonce, pad(plaintext), cat(ad, header));
  const sent = { bytes: cat(header, ct), chainKey: cks.key, counter: cks.index, pn: r.pn, mk, key, nonce, header, ct };
  r.cks = { key: nextCk(cks.key), index: cks.index + 1 };
  return sent;
}

type Skipped = Map<string, Uint8Array>;
const skipKey = (dhPub: Uint8Array, n: number): string => `${hex(dhPub)}:${n}`;

function parseRatchet(bytes: Uint8Array): { dh: Uint8Array; pn: number; n: number; header: Uint8Array; ct: Uint8Array } {
  const c = new Cursor(bytes);
  expect([c.u8(), c.u8()]).toEqual([1, 1]);
  const dhPub = c.key(0x05);
  const pn = c.u32();
  const n = c.u32();
  return { dh: dhPub, pn, n, header: bytes.slice(0, 43), ct: c.take(bytes.length - 43) };
}

/** §8.4 (happy path and skipped keys): mutates `r` and `skipped`; returns the unpadded plaintext. */
function ratchetDecrypt(
  r: Ratchet,
  ad: Uint8Array,
  bytes: Uint8Array,
  skipped: Skipped,
  draw: () => Uint8Array,
): { plaintext: Uint8Array; added: { dh: Uint8Array; n: number; mk: Uint8Array }[]; dhStep: boolean } {
  const m = parseRatchet(bytes);
  const fullAd = cat(ad, m.header);
  const stored = skipped.get(skipKey(m.dh, m.n));
  if (stored) {
    skipped.delete(skipKey(m.dh, m.n));
    const { key, nonce } = msgKeys(stored);
    return { plaintext: unpad(open(key, nonce, m.ct, fullAd)), added: [], dhStep: false };
  }
  const added: { dh: Uint8Array; n: number; mk: Uint8Array }[] = [];
  const skipTo = (chain: Chain, target: number, dhPub: Uint8Array): Chain => {
    let key = chain.key;
    for (let i = chain.index; i < target; i++) {
      added.push({ dh: dhPub, n: i, mk: seedOf(key) });
      key = nextCk(key);
    }
    return { key, index: target };
  };
  let dhStep = false;
  let chain: Chain;
  if (r.dhr && r.ckr && eqBytes(m.dh, r.dhr)) {
    expect(m.n - r.ckr.index).toBeLessThanOrEqual(25_000);
    chain = skipTo(r.ckr, m.n, m.dh);
  } else {
    dhStep = true;
    if (r.ckr && r.dhr) {
      skipTo(r.ckr, m.pn, r.dhr);
      r.prev = [{ key: r.dhr, end: m.pn }, ...r.prev].slice(0, 5);
    }
    const [rk1, ckr] = kdfRk(r.rk, dh(r.dhsPriv, m.dh));
    const fresh = draw();
    const [rk2, cks] = kdfRk(rk1, dh(fresh, m.dh));
    r.rk = rk2;
    r.pn = r.cks ? r.cks.index : 0;
    r.dhsPriv = fresh;
    r.dhsPub = xPub(fresh);
    r.dhr = m.dh;
    r.cks = { key: cks, index: 0 };
    chain = skipTo({ key: ckr, index: 0 }, m.n, m.dh);
  }
  const { key, nonce } = msgKeys(seedOf(chain.key));
  const plaintext = unpad(open(key, nonce, m.ct, fullAd));
  r.ckr = { key: nextCk(chain.key), index: chain.index + 1 };
  for (const a of added) skipped.set(skipKey(a.dh, a.n), a.mk);
  return { plaintext, added, dhStep };
}

type PrekeyHeader = { flags: number; ikA: Uint8Array; ek: Uint8Array; spkId: number; opkId?: number | undefined; kemId?: number | undefined; ct?: Uint8Array | undefined; length: number };

/** §9.2 */
function encodePrekeyHeader(h: Omit<PrekeyHeader, 'flags' | 'length'>): Uint8Array {
  const flags = (h.opkId !== undefined ? 1 : 0) | (h.ct ? 2 : 0);
  return cat(
    u8(1),
    u8(2),
    u8(flags),
    encX(h.ikA),
    encX(h.ek),
    u32(h.spkId),
    ...(h.opkId !== undefined ? [u32(h.opkId)] : []),
    ...(h.ct ? [u32(h.kemId!), h.ct] : []),
  );
}
function parsePrekeyHeader(bytes: Uint8Array): PrekeyHeader {
  const c = new Cursor(bytes);
  expect([c.u8(), c.u8()]).toEqual([1, 2]);
  const flags = c.u8();
  expect(flags & ~3).toBe(0);
  const ikA = c.key(0x05);
  const ek = c.key(0x05);
  const spkId = c.u32();
  const opkId = flags & 1 ? c.u32() : undefined;
  const kemId = flags & 2 ? c.u32() : undefined;
  const ct = flags & 2 ? c.take(1088) : undefined;
  return { flags, ikA, ek, spkId, opkId, kemId, ct, length: c.off };
}

// §9.3 decryption error

type DecryptionError = { body: Uint8Array; signature: Uint8Array; ratchetKey: Uint8Array | null; counter: number | null; timestamp: number };

/** §10.5: the body names the failed message's (inner, for a prekey message) ratchet key and counter when it parses. */
function decryptionErrorBody(failed: Uint8Array, timestamp: number): Uint8Array {
  if (failed.length >= 2 && failed[0] === 1 && (failed[1] === 1 || failed[1] === 2)) {
    const inner = failed[1] === 2 ? failed.slice(parsePrekeyHeader(failed).length) : failed;
    const r = parseRatchet(inner);
    return cat(u8(0x01), encX(r.dh), u32(r.n), u64(timestamp));
  }
  return cat(u8(0x00), u64(timestamp));
}
/** §9.3 signature input. */
const decryptionErrorSignatureInput = (reporter: Party, recipient: Party, body: Uint8Array): Uint8Array =>
  cat(LABEL.DecryptionError, reporter.accountId, u32(reporter.deviceId), recipient.accountId, u32(recipient.deviceId), body);
/** §9.3: version ‖ type ‖ pad160(body ‖ signature). */
const encodeDecryptionError = (body: Uint8Array, signature: Uint8Array): Uint8Array => cat(u8(1), u8(3), pad(cat(body, signature)));
function parseDecryptionError(bytes: Uint8Array): DecryptionError {
  expect(bytes.length).toBe(162);
  expect([bytes[0], bytes[1]]).toEqual([1, 3]);
  const inner = unpad(bytes.slice(2));
  const body = inner.slice(0, inner.length - 64);
  const signature = inner.slice(inner.length - 64);
  const c = new Cursor(body);
  const flags = c.u8();
  expect(flags & ~1).toBe(0);
  const ratchetKey = flags & 1 ? c.key(0x05) : null;
  const counter = flags & 1 ? c.u32() : null;
  const timestamp = c.u64();
  expect(c.done()).toBe(true);
  return { body, signature, ratchetKey, counter, timestamp };
}

// ── §11 Serialized state ────────────────────────────────────────────────────

type Session = {
  sessionId: Uint8Array;
  mode: 'pqxdh' | 'x3dh';
  role: 'initiator' | 'responder';
  local: Party & { ik: Uint8Array };
  remote: Party & { ik: Uint8Array };
  baseKey: Uint8Array;
  createdAt: number;
  pending: Uint8Array | null;
  r: Ratchet;
  ad: Uint8Array;
};

function writeRatchet(r: Ratchet): Uint8Array {
  const flags = (r.dhr ? 1 : 0) | (r.cks ? 2 : 0) | (r.ckr ? 4 : 0);
  return cat(
    r.rk,
    r.dhsPriv,
    r.dhsPub,
    u8(flags),
    ...(r.dhr ? [r.dhr] : []),
    ...(r.cks ? [r.cks.key, u32(r.cks.index)] : []),
    ...(r.ckr ? [r.ckr.key, u32(r.ckr.index)] : []),
    u32(r.pn),
    u8(r.prev.length),
    ...r.prev.map((p) => cat(p.key, u32(p.end))),
  );
}
function writeSession(s: Session): Uint8Array {
  const flags = (s.mode === 'pqxdh' ? 1 : 0) | (s.role === 'initiator' ? 2 : 0) | (s.pending ? 4 : 0);
  return cat(
    u8(1),
    s.sessionId,
    u8(flags),
    s.local.accountId,
    u32(s.local.deviceId),
    encX(s.local.ik),
    s.remote.accountId,
    u32(s.remote.deviceId),
    encX(s.remote.ik),
    encX(s.baseKey),
    u64(s.createdAt),
    ...(s.pending ? [u16(s.pending.length), s.pending] : []),
    writeRatchet(s.r),
  );
}
function writeRecord(current: Session | null, archived: readonly Session[]): Uint8Array {
  return cat(u8(1), u8(current ? 1 : 0), ...(current ? [writeSession(current)] : []), u8(archived.length), ...archived.map(writeSession));
}

function readRatchet(c: Cursor): Ratchet {
  const rk = c.take(32);
  const dhsPriv = c.take(32);
  const dhsPub = c.take(32);
  const flags = c.u8();
  expect(flags & ~7).toBe(0);
  const dhr = flags & 1 ? c.take(32) : null;
  const cks = flags & 2 ? { key: c.take(32), index: c.u32() } : null;
  const ckr = flags & 4 ? { key: c.take(32), index: c.u32() } : null;
  const pn = c.u32();
  const k = c.u8();
  expect(k).toBeLessThanOrEqual(5);
  const prev = Array.from({ length: k }, () => ({ key: c.take(32), end: c.u32() }));
  return { rk, dhsPriv, dhsPub, dhr, cks, ckr, pn, prev };
}
function readSession(c: Cursor): Session {
  expect(c.u8()).toBe(1);
  const sessionId = c.take(16);
  const flags = c.u8();
  expect(flags & ~7).toBe(0);
  const local = { accountId: c.take(16), deviceId: c.u32(), ik: c.key(0x05) };
  const remote = { accountId: c.take(16), deviceId: c.u32(), ik: c.key(0x05) };
  const baseKey = c.key(0x05);
  const createdAt = c.u64();
  const pending = flags & 4 ? c.take(c.u16()) : null;
  const r = readRatchet(c);
  const role = flags & 2 ? 'initiator' : 'responder';
  const [init, resp] = role === 'initiator' ? [local, remote] : [remote, local];
  return {
    sessionId,
    mode: flags & 1 ? 'pqxdh' : 'x3dh',
    role,
    local,
    remote,
    baseKey,
    createdAt,
    pending,
    r,
    ad: sessionAd(init.ik, resp.ik, init, resp),
  };
}
function readRecord(bytes: Uint8Array): { current: Session | null; archived: Session[] } {
  const c = new Cursor(bytes);
  expect(c.u8()).toBe(1);
  const has = c.u8();
  expect(has).toBeLessThanOrEqual(1);
  const current = has ? readSession(c) : null;
  const n = c.u8();
  expect(n).toBeLessThanOrEqual(40);
  const archived = Array.from({ length: n }, () => readSession(c));
  expect(c.done()).toBe(true);
  return { current, archived };
}

// ── Session scenarios (§10) ─────────────────────────────────────────────────

type ScriptOp =
  | { op: 'initiate'; time: number; signedPrekeyId: number; oneTimePrekeyId: number | null; kemPrekeyId: number }
  | { op: 'advance'; ms: number }
  | { op: 'send'; id: string; from: 'alice' | 'bob'; plaintext: string }
  | { op: 'receive'; id: string; by: 'alice' | 'bob' }
  | { op: 'snapshot'; of: 'alice' };
type PrekeySpec =
  | { kind: 'signed'; keyId: number; createdAt: number }
  | { kind: 'oneTime'; keyId: number }
  | { kind: 'kem'; keyId: number; createdAt: number; lastResort: boolean };
type ChainJson = { key: string; index: number } | null;
type StateJson = {
  rootKey: string;
  sendingRatchetKeyPublic: string;
  remoteRatchetKey: string | null;
  sendingChain: ChainJson;
  receivingChain: ChainJson;
  previousCounter: number;
  previousChains: { ratchetKey: string; end: number }[];
};
type MessageJson = {
  id: string;
  from: string;
  type: 'prekey' | 'ratchet';
  plaintextHex: string;
  paddedLength: number;
  sendingChainKey: string;
  counter: number;
  previousCounter: number;
  ratchetKeyPublic: string;
  messageSeed: string;
  messageKey: string;
  nonce: string;
  prekeyHeader: string | null;
  ratchetHeader: string;
  ciphertext: string;
  bytes: string;
};
type ReceiptJson = {
  id: string;
  by: string;
  plaintextHex: string;
  newSession: boolean;
  dhStep: boolean;
  prekeyChanges: { consumedOneTimePrekeyId: number | null; consumedKemPrekeyId: number | null; seenBaseKey: { signedPrekeyId: number; hash: string } | null };
  skippedKeys: { ratchetKey: string; counter: number; messageSeed: string }[];
  sessionId: string;
  pendingPrekey: boolean;
  state: StateJson;
};
type DeviceJson = { accountId: string; accountPublicKey: string; deviceId: number; identityDhPublic: string; identitySigningPublic: string; capabilities: number };
type ScenarioVector = {
  rng: { alice: DrawList; bob: DrawList; decrypt?: DrawList };
  inputs: {
    time: number;
    alice: { deviceId: number; capabilities: number };
    bob: { deviceId: number; capabilities: number; prekeys: PrekeySpec[] };
    script: ScriptOp[];
  };
  outputs: {
    devices: { alice: DeviceJson; bob: DeviceJson; bobPrekeys: (PrekeySpec & { publicKey: string; signature?: string })[] };
    messages: MessageJson[];
    receipts: ReceiptJson[];
  };
};

const stateJson = (r: Ratchet): StateJson => ({
  rootKey: hex(r.rk),
  sendingRatchetKeyPublic: hex(r.dhsPub),
  remoteRatchetKey: r.dhr ? hex(r.dhr) : null,
  sendingChain: r.cks ? { key: hex(r.cks.key), index: r.cks.index } : null,
  receivingChain: r.ckr ? { key: hex(r.ckr.key), index: r.ckr.index } : null,
  previousCounter: r.pn,
  previousChains: r.prev.map((p) => ({ ratchetKey: hex(p.key), end: p.end })),
});

type Device = Party & {
  ikPriv: Uint8Array;
  ik: Uint8Array;
  ikSigSeed: Uint8Array;
  ikSig: Uint8Array;
  accountSeed: Uint8Array;
  accountKey: Uint8Array;
  capabilities: number;
};

/** §13 draw order of a device: account id (16), account key (32), IK (32), IKsig (32). */
function drawDevice(d: Draws, deviceId: number, capabilities: number): Device {
  const accountId = d.take('accountId', 16);
  const accountSeed = d.take('accountKey', 32);
  const ikPriv = d.take('identityDh', 32);
  const ikSigSeed = d.take('identitySigning', 32);
  return { accountId, deviceId, ikPriv, ik: xPub(ikPriv), ikSigSeed, ikSig: edPub(ikSigSeed), accountSeed, accountKey: edPub(accountSeed), capabilities };
}

/**
 * Replays a scenario's script with this file's implementation: Alice initiates (PQXDH), both send
 * and receive, and every message, receipt and (at `snapshot`) Alice's serialized record must match.
 */
class ScenarioRun {
  readonly alice: Device;
  readonly bob: Device;
  readonly aliceDraws: Draws;
  readonly bobDraws: Draws;
  readonly spk = new Map<number, { priv: Uint8Array; pub: Uint8Array; createdAt: number }>();
  readonly opk = new Map<number, { priv: Uint8Array; pub: Uint8Array }>();
  readonly kem = new Map<number, { seed: Uint8Array; pub: Uint8Array; secretKey: Uint8Array; lastResort: boolean; createdAt: number }>();
  /** Sessions per side: current first, then archived, most recent first. */
  readonly sessions: { alice: Session[]; bob: Session[] } = { alice: [], bob: [] };
  readonly skipped = { alice: new Map() as Skipped, bob: new Map() as Skipped };
  readonly bytes = new Map<string, Uint8Array>();
  snapshot: Uint8Array | null = null;
  now: number;
  counts = { messages: 0, receipts: 0, prekeys: 0 };

  constructor(readonly v: ScenarioVector) {
    this.aliceDraws = new Draws(v.rng.alice);
    this.bobDraws = new Draws(v.rng.bob);
    this.alice = drawDevice(this.aliceDraws, v.inputs.alice.deviceId, v.inputs.alice.capabilities);
    this.bob = drawDevice(this.bobDraws, v.inputs.bob.deviceId, v.inputs.bob.capabilities);
    this.now = v.inputs.time;
    // §5.1: Bob's prekeys in generation order, each signed with IKsig.
    for (const p of v.inputs.bob.prekeys) {
      const out = v.outputs.devices.bobPrekeys[this.counts.prekeys++]!;
      if (p.kind === 'signed') {
        const priv = this.bobDraws.take('signedPrekey', 32);
        this.spk.set(p.keyId, { priv, pub: xPub(priv), createdAt: p.createdAt });
        expect(hex(xPub(priv))).toBe(out.publicKey);
        expect(hex(sign(this.bob.ikSigSeed, spkInput(p.keyId, xPub(priv), p.createdAt)))).toBe(out.signature);
      } else if (p.kind === 'oneTime') {
        const priv = this.bobDraws.take('oneTimePrekey', 32);
        this.opk.set(p.keyId, { priv, pub: xPub(priv) });
        expect(hex(xPub(priv))).toBe(out.publicKey);
      } else {
        const seed = this.bobDraws.take(p.lastResort ? 'kemLastResortPrekey' : 'kemOneTimePrekey', 64);
        const { publicKey, secretKey } = ml_kem768.keygen(seed);
        this.kem.set(p.keyId, { seed, pub: publicKey, secretKey, lastResort: p.lastResort, createdAt: p.createdAt });
        expect(hex(publicKey)).toBe(out.publicKey);
        expect(hex(sign(this.bob.ikSigSeed, kemInput(p.keyId, publicKey, p.createdAt, p.lastResort)))).toBe(out.signature);
      }
    }
    for (const [name, d] of [['alice', this.alice], ['bob', this.bob]] as const) {
      const out = v.outputs.devices[name];
      expect({
        accountId: hex(d.accountId),
        accountPublicKey: hex(d.accountKey),
        deviceId: d.deviceId,
        identityDhPublic: hex(d.ik),
        identitySigningPublic: hex(d.ikSig),
        capabilities: d.capabilities,
      }).toEqual(out);
    }
  }

  run(): void {
    for (const op of this.v.inputs.script) {
      if (op.op === 'initiate') {
        expect(op.time).toBe(this.now);
        this.initiate(op);
      } else if (op.op === 'advance') this.now += op.ms;
      else if (op.op === 'send') this.send(op.from, op.id, op.plaintext);
      else if (op.op === 'receive') this.receive(op.by, op.id);
      else this.snapshot = writeRecord(this.sessions.alice[0] ?? null, this.sessions.alice.slice(1));
    }
  }

  /** §10.2 with a bundle of Bob's prekeys (its checks are covered by prekey-bundle.json). */
  initiate(op: Extract<ScriptOp, { op: 'initiate' }>): void {
    const d = this.aliceDraws;
    const spk = this.spk.get(op.signedPrekeyId)!;
    const opk = op.oneTimePrekeyId !== null ? this.opk.get(op.oneTimePrekeyId)! : undefined;
    const kem = this.kem.get(op.kemPrekeyId)!;
    const ekPriv = d.take('baseKey', 32);
    const ek = xPub(ekPriv);
    const m = d.take('kemMessage', 32);
    const { cipherText: ct, sharedSecret: ss } = ml_kem768.encapsulate(kem.pub, m);
    const dhs = [dh(this.alice.ikPriv, spk.pub), dh(ekPriv, this.bob.ik), dh(ekPriv, spk.pub), ...(opk ? [dh(ekPriv, opk.pub)] : [])];
    const { sk } = agree('pqxdh', { ikA: this.alice.ik, ikB: this.bob.ik, spk: spk.pub, opk: opk?.pub, pqpk: kem.pub, ek, ct }, dhs, ss);
    const ratchetPriv = d.take('ratchetKey', 32);
    const [rk, ck] = kdfRk(sk, dh(ratchetPriv, spk.pub));
    const ad = sessionAd(this.alice.ik, this.bob.ik, this.alice, this.bob);
    const pending = encodePrekeyHeader({ ikA: this.alice.ik, ek, spkId: op.signedPrekeyId, opkId: op.oneTimePrekeyId ?? undefined, kemId: op.kemPrekeyId, ct });
    const session: Session = {
      sessionId: sessionIdOf(ad, ek),
      mode: 'pqxdh',
      role: 'initiator',
      local: { ...this.alice },
      remote: { ...this.bob },
      baseKey: ek,
      createdAt: this.now,
      pending,
      r: { rk, dhsPriv: ratchetPriv, dhsPub: xPub(ratchetPriv), dhr: spk.pub, cks: { key: ck, index: 0 }, ckr: null, pn: 0, prev: [] },
      ad,
    };
    this.sessions.alice = [session, ...this.sessions.alice].slice(0, 41);
  }

  send(from: 'alice' | 'bob', id: string, text: string): void {
    const s = this.sessions[from][0]!;
    const sent = ratchetEncrypt(s.r, s.ad, utf8(text));
    const bytes = s.pending ? cat(s.pending, sent.bytes) : sent.bytes;
    this.bytes.set(id, bytes);
    const expected = this.v.outputs.messages[this.counts.messages++]!;
    expect(
      {
        id,
        from,
        type: s.pending ? 'prekey' : 'ratchet',
        plaintextHex: hex(utf8(text)),
        paddedLength: pad(utf8(text)).length,
        sendingChainKey: hex(sent.chainKey),
        counter: sent.counter,
        previousCounter: sent.pn,
        ratchetKeyPublic: hex(s.r.dhsPub),
        messageSeed: hex(sent.mk),
        messageKey: hex(sent.key),
        nonce: hex(sent.nonce),
        prekeyHeader: s.pending ? hex(s.pending) : null,
        ratchetHeader: hex(sent.header),
        ciphertext: hex(sent.ct),
        bytes: hex(bytes),
      },
      `message ${id}`,
    ).toEqual(expected);
  }

  /** §10.3 for the cases the scenarios contain: new and repeated prekey messages, ratchet messages. */
  receive(by: 'alice' | 'bob', id: string) {
    const bytes = this.bytes.get(id)!;
    const me = by === 'alice' ? this.alice : this.bob;
    const peer = by === 'alice' ? this.bob : this.alice;
    const draws = by === 'alice' ? this.aliceDraws : this.bobDraws;
    let session: Session;
    let inner = bytes;
    let newSession = false;
    const changes: ReceiptJson['prekeyChanges'] = { consumedOneTimePrekeyId: null, consumedKemPrekeyId: null, seenBaseKey: null };
    expect(bytes[0]).toBe(1);
    if (bytes[1] === 2) {
      const h = parsePrekeyHeader(bytes);
      inner = bytes.slice(h.length);
      expect(eqBytes(h.ikA, peer.ik)).toBe(true);
      const existing = this.sessions[by].find((s) => s.role === 'responder' && eqBytes(s.baseKey, h.ek));
      if (existing) session = existing;
      else {
        // §6.2 responder, §8.2 responder initialisation.
        const spk = this.spk.get(h.spkId)!;
        const opk = h.opkId !== undefined ? this.opk.get(h.opkId)! : undefined;
        const kem = this.kem.get(h.kemId!)!;
        const ss = ml_kem768.decapsulate(h.ct!, kem.secretKey);
        const dhs = [dh(spk.priv, h.ikA), dh(me.ikPriv, h.ek), dh(spk.priv, h.ek), ...(opk ? [dh(opk.priv, h.ek)] : [])];
        const { sk } = agree('pqxdh', { ikA: h.ikA, ikB: me.ik, spk: spk.pub, opk: opk?.pub, pqpk: kem.pub, ek: h.ek, ct: h.ct }, dhs, ss);
        const ad = sessionAd(h.ikA, me.ik, peer, me);
        session = {
          sessionId: sessionIdOf(ad, h.ek),
          mode: 'pqxdh',
          role: 'responder',
          local: { ...me },
          remote: { ...peer, ik: h.ikA },
          baseKey: h.ek,
          createdAt: this.now,
          pending: null,
          r: { rk: sk, dhsPriv: spk.priv, dhsPub: spk.pub, dhr: null, cks: null, ckr: null, pn: 0, prev: [] },
          ad,
        };
        newSession = true;
        // §10.3 step 8: consumed only now; the seen-set only without a one-time prekey.
        changes.consumedOneTimePrekeyId = h.opkId ?? null;
        changes.consumedKemPrekeyId = kem.lastResort ? null : h.kemId!;
        changes.seenBaseKey = h.opkId === undefined ? { signedPrekeyId: h.spkId, hash: hex(sha256(cat(LABEL.BaseKeySeen, encX(h.ek)))) } : null;
      }
    } else {
      session = this.sessions[by][0]!;
    }
    const result = ratchetDecrypt(session.r, session.ad, inner, this.skipped[by], () => draws.take('ratchetKey', 32));
    session.pending = null;
    this.sessions[by] = [session, ...this.sessions[by].filter((s) => s !== session)].slice(0, 41);
    const expected = this.v.outputs.receipts[this.counts.receipts++]!;
    expect(
      {
        id,
        by,
        plaintextHex: hex(result.plaintext),
        newSession,
        dhStep: result.dhStep,
        prekeyChanges: changes,
        skippedKeys: result.added.map((a) => ({ ratchetKey: hex(a.dh), counter: a.n, messageSeed: hex(a.mk) })),
        sessionId: hex(session.sessionId),
        pendingPrekey: false,
        state: stateJson(session.r),
      },
      `receipt ${id}`,
    ).toEqual(expected);
    return result;
  }
}

// ── The vectors ─────────────────────────────────────────────────────────────

describe('Parley vectors, recomputed from docs/protocol.md alone', () => {
  it('§13 test-vector RNG: 2 seeds × 5 requests', () => {
    const v = load<{ cases: { seed: string; requests: number[]; outputs: string[] }[] }>('rng.json');
    let n = 0;
    for (const c of v.cases) {
      const rng = rngStream(c.seed);
      c.requests.forEach((len, i) => {
        expect(hex(rng(len))).toBe(c.outputs[i]);
        n++;
      });
    }
    expect(n).toBe(10);
  });

  it('§8.5 padding: 7 lengths pad to the expected blocks and unpad back', () => {
    const v = load<{ cases: { plaintext: string; paddedLength: number; padded: string }[] }>('padding.json');
    for (const c of v.cases) {
      const padded = pad(unhex(c.plaintext));
      expect(padded.length).toBe(c.paddedLength);
      expect(hex(padded)).toBe(c.padded);
      expect(hex(unpad(padded))).toBe(c.plaintext);
    }
    expect(v.cases.map((c) => c.paddedLength)).toEqual([160, 160, 160, 320, 320, 320, 480]);
  });

  it('§4 device list: body, signature, signed bytes, field offsets, 5 freshness and re-sign cases, 6 verification cases', () => {
    type V = {
      rng: DrawList;
      inputs: { version: number; issuedAt: number; devices: { deviceId: number; capabilities: number; addedAt: number }[] };
      outputs: {
        accountId: string;
        accountPublicKey: string;
        devices: { deviceId: number; identityDhPublic: string; identitySigningPublic: string }[];
        body: string;
        signature: string;
        signed: string;
        freshness: { now: number; freshness: string; needsResign: boolean }[];
        otherAccountPublicKey: string;
        verification: { name: string; expect: string }[];
      };
    };
    const v = load<V>('device-list.json');
    const d = new Draws(v.rng);
    const { accountId, accountSeed, entries } = drawDeviceList(d, v.inputs.devices);
    const otherAccountKey = edPub(d.take('otherAccountKey', 32));
    d.allTaken();
    expect(hex(otherAccountKey)).toBe(v.outputs.otherAccountPublicKey);
    expect(hex(accountId)).toBe(v.outputs.accountId);
    expect(hex(edPub(accountSeed))).toBe(v.outputs.accountPublicKey);
    expect(entries.map((e) => ({ deviceId: e.deviceId, identityDhPublic: hex(e.ik), identitySigningPublic: hex(e.ikSig) }))).toEqual(v.outputs.devices);
    const body = deviceListBody(accountId, v.inputs.version, v.inputs.issuedAt, entries);
    expect(body.length).toBe(53 + 82 * entries.length);
    expect(hex(body)).toBe(v.outputs.body);
    const sig = sign(accountSeed, body);
    expect(hex(sig)).toBe(v.outputs.signature);
    expect(hex(cat(body, sig))).toBe(v.outputs.signed);
    expect(verify(edPub(accountSeed), body, sig)).toBe(true);

    // The offsets of §4.1, read back from the signed bytes.
    const signed = unhex(v.outputs.signed);
    const c = new Cursor(signed);
    expect(eqBytes(c.take(20), LABEL.DeviceList)).toBe(true);
    expect(hex(c.take(16))).toBe(v.outputs.accountId);
    expect([c.u64(), c.u64(), c.u8()]).toEqual([v.inputs.version, v.inputs.issuedAt, entries.length]);
    entries.forEach((e, i) => {
      expect(c.off).toBe(53 + 82 * i);
      expect([c.u32(), hex(c.key(0x05)), hex(c.key(0x06)), c.u32(), c.u64()]).toEqual([e.deviceId, hex(e.ik), hex(e.ikSig), e.capabilities, e.addedAt]);
    });
    expect(hex(c.take(64))).toBe(v.outputs.signature);
    expect(c.done()).toBe(true);

    for (const f of v.outputs.freshness) {
      expect({ freshness: freshness(v.inputs.issuedAt, f.now), needsResign: needsResign(v.inputs.issuedAt, f.now) }, `age ${f.now - v.inputs.issuedAt}`).toEqual({
        freshness: f.freshness,
        needsResign: f.needsResign,
      });
    }
    expect(v.outputs.freshness.map((f) => f.now - v.inputs.issuedAt)).toEqual([0, 7 * DAY - 1, 7 * DAY, 30 * DAY, 30 * DAY + 1]);
    expect(v.outputs.freshness.map((f) => `${f.freshness}/${f.needsResign}`)).toEqual([
      'fresh/false',
      'fresh/false',
      'fresh/true',
      'fresh/true',
      'stale/true',
    ]);

    // §4.1 verification: the signature first (BAD_SIGNATURE), then the expected account id (UNTRUSTED_IDENTITY).
    const flippedSig = signed.slice();
    flippedSig[body.length]! ^= 0x01;
    const otherAccountId = accountId.slice();
    otherAccountId[0]! ^= 0x01;
    const accountKey = edPub(accountSeed);
    const verification: Record<string, string> = {
      valid: verifyList(signed, accountKey, accountId),
      'valid-no-expected-account-id': verifyList(signed, accountKey, undefined),
      'signature-flipped': verifyList(flippedSig, accountKey, accountId),
      'other-account-key': verifyList(signed, otherAccountKey, accountId),
      'other-account-key-and-other-account-id': verifyList(signed, otherAccountKey, otherAccountId),
      'other-expected-account-id': verifyList(signed, accountKey, otherAccountId),
    };
    expect(v.outputs.verification.map((c) => [c.name, verification[c.name]])).toEqual(v.outputs.verification.map((c) => [c.name, c.expect]));
    expect(v.outputs.verification.map((c) => c.expect)).toEqual(['ok', 'ok', 'BAD_SIGNATURE', 'BAD_SIGNATURE', 'BAD_SIGNATURE', 'UNTRUSTED_IDENTITY']);
  });

  it('§4.4 device capabilities: 3 entries with their bits read by name, unknown bits kept, and 2 relay edits of a bit that break the signature', () => {
    type Spec = { deviceId: number; capabilities: number; addedAt: number };
    type V = {
      rng: DrawList;
      inputs: { version: number; issuedAt: number; devices: Spec[] };
      outputs: {
        accountId: string;
        accountPublicKey: string;
        body: string;
        signed: string;
        devices: { deviceId: number; capabilities: number; names: string[]; unknownBits: number; showsFiles: boolean; readsProfileKeys: boolean }[];
        tampered: { name: string; capabilities: number; signed: string; expect: string }[];
      };
    };
    const v = load<V>('device-capabilities.json');
    const d = new Draws(v.rng);
    const { accountId, accountSeed, entries } = drawDeviceList(d, v.inputs.devices);
    d.allTaken();
    expect(hex(accountId)).toBe(v.outputs.accountId);
    expect(hex(edPub(accountSeed))).toBe(v.outputs.accountPublicKey);
    // The bits live in the §4.1 entry, unchanged in layout: the signed body covers them.
    const body = deviceListBody(accountId, v.inputs.version, v.inputs.issuedAt, entries);
    expect(hex(body)).toBe(v.outputs.body);
    const signed = cat(body, sign(accountSeed, body));
    expect(hex(signed)).toBe(v.outputs.signed);

    // §4.4's table, written out here: bit → name; the rest is kept as unknown.
    const TABLE: readonly [number, string][] = [
      [0x01, 'pq'],
      [0x02, 'files'],
      [0x04, 'profiles'],
      [0x08, 'groups'],
      [0x10, 'timers'],
    ];
    const read = (caps: number) => ({
      names: TABLE.filter(([bit]) => (caps & bit) !== 0).map(([, name]) => name),
      unknownBits: (caps & ~0x5f) >>> 0,
      showsFiles: (caps & 0x02) !== 0,
      readsProfileKeys: (caps & 0x04) !== 0,
    });
    const c = new Cursor(signed);
    c.take(53);
    const fromBytes = entries.map(() => {
      const deviceId = c.u32();
      c.key(0x05);
      c.key(0x06);
      const capabilities = c.u32();
      c.u64();
      return { deviceId, capabilities, ...read(capabilities) };
    });
    expect(fromBytes).toEqual(v.outputs.devices);
    expect(fromBytes.map((e) => e.showsFiles)).toEqual([true, false, true]);
    expect(fromBytes[2]!.unknownBits).toBe(0x0001_0000);

    // A relay that edits a capabilities field (at 53 + 82·i + 70) breaks the account signature.
    for (const t of v.outputs.tampered) {
      const index = t.name.includes('device-2') ? 1 : 0;
      const edited = signed.slice();
      edited.set(u32(t.capabilities), 53 + 82 * index + 70);
      expect(hex(edited), t.name).toBe(t.signed);
      expect(verifyList(edited, edPub(accountSeed), accountId), t.name).toBe(t.expect);
    }
    expect(v.outputs.tampered.map((t) => t.expect)).toEqual(['BAD_SIGNATURE', 'BAD_SIGNATURE']);
  });

  it('§5 prekey bundle: 3 signature inputs and signatures, and 24 bundle checks in the documented order', () => {
    type KemJson = { keyId: number; createdAt: number; lastResort: boolean; publicKey: string; signatureInput: string; signature: string };
    type V = {
      rng: DrawList;
      inputs: {
        deviceId: number;
        capabilities: number;
        signedPrekey: { keyId: number; createdAt: number };
        oneTimePrekey: { keyId: number };
        kemOneTimePrekey: { keyId: number; createdAt: number; lastResort: boolean };
        kemLastResortPrekey: { keyId: number; createdAt: number; lastResort: boolean };
      };
      outputs: {
        device: DeviceJson;
        signedPrekey: { keyId: number; createdAt: number; publicKey: string; signatureInput: string; signature: string };
        oneTimePrekey: { keyId: number; publicKey: string };
        kemOneTimePrekey: KemJson;
        kemLastResortPrekey: KemJson;
      };
      checks: { mutation: string; now: number; expect: { mode?: string; error?: string } }[];
    };
    const v = load<V>('prekey-bundle.json');
    const d = new Draws(v.rng);
    const dev = drawDevice(d, v.inputs.deviceId, v.inputs.capabilities);
    const spkPriv = d.take('signedPrekey', 32);
    const opkPriv = d.take('oneTimePrekey', 32);
    const kemSeeds = [d.take('kemOneTimePrekey', 64), d.take('kemLastResortPrekey', 64)];
    d.allTaken();
    expect({
      accountId: hex(dev.accountId),
      accountPublicKey: hex(dev.accountKey),
      deviceId: dev.deviceId,
      identityDhPublic: hex(dev.ik),
      identitySigningPublic: hex(dev.ikSig),
      capabilities: dev.capabilities,
    }).toEqual(v.outputs.device);

    const s = v.inputs.signedPrekey;
    const spkPub = xPub(spkPriv);
    const spkIn = spkInput(s.keyId, spkPub, s.createdAt);
    expect(spkIn.length).toBe(68);
    const spkSig = sign(dev.ikSigSeed, spkIn);
    expect({ keyId: s.keyId, createdAt: s.createdAt, publicKey: hex(spkPub), signatureInput: hex(spkIn), signature: hex(spkSig) }).toEqual(v.outputs.signedPrekey);
    expect({ keyId: v.inputs.oneTimePrekey.keyId, publicKey: hex(xPub(opkPriv)) }).toEqual(v.outputs.oneTimePrekey);
    const kems = [v.inputs.kemOneTimePrekey, v.inputs.kemLastResortPrekey].map((k, i) => {
      const pub = ml_kem768.keygen(kemSeeds[i]!).publicKey;
      const input = kemInput(k.keyId, pub, k.createdAt, k.lastResort);
      expect(input.length).toBe(1217);
      return { ...k, publicKey: hex(pub), signatureInput: hex(input), signature: hex(sign(dev.ikSigSeed, input)) };
    });
    expect(kems).toEqual([v.outputs.kemOneTimePrekey, v.outputs.kemLastResortPrekey]);

    // §5.3 against each mutation of the bundle (one-time KEM prekey offered).
    const entry: Entry = { deviceId: dev.deviceId, ik: dev.ik, ikSig: dev.ikSig, capabilities: dev.capabilities, addedAt: 0 };
    const k0 = kems[0]!;
    const bundle: Bundle = {
      accountId: dev.accountId,
      deviceId: dev.deviceId,
      ik: dev.ik,
      ikSig: dev.ikSig,
      spk: { keyId: s.keyId, pub: spkPub, createdAt: s.createdAt, sig: spkSig },
      opk: { keyId: v.inputs.oneTimePrekey.keyId, pub: xPub(opkPriv) },
      kem: { keyId: k0.keyId, pub: unhex(k0.publicKey), createdAt: k0.createdAt, lastResort: k0.lastResort, sig: unhex(k0.signature) },
    };
    const flip = (b: Uint8Array, i = 0): Uint8Array => {
      const out = b.slice();
      out[i]! ^= 1;
      return out;
    };
    const mutate = (m: string): [Bundle, Entry, Uint8Array] => {
      const b: Bundle = { ...bundle, spk: { ...bundle.spk }, opk: { ...bundle.opk! }, kem: { ...bundle.kem! } };
      const e = { ...entry };
      let accountId = dev.accountId;
      switch (m) {
        case 'none':
          break;
        case 'classical-entry':
          e.capabilities = 0;
          break;
        case 'classical-entry-without-kem':
          e.capabilities = 0;
          b.kem = undefined;
          break;
        case 'wrong-account-id':
          accountId = flip(accountId);
          break;
        case 'wrong-device-id':
          b.deviceId += 1;
          break;
        case 'wrong-identity-dh':
          b.ik = flip(b.ik);
          break;
        case 'wrong-identity-signing':
          b.ikSig = flip(b.ikSig);
          break;
        case 'signed-prekey-signature-flipped':
          b.spk.sig = flip(b.spk.sig);
          break;
        case 'signed-prekey-id-changed':
          b.spk.keyId += 1;
          break;
        case 'one-time-prekey-short':
          b.opk!.pub = b.opk!.pub.slice(0, 31);
          break;
        case 'no-kem-prekey':
          b.kem = undefined;
          break;
        case 'kem-signature-flipped':
          b.kem!.sig = flip(b.kem!.sig);
          break;
        case 'kem-last-resort-flag-flipped':
          b.kem!.lastResort = !b.kem!.lastResort;
          break;
        case 'kem-public-key-flipped':
          b.kem!.pub = flip(b.kem!.pub, 5);
          break;
        default:
          throw new Error(`unknown mutation ${m}`);
      }
      return [b, e, accountId];
    };
    for (const c of v.checks) {
      const [b, e, accountId] = mutate(c.mutation);
      const result = checkBundle(b, e, accountId, c.now);
      expect(result, `${c.mutation} at ${c.now}`).toBe(c.expect.mode ?? c.expect.error);
    }
    expect(v.checks).toHaveLength(24);
    expect(new Set(v.checks.map((c) => c.expect.mode ?? c.expect.error))).toEqual(
      new Set(['pqxdh', 'x3dh', 'UNTRUSTED_IDENTITY', 'BAD_SIGNATURE', 'MALFORMED', 'MISSING_KEM_PREKEY', 'DEVICE_INACTIVE']),
    );
  });

  it('§6 key agreement: PQXDH with and without a one-time prekey and X3DH, every intermediate value, both sides', () => {
    type Case = {
      name: string;
      mode: 'pqxdh' | 'x3dh';
      rng: { alice: DrawList; bob: DrawList };
      outputs: {
        aliceIdentityPublic: string;
        bobIdentityPublic: string;
        signedPrekeyPublic: string;
        oneTimePrekeyPublic: string | null;
        kemPrekeyPublic: string | null;
        baseKeyPublic: string;
        dh: string[];
        kemCiphertext: string | null;
        kemSharedSecret: string | null;
        ikm: string;
        transcript: string;
        transcriptHash: string;
        info: string;
        sharedSecret: string;
      };
    };
    const v = load<{ cases: Case[] }>('key-agreement.json');
    for (const c of v.cases) {
      const bob = new Draws(c.rng.bob);
      const ikB = bob.take('identityDh', 32);
      const spk = bob.take('signedPrekey', 32);
      const opk = c.outputs.oneTimePrekeyPublic !== null ? bob.take('oneTimePrekey', 32) : undefined;
      const kemKeys = c.mode === 'pqxdh' ? ml_kem768.keygen(bob.take('kemPrekey', 64)) : undefined;
      bob.allTaken();
      const alice = new Draws(c.rng.alice);
      const ikA = alice.take('identityDh', 32);
      const ek = alice.take('baseKey', 32);
      const enc = kemKeys ? ml_kem768.encapsulate(kemKeys.publicKey, alice.take('kemMessage', 32)) : undefined;
      alice.allTaken();

      const pubs = { ikA: xPub(ikA), ikB: xPub(ikB), spk: xPub(spk), opk: opk && xPub(opk), pqpk: kemKeys?.publicKey, ek: xPub(ek), ct: enc?.cipherText };
      const initiator = agree(c.mode, pubs, [dh(ikA, pubs.spk), dh(ek, pubs.ikB), dh(ek, pubs.spk), ...(opk ? [dh(ek, pubs.opk!)] : [])], enc?.sharedSecret);
      const ss = kemKeys ? ml_kem768.decapsulate(enc!.cipherText, kemKeys.secretKey) : undefined;
      const responder = agree(c.mode, pubs, [dh(spk, pubs.ikA), dh(ikB, pubs.ek), dh(spk, pubs.ek), ...(opk ? [dh(opk, pubs.ek)] : [])], ss);
      expect(hex(responder.sk)).toBe(hex(initiator.sk));
      expect(initiator.info.length).toBe(c.mode === 'pqxdh' ? 73 : 61);
      expect(
        {
          aliceIdentityPublic: hex(pubs.ikA),
          bobIdentityPublic: hex(pubs.ikB),
          signedPrekeyPublic: hex(pubs.spk),
          oneTimePrekeyPublic: pubs.opk ? hex(pubs.opk) : null,
          kemPrekeyPublic: pubs.pqpk ? hex(pubs.pqpk) : null,
          baseKeyPublic: hex(pubs.ek),
          dh: initiator.dh.map(hex),
          kemCiphertext: enc ? hex(enc.cipherText) : null,
          kemSharedSecret: ss ? hex(ss) : null,
          ikm: hex(initiator.ikm),
          transcript: hex(initiator.transcript),
          transcriptHash: hex(sha256(initiator.transcript)),
          info: hex(initiator.info),
          sharedSecret: hex(initiator.sk),
        },
        c.name,
      ).toEqual(c.outputs);
    }
    expect(v.cases.map((c) => `${c.mode}:${c.outputs.dh.length}`)).toEqual(['pqxdh:4', 'pqxdh:3', 'x3dh:4']);
  });

  it('§7-§10 session: 5 messages (2 prekey, 3 ratchet, a DH step each way), 5 receipts, the session AD and id, 4 signed decryption errors and 3 forged ones', () => {
    type V = ScenarioVector & {
      outputs: {
        baseKeyPublic: string;
        kemCiphertext: string;
        sharedSecret: string;
        initialRootKey: string;
        initialSendingChainKey: string;
        sessionAd: string;
        sessionId: string;
        baseKeySeenHash: string;
        prekeyHeader: string;
        decryptionErrors: {
          about: string;
          reporter: 'alice' | 'bob';
          recipient: 'alice' | 'bob';
          mutation: 'none' | 'signature-flipped' | 'signed-with-account-key' | 'wrong-recipient-device';
          failedMessage: string;
          timestamp: number;
          body: string;
          signatureInput: string;
          signature: string;
          bytes: string;
          handled:
            | { rebuild: boolean; resendAfter: number; ratchetKey: string | null; counter: number | null; droppedSessionIds: string[] }
            | { error: string };
        }[];
      };
    };
    const v = load<V>('session.json');
    const run = new ScenarioRun(v);
    run.run();
    run.aliceDraws.allTaken();
    run.bobDraws.allTaken();
    expect(run.counts).toEqual({ messages: 5, receipts: 5, prekeys: 3 });
    expect(v.outputs.messages.map((m) => m.type)).toEqual(['prekey', 'prekey', 'ratchet', 'ratchet', 'ratchet']);
    expect(v.outputs.receipts.map((r) => r.dhStep)).toEqual([true, false, true, true, true]);

    // The session-level values of §6, §7, §9.2, §10.3.
    const s = run.sessions.alice[0]!;
    const h = parsePrekeyHeader(unhex(v.outputs.prekeyHeader));
    expect(h.length).toBe(1169);
    expect(hex(s.baseKey)).toBe(v.outputs.baseKeyPublic);
    expect(hex(h.ct!)).toBe(v.outputs.kemCiphertext);
    expect(s.ad.length).toBe(118);
    expect(hex(s.ad)).toBe(v.outputs.sessionAd);
    expect(hex(s.sessionId)).toBe(v.outputs.sessionId);
    expect(hex(run.sessions.bob[0]!.sessionId)).toBe(v.outputs.sessionId);
    expect(hex(sha256(cat(LABEL.BaseKeySeen, encX(s.baseKey))))).toBe(v.outputs.baseKeySeenHash);
    const spk = run.spk.get(h.spkId)!;
    const kem = run.kem.get(h.kemId!)!;
    const opk = run.opk.get(h.opkId!)!;
    const ekPriv = v.rng.alice.draws.find((d) => d.name === 'baseKey')!;
    const ek = unhex(ekPriv.hex);
    const ss = ml_kem768.decapsulate(h.ct!, kem.secretKey);
    const { sk } = agree(
      'pqxdh',
      { ikA: run.alice.ik, ikB: run.bob.ik, spk: spk.pub, opk: opk.pub, pqpk: kem.pub, ek: s.baseKey, ct: h.ct },
      [dh(run.alice.ikPriv, spk.pub), dh(ek, run.bob.ik), dh(ek, spk.pub), dh(ek, opk.pub)],
      ss,
    );
    expect(hex(sk)).toBe(v.outputs.sharedSecret);
    const firstRatchet = unhex(v.rng.alice.draws.find((d) => d.name === 'ratchetKey')!.hex);
    const [rk0, ck0] = kdfRk(sk, dh(firstRatchet, spk.pub));
    expect([hex(rk0), hex(ck0)]).toEqual([v.outputs.initialRootKey, v.outputs.initialSendingChainKey]);
    expect(v.outputs.messages[0]!.sendingChainKey).toBe(v.outputs.initialSendingChainKey);

    // §9.3 / §10.5: the reporter signs with its device identity signing key; the recipient verifies
    // under the reporter's listed key and rebuilds only if the error names its current sending key.
    for (const e of v.outputs.decryptionErrors) {
      const reporter = e.reporter === 'alice' ? run.alice : run.bob;
      const recipient = e.recipient === 'alice' ? run.alice : run.bob;
      expect(reporter).not.toBe(recipient);
      const body = decryptionErrorBody(unhex(e.failedMessage), e.timestamp);
      expect(body.length).toBe(e.about === 'garbage' ? 9 : 46);
      const signedFor = e.mutation === 'wrong-recipient-device' ? { ...recipient, deviceId: recipient.deviceId + 1 } : recipient;
      const input = decryptionErrorSignatureInput(reporter, signedFor, body);
      const signature = sign(e.mutation === 'signed-with-account-key' ? reporter.accountSeed : reporter.ikSigSeed, input);
      const bytes = encodeDecryptionError(body, signature);
      if (e.mutation === 'signature-flipped') bytes[2 + body.length]! ^= 0x01;
      expect(bytes.length).toBe(162);
      expect({ body: hex(body), signatureInput: hex(input), signature: hex(signature), bytes: hex(bytes) }, `${e.about}/${e.mutation}`).toEqual({
        body: e.body,
        signatureInput: e.signatureInput,
        signature: e.signature,
        bytes: e.bytes,
      });

      // The recipient's side, from the bytes alone.
      const parsed = parseDecryptionError(bytes);
      const expectedInput = decryptionErrorSignatureInput(reporter, recipient, parsed.body);
      let handled: (typeof e)['handled'];
      if (!verify(reporter.ikSig, expectedInput, parsed.signature)) handled = { error: 'BAD_SIGNATURE' };
      else {
        const current = run.sessions[e.recipient][0];
        handled = {
          rebuild: current !== undefined && parsed.ratchetKey !== null && eqBytes(parsed.ratchetKey, current.r.dhsPub),
          resendAfter: parsed.timestamp,
          ratchetKey: parsed.ratchetKey && hex(parsed.ratchetKey),
          counter: parsed.counter,
          droppedSessionIds: [],
        };
      }
      expect(handled, `${e.about}/${e.mutation} handled by ${e.recipient}`).toEqual(e.handled);
    }
    expect(v.outputs.decryptionErrors.map((e) => `${e.about}/${e.mutation}`)).toEqual([
      'a1/none',
      'b1/none',
      'b2/none',
      'garbage/none',
      'b2/signature-flipped',
      'b2/signed-with-account-key',
      'b2/wrong-recipient-device',
    ]);
    expect(v.outputs.decryptionErrors.map((e) => ('error' in e.handled ? e.handled.error : e.handled.rebuild))).toEqual([
      false,
      false,
      true,
      false,
      'BAD_SIGNATURE',
      'BAD_SIGNATURE',
      'BAD_SIGNATURE',
    ]);
  });

  it('§12 safety number: 2 fingerprints, 60 digits, 2 QR payloads, 3 scans, 1 device fingerprint', () => {
    type Side = { accountId: string; accountPublicKey: string; fingerprintInput: string; fingerprint: string; digits: string };
    type V = {
      rng: DrawList;
      outputs: {
        alice: Side;
        bob: Side;
        digits: string;
        groups: string[];
        qrPayloadAlice: string;
        qrPayloadBob: string;
        aliceScansBob: string;
        aliceScansHerself: string;
        aliceScansChangedKey: string;
        device: { identityDhPublic: string; identitySigningPublic: string; fingerprint: string };
      };
    };
    const v = load<V>('safety-number.json');
    const d = new Draws(v.rng);
    const parties = ['alice', 'bob'].map((name) => ({ accountId: d.take(`${name}.accountId`, 16), accountKey: edPub(d.take(`${name}.accountKey`, 32)) }));
    const devIk = xPub(d.take('device.identityDh', 32));
    const devSig = edPub(d.take('device.identitySigning', 32));
    d.allTaken();
    // §12.1: hash₀ = u16 version ‖ Enc(account key) ‖ account id (not hashed), then 5,200 × SHA-512(hash ‖ Enc(key)).
    const fingerprintInput = (p: { accountId: Uint8Array; accountKey: Uint8Array }): Uint8Array => cat(u16(1), encEd(p.accountKey), p.accountId);
    const fingerprint = (p: { accountId: Uint8Array; accountKey: Uint8Array }): Uint8Array => {
      const key = encEd(p.accountKey);
      let h = fingerprintInput(p);
      expect(h.length).toBe(51);
      for (let i = 0; i < 5200; i++) h = sha512(cat(h, key));
      return h.slice(0, 32);
    };
    const digits = (fp: Uint8Array): string => {
      let out = '';
      for (let i = 0; i < 6; i++) {
        let n = 0n;
        for (const b of fp.subarray(5 * i, 5 * i + 5)) n = (n << 8n) | BigInt(b);
        out += String(n % 100000n).padStart(5, '0');
      }
      return out;
    };
    const [a, b] = parties as [{ accountId: Uint8Array; accountKey: Uint8Array }, { accountId: Uint8Array; accountKey: Uint8Array }];
    const fa = fingerprint(a);
    const fb = fingerprint(b);
    const side = (p: typeof a, fp: Uint8Array): Side => ({
      accountId: hex(p.accountId),
      accountPublicKey: hex(p.accountKey),
      fingerprintInput: hex(fingerprintInput(p)),
      fingerprint: hex(fp),
      digits: digits(fp),
    });
    expect(side(a, fa)).toEqual(v.outputs.alice);
    expect(side(b, fb)).toEqual(v.outputs.bob);
    const number = [digits(fa), digits(fb)].sort().join('');
    expect(number).toBe(v.outputs.digits);
    expect(number.match(/.{5}/g)).toEqual(v.outputs.groups);
    const qrA = cat(u16(1), fa, fb);
    const qrB = cat(u16(1), fb, fa);
    expect([hex(qrA), hex(qrB)]).toEqual([v.outputs.qrPayloadAlice, v.outputs.qrPayloadBob]);
    const scan = (ours: Uint8Array, scanned: Uint8Array): string => {
      expect(scanned.length).toBe(66);
      expect((scanned[0]! << 8) | scanned[1]!).toBe(1);
      return eqBytes(scanned.subarray(2, 34), ours.subarray(34)) && eqBytes(scanned.subarray(34), ours.subarray(2, 34)) ? 'match' : 'mismatch';
    };
    const changed = cat(u16(1), fa, fingerprint({ accountId: b.accountId, accountKey: a.accountKey }));
    expect([scan(qrA, qrB), scan(qrA, qrA), scan(qrA, changed)]).toEqual([
      v.outputs.aliceScansBob,
      v.outputs.aliceScansHerself,
      v.outputs.aliceScansChangedKey,
    ]);
    expect([v.outputs.aliceScansBob, v.outputs.aliceScansHerself, v.outputs.aliceScansChangedKey]).toEqual(['match', 'mismatch', 'mismatch']);
    // §12.4
    const devFp = hex(sha256(cat(LABEL.DeviceFingerprint, encX(devIk), encEd(devSig))).slice(0, 10)).match(/.{4}/g)!.join(' ');
    expect({ identityDhPublic: hex(devIk), identitySigningPublic: hex(devSig), fingerprint: devFp }).toEqual(v.outputs.device);
  });

  it('§11 frozen v1 session record: rebuilt byte for byte from its script, parsed by §11, decrypts the stored next message and the skipped one', () => {
    type SessionJson = {
      sessionId: string;
      mode: string;
      role: string;
      pendingPrekey: string | null;
      localAccountId: string;
      localDeviceId: number;
      localIdentityKey: string;
      remoteAccountId: string;
      remoteDeviceId: number;
      remoteIdentityKey: string;
      baseKey: string;
      createdAt: number;
      ratchet: StateJson & { sendingRatchetKeyPrivate: string };
    };
    type V = ScenarioVector & {
      rng: { decrypt: DrawList };
      outputs: {
        record: string;
        current: SessionJson;
        archived: SessionJson[];
        nextMessage: { id: string; bytes: string; plaintext: string };
        skippedKey: { ratchetKey: string; counter: number; messageSeed: string };
        skippedMessage: { id: string; bytes: string; plaintext: string };
      };
    };
    const v = load<V>('session-record-v1.json');

    // 1. The record is what §10 and §11 produce from the script.
    const run = new ScenarioRun(v);
    run.run();
    run.aliceDraws.allTaken();
    run.bobDraws.allTaken();
    expect(run.counts).toEqual({ messages: 8, receipts: 5, prekeys: 4 });
    expect(hex(run.snapshot!)).toBe(v.outputs.record);
    expect(hex(run.bytes.get(v.outputs.nextMessage.id)!)).toBe(v.outputs.nextMessage.bytes);
    expect(hex(run.bytes.get(v.outputs.skippedMessage.id)!)).toBe(v.outputs.skippedMessage.bytes);

    // 2. §11 parsing of the committed bytes, field by field.
    const record = readRecord(unhex(v.outputs.record));
    const describe = (s: Session): SessionJson => ({
      sessionId: hex(s.sessionId),
      mode: s.mode,
      role: s.role,
      pendingPrekey: s.pending ? hex(s.pending) : null,
      localAccountId: hex(s.local.accountId),
      localDeviceId: s.local.deviceId,
      localIdentityKey: hex(s.local.ik),
      remoteAccountId: hex(s.remote.accountId),
      remoteDeviceId: s.remote.deviceId,
      remoteIdentityKey: hex(s.remote.ik),
      baseKey: hex(s.baseKey),
      createdAt: s.createdAt,
      ratchet: { ...stateJson(s.r), sendingRatchetKeyPrivate: hex(s.r.dhsPriv) },
    });
    expect(describe(record.current!)).toEqual(v.outputs.current);
    expect(record.archived.map(describe)).toEqual(v.outputs.archived);
    for (const s of [record.current!, ...record.archived]) expect(hex(sessionIdOf(s.ad, s.baseKey))).toBe(hex(s.sessionId));
    expect(record.archived[0]!.pending!.length).toBe(1165);
    expect(hex(writeRecord(record.current, record.archived))).toBe(v.outputs.record);

    // 3. The loaded state decrypts the stored next message (a DH step skipping one key), then the skipped one.
    const draws = new Draws(v.rng.decrypt);
    const skipped: Skipped = new Map();
    const current = record.current!;
    const next = ratchetDecrypt(current.r, current.ad, unhex(v.outputs.nextMessage.bytes), skipped, () => draws.take('ratchetKey', 32));
    draws.allTaken();
    expect(new TextDecoder().decode(next.plaintext)).toBe(v.outputs.nextMessage.plaintext);
    expect(next.dhStep).toBe(true);
    expect(next.added.map((a) => ({ ratchetKey: hex(a.dh), counter: a.n, messageSeed: hex(a.mk) }))).toEqual([v.outputs.skippedKey]);
    const late = ratchetDecrypt(current.r, current.ad, unhex(v.outputs.skippedMessage.bytes), skipped, () => {
      throw new Error('a skipped key needs no draw');
    });
    expect(new TextDecoder().decode(late.plaintext)).toBe(v.outputs.skippedMessage.plaintext);
    expect(skipped.size).toBe(0);
  });

  it('§17 attachments: 5 files (empty, 1 byte, one segment, one segment plus a byte, several segments) sealed, digested and opened again', () => {
    type Segment = { index: number; last: boolean; nonce: string; plaintextLength: number; sealedHead: string; tag: string };
    type Case = {
      name: string;
      rng: DrawList;
      plaintext: { length: number; sha256: string };
      paddedLength: number;
      keyCommitment: string;
      header: string;
      ad: string;
      segments: Segment[];
      ciphertextLength: number;
      ciphertextSha256: string;
      ciphertextDigest: string;
      ciphertext?: string;
    };
    const v = load<{ cases: Case[] }>('attachment.json');
    let segmentsChecked = 0;
    for (const c of v.cases) {
      const draws = new Draws(c.rng);
      const key = draws.take('key', 32);
      const fileId = draws.take('fileId', 16);
      draws.allTaken();
      // §17.8: plaintext byte i = i mod 251.
      const plaintext = Uint8Array.from({ length: c.plaintext.length }, (_, i) => i % 251);
      expect(hex(sha256(plaintext)), c.name).toBe(c.plaintext.sha256);
      // §17.1 Padmé.
      const padded = new Uint8Array(padme(plaintext.length));
      padded.set(plaintext);
      expect(padded.length, c.name).toBe(c.paddedLength);
      // §17.2 header, §17.3 AD.
      const commitment = sha256(cat(LABEL.FileKeyCommit, key));
      expect(hex(commitment)).toBe(c.keyCommitment);
      const header = cat(u8(0x01), u32(ATTACHMENT_SEGMENT), fileId, commitment);
      expect(hex(header)).toBe(c.header);
      const ad = sha256(header);
      expect(hex(ad)).toBe(c.ad);
      // §17.4 segments.
      const n = Math.max(1, Math.ceil(padded.length / ATTACHMENT_SEGMENT));
      expect(c.segments.length, c.name).toBe(n);
      const sealed: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        const last = i === n - 1;
        const nonce = cat(new Uint8Array(7), u32(i), u8(last ? 1 : 0));
        const chunk = padded.subarray(i * ATTACHMENT_SEGMENT, Math.min((i + 1) * ATTACHMENT_SEGMENT, padded.length));
        const s = seal(key, nonce, chunk, ad);
        const want = c.segments[i]!;
        expect({ index: i, last, nonce: hex(nonce), plaintextLength: chunk.length }).toEqual({
          index: want.index,
          last: want.last,
          nonce: want.nonce,
          plaintextLength: want.plaintextLength,
        });
        expect(hex(s.subarray(0, Math.min(32, chunk.length)))).toBe(want.sealedHead);
        expect(hex(s.subarray(s.length - 16))).toBe(want.tag);
        sealed.push(s);
        segmentsChecked++;
      }
      const ciphertext = cat(header, ...sealed);
      expect(ciphertext.length).toBe(c.ciphertextLength);
      expect(ciphertext.length).toBe(53 + padded.length + 16 * n);
      expect(hex(sha256(ciphertext))).toBe(c.ciphertextSha256);
      if (c.ciphertext !== undefined) expect(hex(ciphertext)).toBe(c.ciphertext);
      // §17.5 ciphertext digest over the header and the tags.
      expect(hex(sha256(cat(LABEL.FileCiphertextDigest, header, ...sealed.map((s) => s.subarray(s.length - 16)))))).toBe(c.ciphertextDigest);
      // §17.6 the receiver: every segment opens at its position, the padding is zero, the plaintext hashes as announced.
      const opened = cat(
        ...sealed.map((s, i) => open(key, cat(new Uint8Array(7), u32(i), u8(i === n - 1 ? 1 : 0)), s, ad)),
      );
      expect(opened.subarray(plaintext.length).every((b) => b === 0)).toBe(true);
      expect(hex(sha256(opened.subarray(0, plaintext.length)))).toBe(c.plaintext.sha256);
      // The last flag matters: the final segment does not open as a non-final one.
      expect(() => open(key, cat(new Uint8Array(7), u32(n - 1), u8(0)), sealed[n - 1]!, ad)).toThrow();
    }
    expect(v.cases.map((c) => c.plaintext.length)).toEqual([0, 1, ATTACHMENT_SEGMENT, ATTACHMENT_SEGMENT + 1, 3 * ATTACHMENT_SEGMENT + 12_345]);
    expect(segmentsChecked).toBe(1 + 1 + 1 + 2 + 4);
  });
  it('§18 profiles: 3 profiles (name only, name and about, with an avatar) encrypted, and 4 checks on opening one', () => {
    type ProfileJson = { revision: number; displayName: string; about: string; avatar: { format: string; bytes: string } | null };
    type Case = { name: string; profile: ProfileJson; plaintext: string; nonce: string; ad: string; encrypted: string };
    const v = load<{
      rng: DrawList;
      outputs: { accountId: string; profileKey: string; cipherKey: string; keyId: string; rotatedKeyId: string; cases: Case[]; checks: { name: string; expect: string }[] };
    }>('profile.json');
    const draws = new Draws(v.rng);
    const accountId = draws.take('accountId', 16);
    const profileKey = draws.take('profileKey', 32);
    // §18.1 derivations: HKDF(salt = 0³², ikm = profile key, info = label, L).
    const cipherKey = HKDF(new Uint8Array(32), profileKey, LABEL.ProfileCipherKey, 32);
    const keyId = HKDF(new Uint8Array(32), profileKey, LABEL.ProfileKeyId, 16);
    expect(hex(accountId)).toBe(v.outputs.accountId);
    expect(hex(profileKey)).toBe(v.outputs.profileKey);
    expect(hex(cipherKey)).toBe(v.outputs.cipherKey);
    expect(hex(keyId)).toBe(v.outputs.keyId);
    // §18.2 plaintext: u64 revision ‖ u16 n ‖ name ‖ 0x00^(128 − n) ‖ u16 m ‖ about ‖ 0x00^(512 − m) ‖ u8 format ‖ u32 a ‖ avatar ‖ 0x00^(Padmé(a) − a).
    const field = (text: Uint8Array, size: number) => cat(u16(text.length), text, new Uint8Array(size - text.length));
    const ad = cat(LABEL.ProfileAd, u8(0x01), accountId, keyId);
    for (const c of v.outputs.cases) {
      const p = c.profile;
      const avatar = p.avatar ? unhex(p.avatar.bytes) : new Uint8Array(0);
      if (p.avatar) {
        // §18.6: the vectors' avatar is "RIFF" ‖ u32le(length − 8) ‖ "WEBP", then byte i = i mod 251.
        const want = Uint8Array.from({ length: avatar.length }, (_, i) => i % 251);
        want.set(utf8('RIFF'), 0);
        new DataView(want.buffer).setUint32(4, avatar.length - 8, true);
        want.set(utf8('WEBP'), 8);
        expect(hex(avatar)).toBe(hex(want));
        expect(p.avatar.format).toBe('webp');
      }
      const plaintext = cat(
        u64(p.revision),
        field(utf8(p.displayName), 128),
        field(utf8(p.about), 512),
        u8(p.avatar ? 0x01 : 0x00),
        u32(avatar.length),
        avatar,
        new Uint8Array(padme(avatar.length) - avatar.length),
      );
      expect(hex(plaintext), c.name).toBe(c.plaintext);
      expect(hex(ad), c.name).toBe(c.ad);
      // §18.3: u8 version ‖ key id ‖ nonce ‖ AES-256-GCM(cipher key, nonce, plaintext, AD).
      const nonce = draws.take(`${c.name}.nonce`, 12);
      expect(hex(nonce)).toBe(c.nonce);
      const encrypted = cat(u8(0x01), keyId, nonce, seal(cipherKey, nonce, plaintext, ad));
      expect(hex(encrypted), c.name).toBe(c.encrypted);
      // §18.4 the reader: same plaintext back; every profile without an avatar has the same length.
      expect(hex(open(cipherKey, nonce, encrypted.subarray(29), ad))).toBe(c.plaintext);
      if (!p.avatar) expect(encrypted.length).toBe(1 + 16 + 12 + 8 + 130 + 514 + 5 + 16);
    }
    const rotatedKey = draws.take('rotatedProfileKey', 32);
    draws.allTaken();
    expect(hex(HKDF(new Uint8Array(32), rotatedKey, LABEL.ProfileKeyId, 16))).toBe(v.outputs.rotatedKeyId);
    // §18.4 in order: the key id (PROFILE_KEY_MISMATCH), then the AEAD under the account's AD (PROFILE_AUTH_FAILED).
    const readProfile = (bytes: Uint8Array, key: Uint8Array, account: Uint8Array): string => {
      if (bytes[0] !== 0x01) return 'MALFORMED';
      const id = HKDF(new Uint8Array(32), key, LABEL.ProfileKeyId, 16);
      if (!eqBytes(bytes.subarray(1, 17), id)) return 'PROFILE_KEY_MISMATCH';
      try {
        open(HKDF(new Uint8Array(32), key, LABEL.ProfileCipherKey, 32), bytes.subarray(17, 29), bytes.subarray(29), cat(LABEL.ProfileAd, u8(0x01), account, id));
        return 'ok';
      } catch {
        return 'PROFILE_AUTH_FAILED';
      }
    };
    const last = unhex(v.outputs.cases[v.outputs.cases.length - 1]!.encrypted);
    const flipped = last.slice();
    flipped[flipped.length - 1]! ^= 0x01;
    const otherAccount = accountId.slice();
    otherAccount[0]! ^= 0x01;
    const got = {
      valid: readProfile(last, profileKey, accountId),
      'last-byte-flipped': readProfile(flipped, profileKey, accountId),
      'other-account-id': readProfile(last, profileKey, otherAccount),
      'rotated-key': readProfile(last, rotatedKey, accountId),
    };
    expect(v.outputs.checks.map((c) => [c.name, c.expect])).toEqual(Object.entries(got));
    expect(v.outputs.cases).toHaveLength(3);
    expect(v.outputs.checks).toHaveLength(4);
  });

  it('§16/§17.9 attachment pointers: 3 pointers (a document, a photo with dimensions and a thumbnail, an empty original) and their attachment content', () => {
    type Case = {
      name: string; messageId: string; sentAt: number; attachmentId: string; key: string; length: number; paddedLength: number;
      ciphertextDigest: string; plaintextSha256: string; mediaType: string; fileName: string; dimensions: { width: number; height: number } | null;
      thumbnail: string | null; original: boolean; caption: string; pointer: string; content: string;
    };
    const v = load<{ rng: DrawList; cases: Case[] }>('attachment-pointer.json');
    const draws = new Draws(v.rng);
    for (const c of v.cases) {
      const messageId = draws.take(`${c.name}.messageId`, 16);
      const attachmentId = draws.take(`${c.name}.attachmentId`, 16);
      const key = draws.take(`${c.name}.key`, 32);
      const ciphertextDigest = draws.take(`${c.name}.ciphertextDigest`, 32);
      const plaintextSha256 = draws.take(`${c.name}.plaintextSha256`, 32);
      // §17.9, written from the document.
      const flags = (c.dimensions ? 0x01 : 0) | (c.thumbnail !== null ? 0x02 : 0) | (c.original ? 0x04 : 0);
      const mediaType = utf8(c.mediaType);
      const fileName = utf8(c.fileName);
      const pointer = cat(
        u8(flags), attachmentId, key, u64(c.length), u64(padme(c.length)), ciphertextDigest, plaintextSha256,
        u8(mediaType.length), mediaType, u16(fileName.length), fileName,
        ...(c.dimensions ? [u16(c.dimensions.width), u16(c.dimensions.height)] : []),
        ...(c.thumbnail !== null ? [u32(unhex(c.thumbnail).length), unhex(c.thumbnail)] : []),
      );
      expect(hex(pointer), c.name).toBe(c.pointer);
      expect(c.paddedLength).toBe(padme(c.length));
      // §16: ContentHeader (version 0x01, type 0x06, message id, u64 sentAt) ‖ pointer ‖ u32 length ‖ caption.
      const caption = utf8(c.caption);
      const content = cat(u8(0x01), u8(0x06), messageId, u64(c.sentAt), pointer, u32(caption.length), caption);
      expect(hex(content), c.name).toBe(c.content);
      // And read back field by field, as a receiver would.
      const r = new Cursor(unhex(c.content));
      expect([r.u8(), r.u8(), hex(r.take(16)), r.u64()]).toEqual([0x01, 0x06, hex(messageId), c.sentAt]);
      const f = r.u8();
      expect(f & ~0x07).toBe(0);
      expect([hex(r.take(16)), hex(r.take(32)), r.u64(), r.u64()]).toEqual([c.attachmentId, c.key, c.length, c.paddedLength]);
      expect([hex(r.take(32)), hex(r.take(32))]).toEqual([c.ciphertextDigest, c.plaintextSha256]);
      expect(new TextDecoder().decode(r.take(r.u8()))).toBe(c.mediaType);
      expect(new TextDecoder().decode(r.take(r.u16()))).toBe(c.fileName);
      if (f & 0x01) expect({ width: r.u16(), height: r.u16() }).toEqual(c.dimensions);
      if (f & 0x02) expect(hex(r.take(r.u32()))).toBe(c.thumbnail);
      expect(new TextDecoder().decode(r.take(r.u32()))).toBe(c.caption);
      expect(r.off).toBe(unhex(c.content).length);
    }
    draws.allTaken();
    expect(v.cases).toHaveLength(3);
  });
});

// ── §20.3 CPace (draft-irtf-cfrg-cpace-21, CPACE-RISTR255-SHA512) ──────────

/** LEB128 length ‖ data. */
function prependLen(d: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = d.length;
  do {
    len.push(n < 128 ? n : (n & 0x7f) | 0x80);
    n >>= 7;
  } while (n > 0);
  return cat(Uint8Array.from(len), d);
}
const lvCat = (...parts: Uint8Array[]): Uint8Array => cat(...parts.map(prependLen));
const CPACE_DSI = utf8('CPaceRistretto255');
function cpaceGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): InstanceType<typeof ristretto255.Point> {
  const zpad = Math.max(0, 128 - 1 - prependLen(prs).length - prependLen(CPACE_DSI).length);
  return ristretto255_hasher.deriveToCurve!(sha512(lvCat(CPACE_DSI, prs, new Uint8Array(zpad), ci, sid)));
}
const leScalar = (y: Uint8Array): bigint => y.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
/** scalar_mult_vfy: the identity's encoding (32 zero bytes) when X does not decode. */
function cpaceVfy(y: Uint8Array, X: Uint8Array): Uint8Array {
  try {
    const k = ristretto255.Point.fromBytes(X).multiply(leScalar(y));
    return k.toBytes();
  } catch {
    return new Uint8Array(32);
  }
}
const cpaceIsk = (sid: Uint8Array, K: Uint8Array, ya: Uint8Array, adA: Uint8Array, yb: Uint8Array, adB: Uint8Array): Uint8Array =>
  sha512(cat(lvCat(cat(CPACE_DSI, utf8('_ISK')), sid, K), lvCat(ya, adA), lvCat(yb, adB)));

describe('CPace and device linking, recomputed from docs/protocol.md §20 and the draft', () => {
  it('§20.3 the draft\'s own ristretto255/SHA-512 vectors (appendix B.3) and string functions (A.1–A.3)', () => {
    type DraftV = {
      prependLen: ({ input: string; output: string } | { inputRange: number; outputPrefix: string; outputLength: number })[];
      lvCat: { inputs: string[]; output: string };
      transcriptIr: { ya: string; adA: string; yb: string; adB: string; output: string }[];
      ristretto255: { [k: string]: string } & { scalarMultValid: { s: string; X: string; result: string }; scalarMultVfyInvalid: { s: string; points: string[] } };
    };
    const d = JSON.parse(readFileSync(new URL('./cpace/draft-irtf-cfrg-cpace-21-ristretto255.json', import.meta.url), 'utf8')) as DraftV;
    let n = 0;
    for (const c of d.prependLen) {
      if ('input' in c) expect(hex(prependLen(unhex(c.input)))).toBe(c.output);
      else {
        const out = prependLen(Uint8Array.from({ length: c.inputRange }, (_, i) => i));
        expect([out.length, hex(out).startsWith(c.outputPrefix)]).toEqual([c.outputLength, true]);
      }
      n++;
    }
    expect(hex(lvCat(...d.lvCat.inputs.map(unhex)))).toBe(d.lvCat.output);
    for (const c of d.transcriptIr) expect(hex(cat(lvCat(unhex(c.ya), unhex(c.adA)), lvCat(unhex(c.yb), unhex(c.adB))))).toBe(c.output);
    const v = d.ristretto255 as unknown as Record<string, string>;
    const r = d.ristretto255;
    const g = cpaceGenerator(unhex(v.prs!), unhex(v.ci!), unhex(v.sid!));
    expect(hex(g.toBytes())).toBe(v.g);
    expect(hex(g.multiply(leScalar(unhex(v.ya!))).toBytes())).toBe(v.Ya);
    expect(hex(g.multiply(leScalar(unhex(v.yb!))).toBytes())).toBe(v.Yb);
    expect(hex(cpaceVfy(unhex(v.ya!), unhex(v.Yb!)))).toBe(v.K);
    expect(hex(cpaceIsk(unhex(v.sid!), unhex(v.K!), unhex(v.Ya!), unhex(v.adA!), unhex(v.Yb!), unhex(v.adB!)))).toBe(v.iskIr);
    expect(hex(cpaceVfy(unhex(r.scalarMultValid.s), unhex(r.scalarMultValid.X)))).toBe(r.scalarMultValid.result);
    for (const p of r.scalarMultVfyInvalid.points) expect(hex(cpaceVfy(unhex(r.scalarMultVfyInvalid.s), unhex(p)))).toBe('00'.repeat(32));
    expect(n + d.transcriptIr.length + r.scalarMultVfyInvalid.points.length).toBe(8);
  });

  it('§20 linking.json: a complete link by offer and by short code, every value recomputed', () => {
    type Case = {
      method: 'offer' | 'code'; rng: { new: DrawList; primary: DrawList }; offer: string; offerText: string; code: string; prs: string; ci: string;
      generator: string; hello: string; cpace: { sid: string; ya: string; yb: string; k: string; transcriptIr: string; isk: string }; dh: string;
      transcriptHash: string; keys: { toNew: string; toPrimary: string; macPrimary: string; macNew: string }; reply: string; account: string;
      confirm: string; signedDeviceList: string; accountState: string; provision: string;
    };
    type V = {
      rng: DrawList;
      outputs: {
        relayId: string; channelId: string; accountId: string; accountPublicKey: string;
        primary: { deviceId: number; identityDhPublic: string; identitySigningPublic: string; capabilities: number };
        newDevice: { identityDhPublic: string; identitySigningPublic: string; capabilities: number };
        cases: Case[];
      };
    };
    const v = load<V>('linking.json');
    const d = new Draws(v.rng);
    const relayId = d.take('relayId', 16);
    const channelId = d.take('channelId', 16);
    const accountId = d.take('accountId', 16);
    const accountSeed = d.take('accountKey', 32);
    const primaryIk = xPub(d.take('primary.identityDh', 32));
    const primaryIkSig = edPub(d.take('primary.identitySigning', 32));
    const newIk = xPub(d.take('new.identityDh', 32));
    const newIkSig = edPub(d.take('new.identitySigning', 32));
    d.allTaken();
    const accountKey = edPub(accountSeed);
    expect([hex(relayId), hex(channelId), hex(accountId), hex(accountKey)]).toEqual([v.outputs.relayId, v.outputs.channelId, v.outputs.accountId, v.outputs.accountPublicKey]);
    expect([hex(primaryIk), hex(primaryIkSig), hex(newIk), hex(newIkSig)]).toEqual([
      v.outputs.primary.identityDhPublic, v.outputs.primary.identitySigningPublic, v.outputs.newDevice.identityDhPublic, v.outputs.newDevice.identitySigningPublic,
    ]);

    for (const c of v.outputs.cases) {
      const N = new Draws(c.rng.new);
      const P = new Draws(c.rng.primary);
      // §20.1 the offer; §20.2 the short code.
      const ekNPriv = N.take('ephemeral', 32);
      const ekN = xPub(ekNPriv);
      const secret = N.take('secret', 16);
      let digits = '';
      for (let i = 0; !digits; i++) {
        const b = N.take(`codeDigits.${i}`, 4);
        const x = new DataView(b.buffer, b.byteOffset).getUint32(0);
        if (x < 4_200_000_000) digits = String(x % 100_000_000).padStart(8, '0');
      }
      const offer = cat(u8(0x01), relayId, channelId, ekN, secret);
      expect(hex(offer)).toBe(c.offer);
      expect(c.offerText).toBe(`parley-link:${Buffer.from(offer).toString('base64url')}`);
      expect(c.code).toBe(`482913-${digits.slice(0, 4)}-${digits.slice(4)}`);
      // §20.3 CPace inputs.
      const method = c.method === 'offer' ? 0x01 : 0x02;
      const prs = c.method === 'offer' ? cat(u8(0x01), secret) : cat(u8(0x02), utf8(digits));
      const ci = cat(LABEL.LinkCPace, relayId, channelId);
      expect([hex(prs), hex(ci)]).toEqual([c.prs, c.ci]);
      // P: sid, EK_P, scalar; the Hello.
      const sid = P.take('sid', 16);
      const ekPPriv = P.take('ephemeral', 32);
      const ekP = xPub(ekPPriv);
      const ya = P.take('cpaceScalar', 32).slice();
      ya[31]! &= 0x0f;
      P.allTaken();
      const g = cpaceGenerator(prs, ci, sid);
      expect(hex(g.toBytes())).toBe(c.generator);
      const Ya = g.multiply(leScalar(ya)).toBytes();
      const hello = cat(u8(0x01), u8(0x01), u8(method), sid, Ya, encX(ekP));
      expect(hex(hello)).toBe(c.hello);
      // N: its scalar; K; ISK.
      const yb = N.take('cpaceScalar', 32).slice();
      yb[31]! &= 0x0f;
      N.allTaken();
      const Yb = g.multiply(leScalar(yb)).toBytes();
      const K = cpaceVfy(yb, Ya);
      expect(hex(K)).toBe(hex(cpaceVfy(ya, Yb)));
      const isk = cpaceIsk(sid, K, Ya, encX(ekP), Yb, encX(ekN));
      expect({ sid: hex(sid), ya: hex(Ya), yb: hex(Yb), k: hex(K), transcriptIr: hex(cat(lvCat(Ya, encX(ekP)), lvCat(Yb, encX(ekN)))), isk: hex(isk) }).toEqual(c.cpace);
      // §20.4 DH, T, keys.
      const DH = dh(ekPPriv, ekN);
      expect(hex(DH)).toBe(hex(dh(ekNPriv, ekP)));
      expect(hex(DH)).toBe(c.dh);
      const T = sha256(cat(LABEL.LinkTranscript, relayId, channelId, u8(method), sid, Ya, encX(ekP), Yb, encX(ekN)));
      expect(hex(T)).toBe(c.transcriptHash);
      const okm = HKDF(T, cat(isk, DH), LABEL.LinkKeys, 128);
      const [kN, kP, mP, mN] = [okm.slice(0, 32), okm.slice(32, 64), okm.slice(64, 96), okm.slice(96, 128)];
      expect({ toNew: hex(kN), toPrimary: hex(kP), macPrimary: hex(mP), macNew: hex(mN) }).toEqual(c.keys);
      // §20.5 frames.
      const nonce = (t: number): Uint8Array => cat(new Uint8Array(11), u8(t));
      const sealed = (k: Uint8Array, t: number, clear: Uint8Array, payload: Uint8Array): Uint8Array => {
        const ad = cat(u8(0x01), u8(t), clear);
        return cat(ad, seal(k, nonce(t), pad(payload), ad));
      };
      const deviceKeys = cat(encX(newIk), encEd(newIkSig), u32(v.outputs.newDevice.capabilities));
      expect(deviceKeys.length).toBe(70);
      expect(hex(sealed(kP, 0x02, cat(Yb, encX(ekN)), deviceKeys))).toBe(c.reply);
      const bound = cat(deviceKeys, accountId, encEd(accountKey));
      const tagP = HMAC(mP, cat(LABEL.LinkConfirmPrimary, T, bound));
      const tagN = HMAC(mN, cat(LABEL.LinkConfirmNewDevice, T, bound));
      expect(hex(sealed(kN, 0x03, new Uint8Array(0), cat(accountId, encEd(accountKey), tagP)))).toBe(c.account);
      expect(hex(sealed(kP, 0x04, new Uint8Array(0), tagN))).toBe(c.confirm);
      // The list of §4.1: devices 1 and 2, version 2, issued at and added at the vectors' clock.
      const T0 = Date.UTC(2026, 0, 15, 12);
      const body = deviceListBody(accountId, 2, T0, [
        { deviceId: 1, ik: primaryIk, ikSig: primaryIkSig, capabilities: v.outputs.primary.capabilities, addedAt: T0 },
        { deviceId: 2, ik: newIk, ikSig: newIkSig, capabilities: v.outputs.newDevice.capabilities, addedAt: T0 },
      ]);
      const signedList = cat(body, sign(accountSeed, body));
      expect(hex(signedList)).toBe(c.signedDeviceList);
      expect(verifyList(signedList, accountKey, accountId)).toBe('ok');
      const accountState = utf8('Parley_v1 test vector account state');
      expect(hex(accountState)).toBe(c.accountState);
      expect(hex(sealed(kN, 0x05, new Uint8Array(0), cat(u32(2), u32(signedList.length), signedList, u32(accountState.length), accountState)))).toBe(c.provision);
      // §20.6 read back as N: open the Account frame and check P's tag.
      const acc = unpad(open(kN, nonce(0x03), unhex(c.account).subarray(2), u8s(0x01, 0x03)));
      expect(hex(acc.subarray(0, 16))).toBe(hex(accountId));
      expect(hex(acc.subarray(49))).toBe(hex(tagP));
      // And a wrong code makes a different generator: the primary's share under it differs.
      const wrong = c.method === 'code' ? cat(u8(0x02), utf8(String((Number(digits) + 1) % 1e8).padStart(8, '0'))) : cat(u8(0x01), secret.map((b, i) => (i === 0 ? b ^ 1 : b)));
      expect(hex(cpaceGenerator(wrong, ci, sid).toBytes())).not.toBe(c.generator);
    }
    expect(v.outputs.cases.map((c) => c.method)).toEqual(['offer', 'code']);
  });

  it('§21 sealed sender: delivery token, sender certificate, 3 sealed sends (one device, three devices, a mismatched key) and 7 checks on opening', () => {
    type Header = { index: number; ephemeralDh: string; wrapInfo: string; wrapKey: string; wrappedSecret: string; staticDh: string; authInfo: string; authTag: string; envelope: string };
    type Case = {
      name: string; recipients: string[]; messages: string[]; secret: string; ephemeralPrivate: string; ephemeralPublic: string; contentKey: string;
      payload: string; sharedAd: string; sharedCiphertext: string; sharedDigest: string; headers: Header[]; upload: string;
    };
    type Device = { accountId: string; deviceId: number; identityDhPublic: string };
    const v = load<{
      rng: DrawList;
      outputs: {
        relayCertificatePublicKey: string; otherCertificatePublicKey: string; bobProfileKey: string; deliveryToken: string; deliveryTokenHash: string;
        certificate: { accountId: string; deviceId: number; identityKey: string; expiresAt: number; keyId: number; body: string; signatureInput: string; bytes: string };
        devices: Record<string, Device>; relayTime: number; cases: Case[]; checks: { name: string; expect: string }[];
      };
    }>('sealed-sender.json');
    const draws = new Draws(v.rng);
    const relaySeed = draws.take('relay.certificateKey', 32);
    const otherRelaySeed = draws.take('relay.otherCertificateKey', 32);
    const aliceAccount = draws.take('alice.accountId', 16);
    const alicePriv = draws.take('alice.device1.identityDh', 32);
    const bobAccount = draws.take('bob.accountId', 16);
    const profileKey = draws.take('bob.profileKey', 32);
    const priv: Record<string, Uint8Array> = {
      'alice.device1': alicePriv,
      'bob.device1': draws.take('bob.device1.identityDh', 32),
      'bob.device2': draws.take('bob.device2.identityDh', 32),
      'alice.device2': draws.take('alice.device2.identityDh', 32),
      mallory: draws.take('mallory.identityDh', 32),
    };
    const o = v.outputs;
    expect(hex(edPub(relaySeed))).toBe(o.relayCertificatePublicKey);
    expect(hex(edPub(otherRelaySeed))).toBe(o.otherCertificatePublicKey);
    for (const [name, d] of Object.entries(o.devices)) {
      expect(d.identityDhPublic, name).toBe(hex(xPub(priv[name]!)));
      expect(d.accountId, name).toBe(hex(name.startsWith('bob') ? bobAccount : aliceAccount));
    }
    // §21.1 token = HKDF(0³², profile key, label, 16); the relay keeps SHA-256(token).
    expect(hex(profileKey)).toBe(o.bobProfileKey);
    const token = HKDF(new Uint8Array(32), profileKey, LABEL.DeliveryToken, 16);
    expect(hex(token)).toBe(o.deliveryToken);
    expect(hex(sha256(token))).toBe(o.deliveryTokenHash);
    // §21.2 certificate = u8 1 ‖ account id ‖ u32 device id ‖ Enc(IK) ‖ u64 expiresAt ‖ u32 key id ‖ Sign(label ‖ body).
    const c = o.certificate;
    const body = cat(u8(0x01), aliceAccount, u32(1), encX(xPub(alicePriv)), u64(c.expiresAt), u32(c.keyId));
    expect(body.length).toBe(66);
    expect(hex(body)).toBe(c.body);
    expect(hex(cat(LABEL.SenderCertificate, body))).toBe(c.signatureInput);
    const certificate = cat(body, sign(relaySeed, cat(LABEL.SenderCertificate, body)));
    expect(hex(certificate)).toBe(c.bytes);
    expect(c.expiresAt - o.relayTime).toBeLessThanOrEqual(24 * 3600_000);
    // §21.3–21.5 each send.
    const senders: Record<string, string> = { single: 'alice.device1', multi: 'alice.device1', mallory: 'mallory' };
    let headersChecked = 0;
    for (const k of o.cases) {
      const M = draws.take(`${k.name}.secret`, 32);
      expect(hex(M)).toBe(k.secret);
      const e = HKDF(new Uint8Array(32), M, LABEL.SealedEphemeral, 32);
      const K = HKDF(new Uint8Array(32), M, LABEL.SealedContentKey, 32);
      const E = xPub(e);
      expect(hex(e)).toBe(k.ephemeralPrivate);
      expect(hex(E)).toBe(k.ephemeralPublic);
      expect(hex(K)).toBe(k.contentKey);
      const sPriv = priv[senders[k.name]!]!;
      const S = xPub(sPriv);
      const messages = k.messages.map(unhex);
      const payload = cat(certificate, encX(S), u16(messages.length), ...messages.flatMap((m) => [u32(m.length), m]));
      expect(hex(payload)).toBe(k.payload);
      const ad = cat(LABEL.SealedAd, u8(0x01), encX(E));
      expect(hex(ad)).toBe(k.sharedAd);
      const shared = seal(K, new Uint8Array(12), pad(payload), ad);
      expect(hex(shared)).toBe(k.sharedCiphertext);
      const digest = sha256(shared);
      expect(hex(digest)).toBe(k.sharedDigest);
      const parts: Uint8Array[] = [u8(0x01), encX(E), u16(k.recipients.length)];
      k.headers.forEach((h, i) => {
        const R = xPub(priv[k.recipients[i]!]!);
        const dhE = dh(e, R);
        const wrapInfo = cat(LABEL.SealedWrap, encX(E), encX(R));
        const W = HKDF(new Uint8Array(32), dhE, wrapInfo, 32);
        const C = W.map((b, j) => b ^ M[j]!);
        const dhS = dh(sPriv, R);
        const authInfo = cat(LABEL.SealedAuth, encX(E), encX(S), encX(R), u16(i), C, digest);
        const A = HKDF(new Uint8Array(32), dhS, authInfo, 16);
        expect(h.index).toBe(i);
        expect([hex(dhE), hex(wrapInfo), hex(W), hex(C), hex(dhS), hex(authInfo), hex(A)]).toEqual([h.ephemeralDh, h.wrapInfo, h.wrapKey, h.wrappedSecret, h.staticDh, h.authInfo, h.authTag]);
        expect(hex(cat(u8(0x01), encX(E), u16(i), C, A, shared))).toBe(h.envelope);
        const d = o.devices[k.recipients[i]!]!;
        parts.push(unhex(d.accountId), u32(d.deviceId), C, A);
        headersChecked++;
      });
      expect(hex(cat(...parts, shared))).toBe(k.upload);
    }
    draws.allTaken();
    expect(headersChecked).toBe(5);
    // §21.6 opening, in order, as the recipient sees it.
    const trust = new Map([[c.keyId, unhex(o.relayCertificatePublicKey)]]);
    const openEnvelope = (env: Uint8Array, myPriv: Uint8Array, pinned: Map<number, Uint8Array>, time: number): string => {
      const cur = new Cursor(env);
      if (cur.u8() !== 0x01) return 'MALFORMED';
      const E = cur.key(0x05);
      const index = cur.u16();
      const C = cur.take(32);
      const A = cur.take(16);
      const shared = cur.take(env.length - cur.off);
      const R = xPub(myPriv);
      const W = HKDF(new Uint8Array(32), dh(myPriv, E), cat(LABEL.SealedWrap, encX(E), encX(R)), 32);
      const M = W.map((b, j) => b ^ C[j]!);
      if (!eqBytes(xPub(HKDF(new Uint8Array(32), M, LABEL.SealedEphemeral, 32)), E)) return 'SEALED_INVALID';
      let padded: Uint8Array;
      try {
        padded = open(HKDF(new Uint8Array(32), M, LABEL.SealedContentKey, 32), new Uint8Array(12), shared, cat(LABEL.SealedAd, u8(0x01), encX(E)));
      } catch {
        return 'SEALED_INVALID';
      }
      const p = new Cursor(unpad(padded));
      const cert = p.take(130);
      const S = p.key(0x05);
      const A2 = HKDF(new Uint8Array(32), dh(myPriv, S), cat(LABEL.SealedAuth, encX(E), encX(S), encX(R), u16(index), C, sha256(shared)), 16);
      if (!eqBytes(A, A2)) return 'SEALED_INVALID';
      const cc = new Cursor(cert);
      cc.take(1 + 16 + 4);
      const ik = cc.key(0x05);
      const expires = cc.u64();
      const keyId = cc.u32();
      const pk = pinned.get(keyId);
      if (!pk || !verify(pk, cat(LABEL.SenderCertificate, cert.subarray(0, 66)), cert.subarray(66))) return 'SENDER_CERTIFICATE_INVALID';
      if (expires <= time) return 'SENDER_CERTIFICATE_EXPIRED';
      if (expires - time > 24 * 3600_000) return 'SENDER_CERTIFICATE_INVALID';
      if (!eqBytes(ik, S)) return 'SEALED_SENDER_MISMATCH';
      return 'ok';
    };
    const env = unhex(o.cases[0]!.headers[0]!.envelope);
    const flipped = (at: number): Uint8Array => env.map((b, i) => (i === at ? b ^ 0x01 : b));
    const got = {
      valid: openEnvelope(env, priv['bob.device1']!, trust, o.relayTime),
      'delivered-to-bob-device-2': openEnvelope(env, priv['bob.device2']!, trust, o.relayTime),
      'shared-ciphertext-last-byte-flipped': openEnvelope(flipped(env.length - 1), priv['bob.device1']!, trust, o.relayTime),
      'auth-tag-flipped': openEnvelope(flipped(83), priv['bob.device1']!, trust, o.relayTime),
      'certificate-key-not-pinned': openEnvelope(env, priv['bob.device1']!, new Map([[c.keyId, unhex(o.otherCertificatePublicKey)]]), o.relayTime),
      'relay-time-at-expiry': openEnvelope(env, priv['bob.device1']!, trust, c.expiresAt),
      'mallory-with-alice-certificate': openEnvelope(unhex(o.cases[2]!.headers[0]!.envelope), priv['bob.device1']!, trust, o.relayTime),
    };
    expect(o.checks.map((x) => [x.name, x.expect])).toEqual(Object.entries(got));
    expect(o.checks).toHaveLength(7);
  });
});

function u8s(...b: number[]): Uint8Array {
  return Uint8Array.from(b);
}

// ── §22 History archive ─────────────────────────────────────────────────────

describe('History archive, recomputed from docs/protocol.md §22 and §17', () => {
  it('§22: an archive of 2 conversations (5 messages: texts in every direction, statuses, read times, a photo pointer) and the archive sealed as one file', () => {
    type Pointer = {
      flags: number; attachmentId: string; key: string; length: number; paddedLength: number; ciphertextDigest: string; plaintextSha256: string;
      mediaType: string; fileName: string; dimensions: { width: number; height: number } | null; thumbnail: string | null;
    };
    type Message = {
      kind: 'text' | 'attachment'; direction: 'incoming' | 'outgoing'; status: string | null; readAt: number | null; senderDeviceId: number;
      messageId: string; sentAt: number; receivedAt: number; body: string; pointer: Pointer | null;
    };
    type Outputs = {
      scope: 'recent' | 'all'; accountId: string; createdAt: number; since: number;
      conversations: { peerAccountId: string; messages: Message[] }[];
      archive: string;
      sealed: { key: string; length: number; paddedLength: number; ciphertextDigest: string; plaintextSha256: string; ciphertext: string };
    };
    const v = load<{ rng: DrawList; outputs: Outputs }>('history-archive.json');
    const o = v.outputs;
    const draws = new Draws(v.rng);
    expect(hex(draws.take('accountId', 16))).toBe(o.accountId);
    expect(hex(draws.take('bob', 16))).toBe(o.conversations[0]!.peerAccountId);
    expect(hex(draws.take('carol', 16))).toBe(o.conversations[1]!.peerAccountId);
    const all = o.conversations.flatMap((c) => c.messages);
    all.forEach((m, i) => expect(hex(draws.take(`message${i + 1}.messageId`, 16))).toBe(m.messageId));
    const photo = all.find((m) => m.pointer)!.pointer!;
    expect(hex(draws.take('photo.attachmentId', 16))).toBe(photo.attachmentId);
    expect(hex(draws.take('photo.key', 32))).toBe(photo.key);
    expect(hex(draws.take('photo.ciphertextDigest', 32))).toBe(photo.ciphertextDigest);
    expect(hex(draws.take('photo.plaintextSha256', 32))).toBe(photo.plaintextSha256);

    // §22.1 header: version ‖ scope (0x01 recent, 0x02 all) ‖ accountId ‖ u64 createdAt ‖ u64 since ‖ u32 conversationCount.
    expect(o.since).toBe(o.scope === 'all' ? 0 : o.createdAt - 30 * 24 * 3600_000);
    const parts: Uint8Array[] = [u8(0x01), u8(o.scope === 'recent' ? 0x01 : 0x02), unhex(o.accountId), u64(o.createdAt), u64(o.since), u32(o.conversations.length)];
    // §22.2 conversations and messages.
    const STATES: Record<string, number> = { sending: 0x11, sent: 0x12, delivered: 0x13, read: 0x14, failed: 0x15 };
    for (const c of o.conversations) {
      parts.push(unhex(c.peerAccountId), u32(c.messages.length));
      for (const m of c.messages) {
        const state = m.direction === 'incoming' ? (m.readAt === null ? 0x01 : 0x02) : STATES[m.status!]!;
        const body = utf8(m.body);
        parts.push(u8(m.kind === 'text' ? 0x01 : 0x02), u8(state), u32(m.senderDeviceId), unhex(m.messageId), u64(m.sentAt), u64(m.receivedAt));
        if (state === 0x02) parts.push(u64(m.readAt!));
        parts.push(u32(body.length), body);
        if (m.pointer) {
          const p = m.pointer;
          const type = utf8(p.mediaType);
          const name = utf8(p.fileName);
          expect(p.paddedLength).toBe(padme(p.length));
          parts.push(u8(p.flags), unhex(p.attachmentId), unhex(p.key), u64(p.length), u64(p.paddedLength), unhex(p.ciphertextDigest), unhex(p.plaintextSha256));
          parts.push(u8(type.length), type, u16(name.length), name);
          if (p.dimensions) parts.push(u16(p.dimensions.width), u16(p.dimensions.height));
          if (p.thumbnail !== null) parts.push(u32(unhex(p.thumbnail).length), unhex(p.thumbnail));
        }
        // §22.2: nothing displayed (min(sentAt, receivedAt)) before `since`.
        expect(Math.min(m.sentAt, m.receivedAt)).toBeGreaterThanOrEqual(o.since);
      }
    }
    const archive = cat(...parts);
    expect(hex(archive)).toBe(o.archive);

    // §22.4: sealed as one file of §17 under a fresh key (draws: key, then fileId).
    const key = draws.take('archive.key', 32);
    const fileId = draws.take('archive.fileId', 16);
    draws.allTaken();
    expect(hex(key)).toBe(o.sealed.key);
    const s = o.sealed;
    expect([s.length, s.paddedLength]).toEqual([archive.length, padme(archive.length)]);
    expect(s.paddedLength).toBeLessThanOrEqual(ATTACHMENT_SEGMENT); // one segment
    const header = cat(u8(0x01), u32(ATTACHMENT_SEGMENT), fileId, sha256(cat(LABEL.FileKeyCommit, key)));
    const padded = new Uint8Array(s.paddedLength);
    padded.set(archive);
    const sealedSegment = seal(key, cat(new Uint8Array(7), u32(0), u8(1)), padded, sha256(header));
    const ciphertext = cat(header, sealedSegment);
    expect(hex(ciphertext)).toBe(s.ciphertext);
    expect(hex(sha256(cat(LABEL.FileCiphertextDigest, header, sealedSegment.subarray(sealedSegment.length - 16))))).toBe(s.ciphertextDigest);
    expect(hex(sha256(archive))).toBe(s.plaintextSha256);
    // The receiver opens it back to the archive; a flipped byte does not open.
    expect(hex(open(key, cat(new Uint8Array(7), u32(0), u8(1)), ciphertext.subarray(53), sha256(header)).subarray(0, archive.length))).toBe(o.archive);
    const flipped = ciphertext.slice(53);
    flipped[10]! ^= 0x01;
    expect(() => open(key, cat(new Uint8Array(7), u32(0), u8(1)), flipped, sha256(header))).toThrow();
    expect(all).toHaveLength(5);
  });
});

// ── §24 Groups: sender keys and membership records ───────────────────────────

const GROUP_LABEL = {
  SenderKeyMessageKeys: utf8('Parley_v1_SenderKeyMessageKeys'),
  SenderKeyMessage: utf8('Parley_v1_SenderKeyMessage'),
  GroupRecord: utf8('Parley_v1_GroupRecord'),
  GroupRecordHash: utf8('Parley_v1_GroupRecordHash'),
};

/** A refusal with the code §24 names. */
class Refused extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}
function outcomeOf(run: () => unknown): string {
  try {
    run();
    return 'ok';
  } catch (e) {
    if (e instanceof Refused) return e.code;
    throw e;
  }
}

// §24.3 chain
const skSeed = (ck: Uint8Array): Uint8Array => HMAC(ck, u8(0x01));
const skNext = (ck: Uint8Array): Uint8Array => HMAC(ck, u8(0x02));
const skKeys = (seed: Uint8Array): Uint8Array => HKDF(new Uint8Array(32), seed, GROUP_LABEL.SenderKeyMessageKeys, 44);
const skAdvance = (ck: Uint8Array, n: number): Uint8Array => {
  for (let i = 0; i < n; i++) ck = skNext(ck);
  return ck;
};

// §24.4 group message
function skHeader(groupId: Uint8Array, distributionId: Uint8Array, iteration: number, head: Uint8Array): Uint8Array {
  return cat(u8(0x01), u8(0x10), groupId, distributionId, u32(iteration), head);
}
function skEncrypt(groupId: Uint8Array, distributionId: Uint8Array, iteration: number, head: Uint8Array, ck: Uint8Array, signingSeed: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const header = skHeader(groupId, distributionId, iteration, head);
  const keys = skKeys(skSeed(ck));
  const ciphertext = seal(keys.subarray(0, 32), keys.subarray(32), pad(plaintext), cat(GROUP_LABEL.SenderKeyMessage, header));
  return cat(header, ciphertext, sign(signingSeed, cat(GROUP_LABEL.SenderKeyMessage, header, ciphertext)));
}

type SkState = {
  groupId: Uint8Array;
  distributionId: Uint8Array;
  signingPublic: Uint8Array;
  signingSeed: Uint8Array | null;
  ck: Uint8Array;
  iteration: number;
  first: { iteration: number; ck: Uint8Array } | null;
  createdAt: number;
  skipped: { iteration: number; seed: Uint8Array }[];
};
type SkRecord = { states: SkState[]; retired: Uint8Array[] };

/** §24.5 steps 1–5 on a record; returns the new record and the plaintext, or throws Refused. */
function skReceive(record: SkRecord, bytes: Uint8Array): { record: SkRecord; plaintext: Uint8Array; head: Uint8Array } {
  const c = new Cursor(bytes);
  if (c.u8() !== 0x01 || c.u8() !== 0x10) throw new Refused('MALFORMED');
  const groupId = c.take(16);
  const distributionId = c.take(16);
  const iteration = c.u32();
  const head = c.take(32);
  const ctLength = bytes.length - 70 - 64;
  if (iteration === 0xffffffff || ctLength < 176 || (ctLength - 16) % 160 !== 0) throw new Refused('MALFORMED');
  const ciphertext = bytes.subarray(70, 70 + ctLength);
  const signature = bytes.subarray(70 + ctLength);
  const index = record.states.findIndex((s) => eqBytes(s.groupId, groupId) && eqBytes(s.distributionId, distributionId));
  if (index < 0) throw new Refused('NO_SENDER_KEY');
  const s = record.states[index]!;
  const ad = cat(GROUP_LABEL.SenderKeyMessage, bytes.subarray(0, 70));
  if (!verify(s.signingPublic, cat(ad, ciphertext), signature)) throw new Refused('BAD_SIGNATURE');
  let seed: Uint8Array;
  let next: SkState;
  if (iteration < s.iteration) {
    const kept = s.skipped.find((k) => k.iteration === iteration);
    if (!kept) throw new Refused('DUPLICATED_MESSAGE');
    seed = kept.seed;
    next = { ...s, skipped: s.skipped.filter((k) => k !== kept) };
  } else {
    if (iteration - s.iteration > 25_000) throw new Refused('JUMP_TOO_LARGE');
    const added: { iteration: number; seed: Uint8Array }[] = [];
    let ck = s.ck;
    for (let i = s.iteration; i < iteration; i++) {
      added.push({ iteration: i, seed: skSeed(ck) });
      ck = skNext(ck);
    }
    seed = skSeed(ck);
    next = { ...s, ck: skNext(ck), iteration: iteration + 1, skipped: [...s.skipped, ...added].slice(-2000) };
  }
  const keys = skKeys(seed);
  let padded: Uint8Array;
  try {
    padded = open(keys.subarray(0, 32), keys.subarray(32), ciphertext, ad);
  } catch {
    throw new Refused('INVALID_MESSAGE');
  }
  const states = [...record.states];
  states[index] = next;
  return { record: { states, retired: record.retired }, plaintext: unpad(padded), head };
}

type SkDistribution = { groupId: Uint8Array; distributionId: Uint8Array; accountId: Uint8Array; deviceId: number; iteration: number; ck: Uint8Array; signingPublic: Uint8Array };
const encodeDistribution = (d: SkDistribution): Uint8Array =>
  cat(d.groupId, d.distributionId, d.accountId, u32(d.deviceId), u32(d.iteration), d.ck, encEd(d.signingPublic));
function parseDistribution(bytes: Uint8Array): SkDistribution {
  const c = new Cursor(bytes);
  const d = { groupId: c.take(16), distributionId: c.take(16), accountId: c.take(16), deviceId: c.u32(), iteration: c.u32(), ck: c.take(32), signingPublic: c.key(0x06) };
  expect(c.done()).toBe(true);
  return d;
}

/** §24.6 "Accepting a distribution", at time `now`. */
function skAccept(record: SkRecord, d: SkDistribution, groupId: Uint8Array, from: { accountId: Uint8Array; deviceId: number }, now: number): SkRecord {
  if (!eqBytes(d.groupId, groupId) || !eqBytes(d.accountId, from.accountId) || d.deviceId !== from.deviceId) throw new Refused('SENDER_KEY_MISMATCH');
  if (record.retired.some((id) => eqBytes(id, d.distributionId))) throw new Refused('SENDER_KEY_ROLLBACK');
  const held = record.states.find((s) => eqBytes(s.distributionId, d.distributionId) && eqBytes(s.groupId, d.groupId));
  if (held) {
    if (!eqBytes(held.signingPublic, d.signingPublic)) throw new Refused('SENDER_KEY_CONFLICT');
    if (d.iteration < held.iteration) throw new Refused('SENDER_KEY_ROLLBACK');
    if (d.iteration - held.iteration > 25_000) throw new Refused('JUMP_TOO_LARGE');
    if (!eqBytes(skAdvance(held.ck, d.iteration - held.iteration), d.ck)) throw new Refused('SENDER_KEY_CONFLICT');
    return record;
  }
  const state: SkState = { groupId: d.groupId, distributionId: d.distributionId, signingPublic: d.signingPublic, signingSeed: null, ck: d.ck, iteration: d.iteration, first: null, createdAt: now, skipped: [] };
  const states = [state, ...record.states];
  const dropped = states.splice(5);
  return { states, retired: [...record.retired, ...dropped.map((s) => s.distributionId)].slice(-32) };
}

// §24.7
function writeSkState(s: SkState): Uint8Array {
  const flags = (s.signingSeed ? 0x01 : 0) | (s.first ? 0x02 : 0);
  return cat(
    s.groupId,
    s.distributionId,
    u8(flags),
    s.signingPublic,
    s.signingSeed ?? new Uint8Array(0),
    u32(s.iteration),
    s.ck,
    s.first ? cat(u32(s.first.iteration), s.first.ck) : new Uint8Array(0),
    u64(s.createdAt),
    u16(s.skipped.length),
    ...s.skipped.map((k) => cat(u32(k.iteration), k.seed)),
  );
}
const writeSkRecord = (r: SkRecord): Uint8Array => cat(u8(0x01), u8(r.states.length), ...r.states.map(writeSkState), u8(r.retired.length), ...r.retired);

// §24.1 records
type GroupRecordParsed = {
  groupId: Uint8Array;
  epoch: number;
  previousHash: Uint8Array;
  author: Uint8Array;
  op: number;
  target: Uint8Array | null;
  role: number;
  members: { accountId: Uint8Array; accountKey: Uint8Array; admin: boolean }[];
  name: string | null;
  description: string;
  hash: Uint8Array;
  bytes: Uint8Array;
};
function parseRecord(bytes: Uint8Array): GroupRecordParsed {
  const c = new Cursor(bytes);
  expect(c.u8()).toBe(0x01);
  const groupId = c.take(16);
  const epoch = c.u32();
  const previousHash = c.take(32);
  c.u64();
  const author = c.take(16);
  c.u32();
  const authorKey = c.key(0x06);
  const op = c.u8();
  const text = (): string => new TextDecoder('utf-8', { fatal: true }).decode(c.take(c.u16()));
  const members = (): GroupRecordParsed['members'] =>
    Array.from({ length: c.u16() }, () => ({ accountId: c.take(16), accountKey: c.key(0x06), admin: c.u8() === 0x01 }));
  const r: GroupRecordParsed = { groupId, epoch, previousHash, author, op, target: null, role: 0, members: [], name: null, description: '', hash: sha256(cat(GROUP_LABEL.GroupRecordHash, bytes)), bytes };
  if (op === 0x01 || op === 0x05) {
    r.name = text();
    r.description = text();
  }
  if (op === 0x01 || op === 0x02) r.members = members();
  if (op === 0x03 || op === 0x04) r.target = c.take(16);
  if (op === 0x04) r.role = c.u8();
  const bodyLength = c.off;
  const signature = c.take(64);
  expect(c.done()).toBe(true);
  if (!verify(authorKey, cat(GROUP_LABEL.GroupRecord, bytes.subarray(0, bodyLength)), signature)) throw new Refused('BAD_SIGNATURE');
  return r;
}

type GroupMemberView = Map<string, { accountId: Uint8Array; admin: boolean }>;
type GroupViews = { path: GroupMemberView; eff: GroupMemberView; name: string; description: string };
const cloneViews = (v: GroupViews): GroupViews => ({ path: new Map(v.path), eff: new Map(v.eff), name: v.name, description: v.description });
const admins = (m: GroupMemberView): number => [...m.values()].filter((x) => x.admin).length;

/** §24.2: whether `r` takes effect at views `v` (null) or its code. */
function takesEffect(v: GroupViews, r: GroupRecordParsed): string | null {
  const a = hex(r.author);
  if (r.op === 0x01) return 'GROUP_BROKEN_CHAIN';
  if (!v.eff.has(a)) return 'GROUP_NOT_MEMBER';
  if (r.op === 0x06) return v.path.get(a)!.admin && admins(v.path) === 1 && v.path.size > 1 ? 'GROUP_INVALID_CHANGE' : null;
  if (!v.eff.get(a)!.admin) return 'GROUP_NOT_ADMIN';
  if (r.op === 0x02) return v.path.size + r.members.filter((m) => !v.path.has(hex(m.accountId))).length > 1000 ? 'GROUP_TOO_LARGE' : null;
  if (r.op === 0x03) return !v.path.has(hex(r.target!)) || hex(r.target!) === a ? 'GROUP_INVALID_CHANGE' : null;
  if (r.op === 0x04) return !v.path.has(hex(r.target!)) || (r.role === 0 && hex(r.target!) === a && admins(v.path) === 1) ? 'GROUP_INVALID_CHANGE' : null;
  return null;
}
function applyTo(v: GroupViews, r: GroupRecordParsed): void {
  const a = hex(r.author);
  if (r.op === 0x01 || r.op === 0x05) {
    v.name = r.name!;
    v.description = r.description;
  }
  if (r.op === 0x01 || r.op === 0x02) {
    for (const m of r.members) {
      const k = hex(m.accountId);
      if (!v.path.has(k)) v.path.set(k, { accountId: m.accountId, admin: m.admin });
      if (!v.eff.has(k)) v.eff.set(k, v.path.get(k)!);
    }
  }
  if (r.op === 0x03) {
    v.path.delete(hex(r.target!));
    v.eff.delete(hex(r.target!));
  }
  if (r.op === 0x04) {
    const k = hex(r.target!);
    const changed = { ...v.path.get(k)!, admin: r.role === 0x01 };
    v.path.set(k, changed);
    if (v.eff.has(k)) v.eff.set(k, changed);
  }
  if (r.op === 0x06) {
    v.path.delete(a);
    v.eff.delete(a);
  }
}

/** The held records as a tree; views along any path; the head (§24.2). */
class GroupTree {
  readonly byHash = new Map<string, GroupRecordParsed>();
  readonly genesis: GroupRecordParsed;
  constructor(records: readonly GroupRecordParsed[]) {
    this.genesis = records[0]!;
    for (const r of records) this.byHash.set(hex(r.hash), r);
  }
  children(r: GroupRecordParsed): GroupRecordParsed[] {
    return [...this.byHash.values()].filter((c) => c.epoch > 0 && eqBytes(c.previousHash, r.hash)).sort((x, y) => (hex(x.hash) < hex(y.hash) ? -1 : 1));
  }
  step(from: GroupRecordParsed, v: GroupViews, child: GroupRecordParsed): GroupViews | string {
    const code = takesEffect(v, child);
    if (code) return code;
    const next = cloneViews(v);
    applyTo(next, child);
    for (const s of this.children(from)) {
      if (s === child || takesEffect(v, s) !== null) continue;
      if (s.op === 0x03) next.eff.delete(hex(s.target!));
      if (s.op === 0x06) next.eff.delete(hex(s.author));
    }
    return next;
  }
  genesisViews(): GroupViews {
    const v: GroupViews = { path: new Map(), eff: new Map(), name: '', description: '' };
    applyTo(v, this.genesis);
    return v;
  }
  viewsAt(hash: Uint8Array): GroupViews | string {
    const path: GroupRecordParsed[] = [];
    for (let r = this.byHash.get(hex(hash)); r; r = r.epoch === 0 ? undefined : this.byHash.get(hex(r.previousHash))) path.unshift(r);
    let v: GroupViews | string = this.genesisViews();
    for (let i = 1; i < path.length && typeof v !== 'string'; i++) v = this.step(path[i - 1]!, v, path[i]!);
    return v;
  }
  head(): { record: GroupRecordParsed; views: GroupViews; chain: Set<string> } {
    let at = this.genesis;
    let v = this.genesisViews();
    const chain = new Set([hex(at.hash)]);
    for (;;) {
      const next = this.children(at)
        .map((c) => ({ c, v: this.step(at, v, c) }))
        .find((x) => typeof x.v !== 'string');
      if (!next) return { record: at, views: v, chain };
      at = next.c;
      v = next.v as GroupViews;
      chain.add(hex(at.hash));
    }
  }
}

describe('Parley group vectors (§24), recomputed from docs/protocol.md alone', () => {
  it('sender-key.json: the chain, group messages, distributions, request, serialized state and the checks of §24.5–§24.6', () => {
    const v = load<{
      rng: DrawList;
      inputs: { time: number; senderDeviceId: number; requestIteration: number };
      outputs: Record<string, string> & {
        messages: Record<string, string | number>[];
        checks: { name: string; expect: string }[];
      };
    }>('sender-key.json');
    const d = new Draws(v.rng);
    const groupId = d.take('groupId', 16);
    const aliceAccount = d.take('alice.accountId', 16);
    const head = d.take('headHash', 32);
    const distributionId = d.take('chain.distributionId', 16);
    const ck0 = d.take('chain.chainKey', 32);
    const signingSeed = d.take('chain.signingKey', 32);
    const mallorySeed = d.take('mallory.signingKey', 32);
    d.allTaken();
    const o = v.outputs;
    expect([o.groupId, o.distributionId, o.chainKey, o.signingPublicKey, o.malloryPublicKey, o.headHash]).toEqual(
      [groupId, distributionId, ck0, edPub(signingSeed), edPub(mallorySeed), head].map(hex),
    );
    const messages: Uint8Array[] = [];
    let ck = ck0;
    for (let i = 0; i < 3; i++) {
      const m = o.messages[i]!;
      const plaintext = utf8(`Parley_v1 test vector group message ${i}`);
      const seed = skSeed(ck);
      const keys = skKeys(seed);
      const header = skHeader(groupId, distributionId, i, head);
      const bytes = skEncrypt(groupId, distributionId, i, head, ck, signingSeed, plaintext);
      expect(m).toEqual({
        iteration: i,
        plaintextHex: hex(plaintext),
        chainKey: hex(ck),
        messageSeed: hex(seed),
        messageKey: hex(keys.subarray(0, 32)),
        nonce: hex(keys.subarray(32)),
        header: hex(header),
        ad: hex(cat(GROUP_LABEL.SenderKeyMessage, header)),
        ciphertext: hex(bytes.subarray(70, bytes.length - 64)),
        signature: hex(bytes.subarray(bytes.length - 64)),
        bytes: hex(bytes),
      });
      messages.push(bytes);
      ck = skNext(ck);
    }
    const far = (i: number): Uint8Array => skEncrypt(groupId, distributionId, i, head, skAdvance(ck0, i), signingSeed, utf8(`Parley_v1 test vector group message ${i}`));
    expect(o.jumpAtLimit).toBe(hex(far(25_000)));
    expect(o.jumpPastLimit).toBe(hex(far(25_001)));
    const forged = skEncrypt(groupId, distributionId, 0, head, ck0, mallorySeed, utf8('Parley_v1 test vector forged'));
    expect(o.forged).toBe(hex(forged));

    const alice = { accountId: aliceAccount, deviceId: v.inputs.senderDeviceId };
    const dist0: SkDistribution = { groupId, distributionId, accountId: aliceAccount, deviceId: 1, iteration: 0, ck: ck0, signingPublic: edPub(signingSeed) };
    const dist3: SkDistribution = { ...dist0, iteration: 3, ck };
    expect(o.distribution0).toBe(hex(encodeDistribution(dist0)));
    expect(o.distribution3).toBe(hex(encodeDistribution(dist3)));
    expect(parseDistribution(unhex(o.distribution0!))).toEqual(dist0);
    expect(unhex(o.distribution0!)).toHaveLength(121);
    expect(o.request).toBe(hex(cat(groupId, distributionId, u32(v.inputs.requestIteration))));
    const own: SkState = { groupId, distributionId, signingPublic: edPub(signingSeed), signingSeed, ck, iteration: 3, first: { iteration: 0, ck: ck0 }, createdAt: v.inputs.time, skipped: [] };
    expect(o.ownState).toBe(hex(cat(u8(0x01), writeSkState(own))));

    const empty: SkRecord = { states: [], retired: [] };
    const received = skAccept(empty, dist0, groupId, alice, v.inputs.time);
    const after2 = skReceive(received, messages[2]!).record;
    const after20 = skReceive(after2, messages[0]!).record;
    expect(o.receiverRecord).toBe(hex(writeSkRecord(after20)));
    expect(new TextDecoder().decode(skReceive(after20, messages[1]!).plaintext)).toBe('Parley_v1 test vector group message 1');
    const newcomer = skAccept(empty, dist3, groupId, alice, v.inputs.time);
    const flip = (b: Uint8Array, at: number): Uint8Array => {
      const out = b.slice();
      out[at]! ^= 0x01;
      return out;
    };
    const expected: Record<string, () => unknown> = {
      'message-0': () => skReceive(received, messages[0]!),
      'message-0-twice': () => skReceive(skReceive(received, messages[0]!).record, messages[0]!),
      'message-1-after-2-and-0': () => skReceive(after20, messages[1]!),
      'newcomer-message-1': () => skReceive(newcomer, messages[1]!),
      'no-distribution': () => skReceive(empty, messages[0]!),
      'signature-flipped': () => skReceive(received, flip(messages[0]!, messages[0]!.length - 1)),
      'head-hash-flipped': () => skReceive(received, flip(messages[0]!, 38)),
      'forged-by-mallory': () => skReceive(received, forged),
      'jump-at-limit': () => skReceive(received, far(25_000)),
      'jump-past-limit': () => skReceive(received, far(25_001)),
      'distribution-0-after-message-2': () => skAccept(after2, dist0, groupId, alice, v.inputs.time),
      'distribution-from-device-2': () => skAccept(empty, dist0, groupId, { ...alice, deviceId: 2 }, v.inputs.time),
    };
    expect(o.checks.map((c) => c.name)).toEqual(Object.keys(expected));
    for (const c of o.checks) expect(outcomeOf(expected[c.name]!), c.name).toBe(c.expect);
    expect(o.checks).toHaveLength(12);
  });

  it('group-membership.json: records, their hashes, the fork rule, the head and its members, update and serialized forms, and the checks', () => {
    const v = load<{
      rng: DrawList;
      inputs: { time: number };
      outputs: {
        groupId: string;
        people: Record<string, { accountId: string; accountPublicKey: string; deviceSigningPublic: string }>;
        records: { name: string; epoch: number; previousHash: string; time: number; signatureInput: string; bytes: string; hash: string; onChain: boolean }[];
        head: string;
        name: string;
        description: string;
        members: { accountId: string; admin: boolean }[];
        unknownHash: string;
        update: string;
        serialized: string;
        checks: { name: string; expect: string }[];
      };
    }>('group-membership.json');
    const d = new Draws(v.rng);
    const groupId = d.take('groupId', 16);
    type Person = { accountId: Uint8Array; accountKey: Uint8Array; device: Uint8Array };
    const people: Record<string, Person> = {};
    for (const name of ['alice', 'bob', 'carol', 'dave']) {
      people[name] = { accountId: d.take(`${name}.accountId`, 16), accountKey: d.take(`${name}.accountKey`, 32), device: d.take(`${name}.deviceSigning`, 32) };
    }
    const unknownHash = d.take('unknownHash', 32);
    d.allTaken();
    const o = v.outputs;
    const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map((n) => people[n]!) as [Person, Person, Person, Person];
    for (const [name, p] of Object.entries(people)) {
      expect(o.people[name]).toEqual({ accountId: hex(p!.accountId), accountPublicKey: hex(edPub(p!.accountKey)), deviceSigningPublic: hex(edPub(p!.device)) });
    }
    const T = v.inputs.time;
    const member = (p: Person, admin: boolean): Uint8Array => cat(p.accountId, encEd(edPub(p.accountKey)), u8(admin ? 1 : 0));
    const members = (...list: [Person, boolean][]): Uint8Array =>
      cat(u16(list.length), ...[...list].sort((x, y) => (hex(x[0].accountId) < hex(y[0].accountId) ? -1 : 1)).map(([p, admin]) => member(p, admin)));
    const name = (n: string, desc: string): Uint8Array => cat(u16(utf8(n).length), utf8(n), u16(utf8(desc).length), utf8(desc));
    const signRecord = (by: Person, epoch: number, previous: Uint8Array, time: number, op: Uint8Array): Uint8Array => {
      const body = cat(u8(0x01), groupId, u32(epoch), previous, u64(time), by.accountId, u32(1), encEd(edPub(by.device)), op);
      return cat(body, sign(by.device, cat(GROUP_LABEL.GroupRecord, body)));
    };
    const hashOf = (bytes: Uint8Array): Uint8Array => sha256(cat(GROUP_LABEL.GroupRecordHash, bytes));

    // The records as §24.9 describes them, each checked against the vector.
    const genesis = signRecord(alice, 0, new Uint8Array(32), T, cat(u8(0x01), name('Parley test group', 'vectors'), members([alice, true], [bob, false], [carol, false])));
    const promote = signRecord(alice, 1, hashOf(genesis), T + 1, cat(u8(0x04), bob.accountId, u8(0x01)));
    const addDave = signRecord(alice, 2, hashOf(promote), T + 2, cat(u8(0x02), members([dave, false])));
    const removeCarol = signRecord(alice, 3, hashOf(addDave), T + 3, cat(u8(0x03), carol.accountId));
    let t = 3;
    let rename = signRecord(bob, 3, hashOf(addDave), T + t, cat(u8(0x05), name('Renamed', '')));
    while (hex(hashOf(rename)) >= hex(hashOf(removeCarol))) rename = signRecord(bob, 3, hashOf(addDave), T + ++t, cat(u8(0x05), name('Renamed', '')));
    const tree0 = new GroupTree([genesis, promote, addDave, removeCarol, rename].map(parseRecord));
    const winner = tree0.head().record;
    const removeBob = signRecord(alice, 4, winner.hash, T + 100, cat(u8(0x03), bob.accountId));
    const all = [genesis, promote, addDave, removeCarol, rename, removeBob];
    const names = ['genesis', 'promote-bob', 'add-dave', 'fork-remove-carol', 'fork-rename', 'remove-bob'];
    const tree = new GroupTree(all.map(parseRecord));
    const { record: headRecord, views, chain } = tree.head();
    expect(o.records).toEqual(
      all.map((bytes, i) => {
        const r = parseRecord(bytes);
        const c = new Cursor(bytes);
        c.take(1 + 16 + 4 + 32);
        return {
          name: names[i],
          epoch: r.epoch,
          previousHash: hex(r.previousHash),
          time: c.u64(),
          signatureInput: hex(cat(GROUP_LABEL.GroupRecord, bytes.subarray(0, bytes.length - 64))),
          bytes: hex(bytes),
          hash: hex(r.hash),
          onChain: chain.has(hex(r.hash)),
        };
      }),
    );
    expect(o.head).toBe(hex(headRecord.hash));
    expect([o.name, o.description]).toEqual([views.name, views.description]);
    expect(o.members).toEqual([...views.eff.values()].sort((x, y) => (hex(x.accountId) < hex(y.accountId) ? -1 : 1)).map((m) => ({ accountId: hex(m.accountId), admin: m.admin })));
    // Carol's removal lost the fork and still removed her (§24.2).
    expect(o.records[3]!.onChain).toBe(false);
    expect(views.eff.has(hex(carol.accountId))).toBe(false);
    expect(views.path.has(hex(carol.accountId))).toBe(true);

    const ordered = [...all].sort((x, y) => parseRecord(x).epoch - parseRecord(y).epoch || (hex(hashOf(x)) < hex(hashOf(y)) ? -1 : 1));
    const framed = ordered.map((r) => cat(u32(r.length), r));
    expect(o.update).toBe(hex(cat(groupId, u16(ordered.length), ...framed)));
    expect(o.serialized).toBe(hex(cat(u8(0x01), groupId, u32(ordered.length), ...framed)));

    // §24.1 adding a record on the head, then §24.2 whether it takes effect.
    const addOutcome = (bytes: Uint8Array): string =>
      outcomeOf(() => {
        const r = parseRecord(bytes);
        if (!eqBytes(r.groupId, groupId) || r.op === 0x01) throw new Refused('GROUP_BROKEN_CHAIN');
        const parent = tree.byHash.get(hex(r.previousHash));
        if (!parent) throw new Refused('GROUP_UNKNOWN_RECORD');
        if (r.epoch !== parent.epoch + 1) throw new Refused('GROUP_BROKEN_CHAIN');
        const at = tree.viewsAt(parent.hash);
        const code = typeof at === 'string' ? at : takesEffect(at, r);
        if (code) throw new Refused(code);
      });
    const renameOnHead = (by: Person, fields: { previous?: Uint8Array; epoch?: number } = {}): Uint8Array =>
      signRecord(by, fields.epoch ?? headRecord.epoch + 1, fields.previous ?? headRecord.hash, T + 200, cat(u8(0x05), name('Again', '')));
    const flipped = renameOnHead(alice);
    flipped[flipped.length - 1]! ^= 0x01;
    const headOutcome = (hash: Uint8Array, sender: Person): string => {
      const at = tree.byHash.has(hex(hash)) ? tree.viewsAt(hash) : 'GROUP_UNKNOWN_HEAD';
      if (typeof at === 'string') return 'GROUP_UNKNOWN_HEAD';
      if (!at.eff.has(hex(sender.accountId))) return 'GROUP_NOT_MEMBER';
      return eqBytes(hash, headRecord.hash) ? 'current' : 'older';
    };
    expect(o.unknownHash).toBe(hex(unknownHash));
    const expected: Record<string, string> = {
      'dave-renames': addOutcome(renameOnHead(dave)),
      'bob-renames-after-removal': addOutcome(renameOnHead(bob)),
      'alice-renames': addOutcome(renameOnHead(alice)),
      'alice-renames-on-unknown-record': addOutcome(renameOnHead(alice, { previous: unknownHash })),
      'alice-renames-with-wrong-epoch': addOutcome(renameOnHead(alice, { epoch: headRecord.epoch + 2 })),
      'alice-renames-signature-flipped': addOutcome(flipped),
      'message-dave-at-head': headOutcome(headRecord.hash, dave),
      'message-carol-at-head': headOutcome(headRecord.hash, carol),
      'message-carol-at-add-dave': headOutcome(hashOf(addDave), carol),
      'message-alice-at-unknown-head': headOutcome(unknownHash, alice),
    };
    expect(o.checks).toEqual(Object.entries(expected).map(([n, e]) => ({ name: n, expect: e })));
    expect(o.checks).toHaveLength(10);
  });
});
