/**
 * Message padding (DESIGN §3.1): every plaintext — text, receipt, control — is padded to a multiple
 * of PADDING_BLOCK (160) bytes before encryption so the relay cannot tell a read receipt from a short
 * text by length. Scheme: ISO/IEC 7816-4 — append 0x80, then zeros up to the block boundary (a
 * plaintext that already ends on a boundary gains a whole block).
 */
import { PADDING_BLOCK } from './constants.js';
import { ProtocolError } from './errors.js';

export function pad(plaintext: Uint8Array): Uint8Array {
  const padded = new Uint8Array((Math.floor(plaintext.length / PADDING_BLOCK) + 1) * PADDING_BLOCK);
  padded.set(plaintext, 0);
  padded[plaintext.length] = 0x80;
  return padded;
}

/** Removes the padding; a malformed padding (only possible after a successful AEAD) is MALFORMED. */
export function unpad(padded: Uint8Array): Uint8Array {
  if (padded.length === 0 || padded.length % PADDING_BLOCK !== 0) {
    throw new ProtocolError('MALFORMED', 'padded plaintext is not a whole number of blocks');
  }
  let i = padded.length - 1;
  const floor = padded.length - PADDING_BLOCK;
  while (i >= floor && padded[i] === 0) i--;
  if (i < floor || padded[i] !== 0x80) throw new ProtocolError('MALFORMED', 'bad padding');
  return padded.slice(0, i);
}
