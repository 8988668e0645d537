/**
 * The renderer's safety-number QR comparison (renderer/src/lib/format/safety-qr.ts, which may not
 * import shared/protocol) against the protocol's own compareQrPayload, over payloads made by the
 * protocol's safetyNumber from random account keys: both say "match" for exactly the same scans.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../../shared/crypto/bytes.js';
import { compareQrPayload, safetyNumber, type SafetyParty } from '../../shared/protocol/safety-number.js';
import { compareSafetyQr } from '../../renderer/src/lib/format/safety-qr.js';

const party = fc.record({ accountId: fc.uint8Array({ minLength: 16, maxLength: 16 }), accountKey: fc.uint8Array({ minLength: 32, maxLength: 32 }) });

describe('safety-number QR comparison: renderer and protocol agree', () => {
  it('match exactly when the protocol says match; a third party or one’s own code never matches', () => {
    fc.assert(
      fc.property(party, party, party, (a: SafetyParty, b: SafetyParty, c: SafetyParty) => {
        const aliceView = safetyNumber(a, b);
        const bobView = safetyNumber(b, a);
        const carolView = safetyNumber(c, a);
        for (const scanned of [bobView, carolView, aliceView]) {
          const protocol = compareQrPayload(aliceView, scanned.qrPayload);
          const renderer = compareSafetyQr(toBase64Url(aliceView.qrPayload), toBase64Url(scanned.qrPayload));
          expect(renderer === 'match').toBe(protocol === 'match');
        }
        expect(compareSafetyQr(toBase64Url(aliceView.qrPayload), toBase64Url(bobView.qrPayload))).toBe('match');
        expect(compareSafetyQr(toBase64Url(aliceView.qrPayload), toBase64Url(aliceView.qrPayload))).toBe('own');
      }),
      { numRuns: 12 },
    );
  });
});
