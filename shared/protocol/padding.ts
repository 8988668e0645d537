/**
 * Message padding (DESIGN §3.1): every plaintext — text, receipt, control — is padded to a multiple
 * of PADDING_BLOCK (160) bytes before encryption so the relay cannot tell a read receipt from a short
 * text by length. Scheme: ISO/IEC 7816-4 — append 0x80, then zeros up to the block boundary (a
 * plaintext that already ends on a boundary gains a whole block).
 */
import { PADDING_BLOCK } from './constants.js';
import { ProtocolError } from './errors.js';

/** (⌊length / 160⌋ + 1) · 160 */
export function paddedLength(length: number): number {
  return (Math.floor(length / PADDING_BLOCK) + 1) * PADDING_BLOCK;
}

export function pad(plaintext: Uint8Array): Uint8Array {
  const padded = new Uint8Array(paddedLength(plaintext.length));
  padInto(plaintext, padded);
  return padded;
}

/** Pads into the first paddedLength(plaintext.length) bytes of `out` (a reused buffer); returns that view. */
export function padInto(plaintext: Uint8Array, out: Uint8Array): Uint8Array {
  const length = paddedLength(plaintext.length);
  if (out.length < length) throw new RangeError('padding buffer too small');
  out.set(plaintext, 0);
  out[plaintext.length] = 0x80;
  out.fill(0, plaintext.length + 1, length);
  return out.length === length ? out : out.subarray(0, length);
}

/**
 * The length of the plaintext inside a padded one; a malformed padding (only possible after a
 * successful AEAD) is MALFORMED.
 */
export function unpaddedLength(padded: Uint8Array): number {
  if (padded.length === 0 || padded.length % PADDING_BLOCK !== 0) {
    throw new ProtocolError('MALFORMED', 'padded plaintext is not a whole number of blocks');
  }
  let i = padded.length - 1;
  const floor = padded.length - PADDING_BLOCK;
  while (i >= floor && padded[i] === 0) i--;
  if (i < floor || padded[i] !== 0x80) throw new ProtocolError('MALFORMED', 'bad padding');
  return i;
}

/** Removes the padding (a copy); a malformed padding is MALFORMED. */
export function unpad(padded: Uint8Array): Uint8Array {
  return padded.slice(0, unpaddedLength(padded));
}
