/**
 * CPace against the draft's own vectors (draft-irtf-cfrg-cpace-21 appendix A and B.3,
 * test/vectors/cpace/) and the properties the draft requires of an implementation (§9): both
 * sides agree exactly when PRS, CI, sid and both ADs match, and a share that is the identity or not
 * a group element aborts.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../crypto/bytes.js';
import { deterministicRng } from '../testing/deterministic-rng.js';
import {
  calculateGenerator,
  CPACE_DSI,
  cpaceFinish,
  cpaceIsk,
  cpaceStart,
  generatorString,
  lvCat,
  prependLen,
  sampleScalar,
  scalarMult,
  scalarMultVfy,
  transcriptIr,
  type CPaceInputs,
} from './cpace.js';
import { isProtocolError } from './errors.js';

type DraftVectors = {
  prependLen: ({ input: string; output: string } | { inputRange: number; outputPrefix: string; outputLength: number })[];
  lvCat: { inputs: string[]; output: string };
  transcriptIr: { ya: string; adA: string; yb: string; adB: string; output: string }[];
  ristretto255: {
    [k in 'prs' | 'dsi' | 'ci' | 'sid' | 'generatorString' | 'g' | 'adA' | 'ya' | 'Ya' | 'adB' | 'yb' | 'Yb' | 'K' | 'transcriptIr' | 'iskIr']: string;
  } & {
    zpadLength: number;
    scalarMultValid: { s: string; X: string; result: string };
    scalarMultVfyInvalid: { s: string; points: string[] };
  };
};

const draft = JSON.parse(
  readFileSync(new URL('../../test/vectors/cpace/draft-irtf-cfrg-cpace-21-ristretto255.json', import.meta.url), 'utf8'),
) as DraftVectors;
const v = draft.ristretto255;

/** An Rng that returns the given bytes once (the draft's fixed scalars). */
function fixed(bytes: Uint8Array): (n: number) => Uint8Array {
  let used = false;
  return (n) => {
    if (used || n !== bytes.length) throw new Error('fixed rng: unexpected draw');
    used = true;
    return bytes.slice();
  };
}

describe('CPace string utilities (draft appendix A)', () => {
  it('prepend_len, lv_cat and transcript_ir reproduce the draft vectors', () => {
    let n = 0;
    for (const c of draft.prependLen) {
      if ('input' in c) expect(toHex(prependLen(fromHex(c.input)))).toBe(c.output);
      else {
        const out = prependLen(Uint8Array.from({ length: c.inputRange }, (_, i) => i));
        expect(out.length).toBe(c.outputLength);
        expect(toHex(out).startsWith(c.outputPrefix)).toBe(true);
      }
      n++;
    }
    expect(toHex(lvCat(...draft.lvCat.inputs.map(fromHex)))).toBe(draft.lvCat.output);
    for (const c of draft.transcriptIr) {
      expect(toHex(transcriptIr(fromHex(c.ya), fromHex(c.adA), fromHex(c.yb), fromHex(c.adB)))).toBe(c.output);
      n++;
    }
    expect(n).toBe(6);
  });

  it('prepend_len uses a two-byte LEB128 length from 128 bytes and three from 16,384', () => {
    expect(toHex(prependLen(new Uint8Array(300)).subarray(0, 2))).toBe('ac02');
    expect(toHex(prependLen(new Uint8Array(16_384)).subarray(0, 3))).toBe('808001');
  });
});

describe('CPace on ristretto255/SHA-512 (draft appendix B.3)', () => {
  const prs = fromHex(v.prs);
  const ci = fromHex(v.ci);
  const sid = fromHex(v.sid);

  it('the generator string, its zero padding and the generator g match the draft', () => {
    expect(toHex(CPACE_DSI)).toBe(v.dsi);
    const gs = generatorString(CPACE_DSI, prs, ci, sid);
    expect(toHex(gs)).toBe(v.generatorString);
    expect(gs.length - (1 + 17) - (1 + 8) - 1 - (1 + 24) - (1 + 16)).toBe(v.zpadLength);
    expect(toHex(calculateGenerator(prs, ci, sid))).toBe(v.g);
  });

  it('both shares, K and the initiator-responder ISK match the draft, on both sides', () => {
    const a = cpaceStart('initiator', { prs, ci, sid, ad: fromHex(v.adA) }, { rng: fixed(fromHex(v.ya)) });
    const b = cpaceStart('responder', { prs, ci, sid, ad: fromHex(v.adB) }, { rng: fixed(fromHex(v.yb)) });
    expect(toHex(a.share)).toBe(v.Ya);
    expect(toHex(b.share)).toBe(v.Yb);
    expect(toHex(scalarMultVfy(fromHex(v.ya), fromHex(v.Yb)))).toBe(v.K);
    expect(toHex(scalarMultVfy(fromHex(v.yb), fromHex(v.Ya)))).toBe(v.K);
    const transcript = transcriptIr(a.share, fromHex(v.adA), b.share, fromHex(v.adB));
    expect(toHex(transcript)).toBe(v.transcriptIr);
    expect(toHex(cpaceIsk(sid, fromHex(v.K), transcript))).toBe(v.iskIr);
    expect(toHex(cpaceFinish(a.state, { share: b.share, ad: fromHex(v.adB) }))).toBe(v.iskIr);
    expect(toHex(cpaceFinish(b.state, { share: a.share, ad: fromHex(v.adA) }))).toBe(v.iskIr);
  });

  it('scalar_mult on a valid input matches B.3.10, and scalar_mult_vfy returns G.I for both invalid inputs of B.3.11', () => {
    const { s, X, result } = v.scalarMultValid;
    expect(toHex(scalarMult(fromHex(s), fromHex(X)))).toBe(result);
    expect(toHex(scalarMultVfy(fromHex(s), fromHex(X)))).toBe(result);
    for (const p of v.scalarMultVfyInvalid.points) {
      expect(toHex(scalarMultVfy(fromHex(v.scalarMultVfyInvalid.s), fromHex(p)))).toBe('00'.repeat(32));
    }
    expect(v.scalarMultVfyInvalid.points).toHaveLength(2);
  });
});

describe('CPace protocol properties', () => {
  const base = (rngSeed: string): { inputs: (ad: string) => CPaceInputs; rng: ReturnType<typeof deterministicRng> } => ({
    inputs: (ad) => ({ prs: utf8('12345678'), ci: utf8('channel'), sid: new Uint8Array(16).fill(7), ad: utf8(ad) }),
    rng: deterministicRng(rngSeed),
  });

  it('a peer share that is the identity or not a group element aborts with INVALID_KEY (draft §9)', () => {
    const invalid = [
      ...v.scalarMultVfyInvalid.points.map(fromHex),
      new Uint8Array(32).fill(0xff), // not canonical
      new Uint8Array(31), // wrong length
      fromHex('01' + '00'.repeat(31)), // odd (negative) field element: not a valid encoding
    ];
    for (const share of invalid) {
      const { rng, inputs } = base('cpace identity');
      const { state } = cpaceStart('initiator', inputs('a'), { rng });
      let caught: unknown;
      try {
        cpaceFinish(state, { share, ad: utf8('b') });
      } catch (e) {
        caught = e;
      }
      expect(isProtocolError(caught, 'INVALID_KEY'), toHex(share)).toBe(true);
      // The state is used once: its scalar is wiped.
      expect(state.scalar.every((b) => b === 0)).toBe(true);
    }
  });

  it('both sides derive the same ISK exactly when PRS, CI, sid and both ADs match', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.string(),
          which: fc.constantFrom('none', 'prs', 'ci', 'sid', 'adA', 'adB'),
        }),
        ({ seed, which }) => {
          const rng = deterministicRng(`cpace prop ${seed}`);
          const a0 = { prs: utf8('04711337'), ci: utf8('ci'), sid: new Uint8Array(16).fill(1), ad: utf8('A') };
          const b0 = { prs: utf8('04711337'), ci: utf8('ci'), sid: new Uint8Array(16).fill(1), ad: utf8('B') };
          const b = { ...b0 };
          if (which === 'prs') b.prs = utf8('04711338');
          if (which === 'ci') b.ci = utf8('cj');
          if (which === 'sid') b.sid = new Uint8Array(16).fill(2);
          const A = cpaceStart('initiator', a0, { rng });
          const B = cpaceStart('responder', b, { rng });
          // The AD each side *receives* may be changed in transit (adA / adB).
          const adAtB = which === 'adA' ? utf8('A!') : a0.ad;
          const adBtA = which === 'adB' ? utf8('B!') : b.ad;
          const iskA = cpaceFinish(A.state, { share: B.share, ad: adBtA });
          const iskB = cpaceFinish(B.state, { share: A.share, ad: adAtB });
          expect(toHex(iskA) === toHex(iskB)).toBe(which === 'none');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('sampled scalars are below 2^252 and never zero', () => {
    const rng = deterministicRng('cpace scalars');
    for (let i = 0; i < 200; i++) {
      const y = sampleScalar(rng);
      expect(y[31]! & 0xf0).toBe(0);
      expect(y.some((b) => b !== 0)).toBe(true);
    }
    // An all-zero draw is drawn again.
    const draws = [new Uint8Array(32), fromHex('01' + '00'.repeat(31))];
    expect(toHex(sampleScalar(() => draws.shift()!))).toBe('01' + '00'.repeat(31));
  });
});
