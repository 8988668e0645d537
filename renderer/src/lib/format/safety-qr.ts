/**
 * Comparing a scanned safety-number QR code with our own (issue 12 "verification by scanning";
 * DESIGN §3.2, docs/protocol.md "Safety numbers"). A code's text is the base64url of version(u16be)
 * ‖ the shower's fingerprint(32) ‖ the peer's fingerprint(32) — the payload the engine already
 * gives the renderer (SafetyNumberView.qrPayload). Scanning the other person's code matches when
 * their first fingerprint is our second and their second our first, as in shared/protocol's
 * compareQrPayload, which the renderer may not import (DESIGN §2): test/renderer/safety-qr.test.ts
 * checks that both agree on every case. All of it is public data; nothing secret is compared.
 */

export const SAFETY_QR_VERSION = 1;
const FINGERPRINT_LENGTH = 32;
const PAYLOAD_LENGTH = 2 + 2 * FINGERPRINT_LENGTH;

/**
 * match: the other person's code for this conversation; mismatch: a safety-number code that is not
 * (another person's, or keys that changed); own: our own code (the person scanned their own screen);
 * not-safety-number: any other QR code (a link, another app's code, another version).
 */
export type SafetyScan = 'match' | 'mismatch' | 'own' | 'not-safety-number';

function decodeBase64Url(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) return null;
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  let binary: string;
  try {
    binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  } catch {
    return null;
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function parse(text: string): { local: Uint8Array; remote: Uint8Array } | null {
  const bytes = decodeBase64Url(text.trim());
  if (bytes === null || bytes.length !== PAYLOAD_LENGTH) return null;
  if (((bytes[0]! << 8) | bytes[1]!) !== SAFETY_QR_VERSION) return null;
  return { local: bytes.subarray(2, 2 + FINGERPRINT_LENGTH), remote: bytes.subarray(2 + FINGERPRINT_LENGTH) };
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Compares what the camera read (`scanned`, the QR code's text) with our own payload (`ours`). */
export function compareSafetyQr(ours: string, scanned: string): SafetyScan {
  const mine = parse(ours);
  if (mine === null) throw new RangeError('our own safety-number payload is malformed');
  const theirs = parse(scanned);
  if (theirs === null) return 'not-safety-number';
  if (equal(theirs.local, mine.remote) && equal(theirs.remote, mine.local)) return 'match';
  if (equal(theirs.local, mine.local) && equal(theirs.remote, mine.remote)) return 'own';
  return 'mismatch';
}
