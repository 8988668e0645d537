/**
 * CPace (draft-irtf-cfrg-cpace-21, the CPACE-RISTR255-SHA512 suite of its §8.3): the balanced PAKE
 * that device linking runs over a short code (DESIGN §3.11, docs/protocol.md §20.3). Two parties
 * that share a low-entropy password-related string (PRS), a channel identifier (CI) and a public
 * session id (sid) each send one group element; both derive the same 64-byte intermediate session
 * key (ISK) only if every input matched, and an active attacker gets exactly one password guess per
 * run.
 *
 * The draft's functions, spelled as it spells them: `prependLen`/`lvCat` (its appendix A.1),
 * `generatorString` (A.2), `calculateGenerator` (§8.3: SHA-512 of the generator string to 64
 * bytes, then RFC 9496's element derivation), `sampleScalar` (§8.3's recommended form: 32 random
 * bytes with the bits above 252 cleared), `scalarMult`, `scalarMultVfy` (a failed decode returns the
 * identity's encoding), `transcriptIr` (A.3.4) and the ISK of §7.2. Parley uses the initiator-
 * responder setting (the primary device initiates, docs/protocol.md §20). The draft's own vectors
 * (its appendix B.3) are test/vectors/cpace-draft.json, checked in cpace.test.ts.
 *
 * Sharp edges this module handles: the identity element is refused (a peer share that does not
 * decode, or decodes to the identity, makes K the identity: `INVALID_KEY`, §7.2's abort), and K is
 * never returned (draft §10.3). It does NOT do key confirmation (the draft leaves it to the
 * application; linking.ts confirms keys with HMAC over its transcript) and does not pick the PRS,
 * CI or sid — the caller binds them (linking.ts).
 *
 * ristretto255 comes from @noble/curves (node:crypto has no equivalent, DESIGN §3.1); SHA-512 from
 * shared/crypto (node:crypto). Sans-I/O and synchronous; randomness is injected.
 */
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';
import { concatBytes, utf8, wipe } from '../crypto/bytes.js';
import type { Rng } from '../crypto/random.js';
import { sha512 } from '../crypto/sha256.js';
import { ProtocolError } from './errors.js';

/** G_Ristretto255.DSI (draft §8.3). */
export const CPACE_DSI = utf8('CPaceRistretto255');
/** H.s_in_bytes of SHA-512: the input block size the generator string's zero padding fills. */
export const CPACE_HASH_BLOCK_BYTES = 128;
/** An encoded group element (a share Ya/Yb, the generator, K). */
export const CPACE_ELEMENT_LENGTH = 32;
/** A scalar, little-endian (the draft's `ya`, `yb`). */
export const CPACE_SCALAR_LENGTH = 32;
/** The ISK: SHA-512 output. */
export const CPACE_ISK_LENGTH = 64;
/** G.I: the encoding of the identity element. */
export const CPACE_IDENTITY = new Uint8Array(CPACE_ELEMENT_LENGTH);

const ISK_DSI = concatBytes(CPACE_DSI, utf8('_ISK'));
const Point = ristretto255.Point;
type RistrettoPoint = InstanceType<typeof Point>;

// ── String utilities (draft appendix A) ──────────────────────────────────────

/** The LEB128 length of `data` followed by `data` (draft A.1.1). */
export function prependLen(data: Uint8Array): Uint8Array {
  const length: number[] = [];
  let n = data.length;
  for (;;) {
    if (n < 128) length.push(n);
    else length.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
    if (n === 0) break;
  }
  return concatBytes(Uint8Array.from(length), data);
}

/** prepend_len of every argument, concatenated (draft A.1.3). */
export function lvCat(...parts: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...parts.map(prependLen));
}

/**
 * lv_cat(DSI, PRS, zero_bytes(len_zpad), CI, sid) with len_zpad = max(0, s_in_bytes − 1 −
 * len(prepend_len(PRS)) − len(prepend_len(DSI))) (draft §8.1, A.2).
 */
export function generatorString(
  dsi: Uint8Array,
  prs: Uint8Array,
  ci: Uint8Array,
  sid: Uint8Array,
  sInBytes: number = CPACE_HASH_BLOCK_BYTES,
): Uint8Array {
  const zpad = Math.max(0, sInBytes - 1 - prependLen(prs).length - prependLen(dsi).length);
  return lvCat(dsi, prs, new Uint8Array(zpad), ci, sid);
}

/** transcript_ir(Ya, ADa, Yb, ADb) = lv_cat(Ya, ADa) ‖ lv_cat(Yb, ADb) (draft A.3.4). */
export function transcriptIr(ya: Uint8Array, adA: Uint8Array, yb: Uint8Array, adB: Uint8Array): Uint8Array {
  return concatBytes(lvCat(ya, adA), lvCat(yb, adB));
}

// ── Group environment G_Ristretto255 (draft §8.3) ────────────────────────────

function generatorPoint(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): RistrettoPoint {
  const hash = sha512(generatorString(CPACE_DSI, prs, ci, sid));
  try {
    // RFC 9496 §4.3.4 element derivation of the 64-byte hash.
    return ristretto255_hasher.deriveToCurve!(hash);
  } finally {
    wipe(hash);
  }
}

/** The generator g = calculate_generator(H, PRS, CI, sid), encoded (for vectors; it depends on the PRS). */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  return generatorPoint(prs, ci, sid).toBytes();
}

function scalarOf(y: Uint8Array): bigint {
  if (!(y instanceof Uint8Array) || y.length !== CPACE_SCALAR_LENGTH) {
    throw new ProtocolError('MALFORMED', 'CPace scalar: 32 bytes');
  }
  let s = 0n;
  for (let i = CPACE_SCALAR_LENGTH - 1; i >= 0; i--) s = (s << 8n) | BigInt(y[i]!);
  // sampleScalar clears the bits above 252, so every scalar it makes is below the group order.
  if (s === 0n || s >= Point.Fn.ORDER) throw new ProtocolError('MALFORMED', 'CPace scalar out of range');
  return s;
}

/**
 * G.sample_scalar() as the draft recommends for ristretto255: 32 random bytes, the bits above
 * group_size_bits (252) cleared, read little-endian. Zero (probability 2⁻²⁵²) is drawn again.
 */
export function sampleScalar(rng: Rng): Uint8Array {
  for (;;) {
    const y = rng(CPACE_SCALAR_LENGTH);
    if (y.length !== CPACE_SCALAR_LENGTH) throw new RangeError('Rng returned the wrong length');
    y[31]! &= 0x0f;
    if (y.some((b) => b !== 0)) return y;
  }
}

/** G.scalar_mult(y, g): encode(y · g), for the generator `g` in the internal representation. */
function scalarMultPoint(y: Uint8Array, g: RistrettoPoint): Uint8Array {
  return g.multiply(scalarOf(y)).toBytes();
}

/** G.scalar_mult(y, decode(X)) for an encoded X that must decode (the draft's B.3.10 case). */
export function scalarMult(y: Uint8Array, x: Uint8Array): Uint8Array {
  return scalarMultPoint(y, Point.fromBytes(x));
}

/**
 * G.scalar_mult_vfy(y, X): encode(y · decode(X)), or G.I (32 zero bytes) when X does not decode
 * as a canonical ristretto255 encoding. The identity encoding decodes, and y · I = I.
 */
export function scalarMultVfy(y: Uint8Array, x: Uint8Array): Uint8Array {
  let point: RistrettoPoint;
  try {
    if (!(x instanceof Uint8Array) || x.length !== CPACE_ELEMENT_LENGTH) return CPACE_IDENTITY.slice();
    point = Point.fromBytes(x);
  } catch {
    return CPACE_IDENTITY.slice();
  }
  const k = point.multiply(scalarOf(y));
  return k.is0() ? CPACE_IDENTITY.slice() : k.toBytes();
}

/** ISK = H.hash(lv_cat(DSI ‖ "_ISK", sid, K) ‖ transcript) (draft §7.2). */
export function cpaceIsk(sid: Uint8Array, k: Uint8Array, transcript: Uint8Array): Uint8Array {
  const input = concatBytes(lvCat(ISK_DSI, sid, k), transcript);
  try {
    return sha512(input);
  } finally {
    wipe(input);
  }
}

// ── The protocol (draft §7) ──────────────────────────────────────────────────

export type CPaceRole = 'initiator' | 'responder';

/** What both parties must agree on. `prs` is secret; `ci` may be; `sid` is public. */
export type CPaceInputs = {
  readonly prs: Uint8Array;
  readonly ci: Uint8Array;
  readonly sid: Uint8Array;
  /** This party's associated data (ADa for the initiator, ADb for the responder): sent in clear. */
  readonly ad: Uint8Array;
};

/** One party's state between sending its share and receiving the peer's. Holds a secret scalar. */
export type CPaceState = {
  readonly role: CPaceRole;
  readonly sid: Uint8Array;
  readonly ad: Uint8Array;
  readonly share: Uint8Array;
  readonly scalar: Uint8Array;
};

/** Computes g, draws y and returns this party's share Y = y · g (sent with its AD). */
export function cpaceStart(role: CPaceRole, inputs: CPaceInputs, deps: { readonly rng: Rng }): { state: CPaceState; share: Uint8Array } {
  const g = generatorPoint(inputs.prs, inputs.ci, inputs.sid);
  const scalar = sampleScalar(deps.rng);
  const share = scalarMultPoint(scalar, g);
  return { state: { role, sid: inputs.sid.slice(), ad: inputs.ad.slice(), share, scalar }, share };
}

/**
 * Receives the peer's share and AD and returns the ISK. K = scalar_mult_vfy(y, Y_peer); K = G.I
 * (a peer share that is the identity or not a valid encoding) is INVALID_KEY, the draft's abort.
 * The scalar is wiped either way: a state is used once.
 */
export function cpaceFinish(state: CPaceState, peer: { readonly share: Uint8Array; readonly ad: Uint8Array }): Uint8Array {
  try {
    const k = scalarMultVfy(state.scalar, peer.share);
    if (k.every((b) => b === 0)) throw new ProtocolError('INVALID_KEY', 'CPace: the peer share is the identity or not a group element');
    const transcript =
      state.role === 'initiator'
        ? transcriptIr(state.share, state.ad, peer.share, peer.ad)
        : transcriptIr(peer.share, peer.ad, state.share, state.ad);
    try {
      return cpaceIsk(state.sid, k, transcript);
    } finally {
      wipe(k);
    }
  } finally {
    wipe(state.scalar);
  }
}
