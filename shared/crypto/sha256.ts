/** SHA-256 and SHA-512 (FIPS 180-4) on node:crypto. */
import { createHash } from 'node:crypto';
import { ownedBytes } from './bytes.js';

export function sha256(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return ownedBytes(h.digest());
}

export function sha512(...parts: readonly Uint8Array[]): Uint8Array {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return ownedBytes(h.digest());
}

/** An incremental SHA-256 over data that arrives in pieces (attachment segments, streamed files). */
export type Sha256Stream = {
  update(bytes: Uint8Array): void;
  /** The digest; the stream cannot be updated afterwards. */
  digest(): Uint8Array;
};

export function sha256Stream(): Sha256Stream {
  const h = createHash('sha256');
  return {
    update: (bytes) => void h.update(bytes),
    digest: () => ownedBytes(h.digest()),
  };
}
