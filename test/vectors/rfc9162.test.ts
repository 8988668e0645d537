/**
 * RFC 9162 Merkle proof test data (test/vectors/rfc9162/, transparency-dev/merkle testdata @ 417fb0c,
 * Apache-2.0, see its LICENSE) run through Parley's verifier in shared/protocol/transparency.ts.
 * Every case file is run; each block pins how many files it found and how many must verify, so a
 * truncated directory or a filter that silently drops cases fails. The happy paths are also rebuilt:
 * the proofs Parley's generator makes for the same sizes from RFC 6962's eight reference leaves
 * must equal the published ones byte for byte.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex } from '../../shared/crypto/index.js';
import { isProtocolError, MemoryMerkleTree, verifyConsistency, verifyInclusion } from '../../shared/protocol/index.js';

const root = new URL('./rfc9162/', import.meta.url);

/** Every *.json below `dir`, with its path relative to test/vectors/rfc9162. */
function caseFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(new URL(rel, root)).sort()) {
      const path = `${rel}${name}`;
      if (statSync(new URL(path, root)).isDirectory()) walk(`${path}/`);
      else if (name.endsWith('.json')) out.push(path);
    }
  };
  walk(`${dir}/`);
  return out;
}

function load<T>(path: string): T {
  return JSON.parse(readFileSync(new URL(path, root), 'utf8')) as T;
}

/** Standard base64 as the testdata writes it (padding and all). */
const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

type InclusionCase = { leafIdx: number; treeSize: number; root: string; leafHash: string; proof: string[] | null; desc: string; wantErr: boolean };
type ConsistencyCase = { size1: number; size2: number; root1: string; root2: string; proof: string[] | null; desc: string; wantErr: boolean };

/** Runs a verifier: true when it accepts, false on KT_PROOF_INVALID; anything else fails the test. */
function accepts(run: () => void): boolean {
  try {
    run();
    return true;
  } catch (e) {
    if (isProtocolError(e, 'KT_PROOF_INVALID')) return false;
    throw e;
  }
}

/** The eight leaves of RFC 6962's reference tree (the tree every happy path is drawn from). */
const REFERENCE_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(fromHex);

function referenceTree(): MemoryMerkleTree {
  const tree = new MemoryMerkleTree();
  for (const leaf of REFERENCE_LEAVES) tree.append(leaf);
  return tree;
}

describe('RFC 9162 test data (transparency-dev/merkle)', () => {
  it('inclusion: all 98 cases — 6 verify, 92 corrupted proofs are refused with KT_PROOF_INVALID', () => {
    const files = caseFiles('inclusion');
    let ran = 0;
    let verified = 0;
    for (const file of files) {
      const c = load<InclusionCase>(file);
      const ok = accepts(() => verifyInclusion(c.leafIdx, c.treeSize, b64(c.leafHash), (c.proof ?? []).map(b64), b64(c.root)));
      expect(ok, `${file}: ${c.desc}`).toBe(!c.wantErr);
      ran++;
      if (ok) verified++;
    }
    expect(ran).toBe(98);
    expect(verified).toBe(6);
  });

  it('consistency: all 98 cases — 6 verify, 92 corrupted proofs are refused with KT_PROOF_INVALID', () => {
    const files = caseFiles('consistency');
    let ran = 0;
    let verified = 0;
    for (const file of files) {
      const c = load<ConsistencyCase>(file);
      const ok = accepts(() => verifyConsistency(c.size1, c.size2, (c.proof ?? []).map(b64), b64(c.root1), b64(c.root2)));
      expect(ok, `${file}: ${c.desc}`).toBe(!c.wantErr);
      ran++;
      if (ok) verified++;
    }
    expect(ran).toBe(98);
    expect(verified).toBe(6);
  });

  it('the generator rebuilds the 5 published inclusion and 5 consistency happy paths of the reference tree byte for byte', () => {
    const tree = referenceTree();
    let rebuilt = 0;
    for (const file of caseFiles('inclusion').filter((f) => /^inclusion\/\d\/happy-path\.json$/.test(f))) {
      const c = load<InclusionCase>(file);
      expect(tree.leafHash(c.leafIdx), file).toEqual(b64(c.leafHash));
      expect(tree.root(c.treeSize), file).toEqual(b64(c.root));
      expect(tree.inclusionProof(c.leafIdx, c.treeSize), file).toEqual((c.proof ?? []).map(b64));
      rebuilt++;
    }
    for (const file of caseFiles('consistency').filter((f) => /^consistency\/\d\/happy-path\.json$/.test(f))) {
      const c = load<ConsistencyCase>(file);
      expect(tree.root(c.size1), file).toEqual(b64(c.root1));
      expect(tree.root(c.size2), file).toEqual(b64(c.root2));
      expect(tree.consistencyProof(c.size1, c.size2), file).toEqual((c.proof ?? []).map(b64));
      rebuilt++;
    }
    expect(rebuilt).toBe(10);
  });
});
