/**
 * Prekey uploads are split into requests of at most MAX_PREKEYS_PER_UPLOAD one-time keys (the relay
 * refuses more), the rotating keys riding in the first; every key appears exactly once.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PREKEYS_PER_UPLOAD } from '../../../shared/wire/limits.js';
import { uploadChunks } from './registration.js';

const rotating = { keyId: 1, publicKey: new Uint8Array(32), privateKey: new Uint8Array(32), signature: new Uint8Array(64), createdAt: 0 };
const kem = (keyId: number) => ({ keyId, publicKey: new Uint8Array(1184), signature: new Uint8Array(64), createdAt: 0, lastResort: false });

describe('uploadChunks', () => {
  it('never puts more than 100 one-time keys in one request and loses none', () => {
    fc.assert(
      fc.property(fc.nat(350), fc.nat(350), fc.boolean(), (x, k, withRotating) => {
        const chunks = uploadChunks({
          signedPrekey: withRotating ? rotating : undefined,
          lastResortKemPrekey: withRotating ? { ...kem(9), lastResort: true, seed: new Uint8Array(64) } : undefined,
          oneTimePrekeys: Array.from({ length: x }, (_, i) => ({ keyId: i + 1, publicKey: new Uint8Array(32) })),
          kemOneTimePrekeys: Array.from({ length: k }, (_, i) => kem(1000 + i)),
        });
        for (const c of chunks) expect((c.upload.oneTimePrekeys?.length ?? 0) + (c.upload.kemOneTimePrekeys?.length ?? 0)).toBeLessThanOrEqual(MAX_PREKEYS_PER_UPLOAD);
        expect(chunks.flatMap((c) => c.ids.oneTimeIds)).toHaveLength(x);
        expect(chunks.flatMap((c) => c.ids.kemIds)).toHaveLength(k);
        expect(chunks.filter((c) => c.upload.signedPrekey).length).toBe(withRotating ? 1 : 0);
        expect(chunks.length).toBe(Math.max(withRotating ? 1 : 0, Math.ceil((x + k) / MAX_PREKEYS_PER_UPLOAD)));
      }),
      { numRuns: 100 },
    );
  });
});
