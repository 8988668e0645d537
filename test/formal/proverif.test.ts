/**
 * Runs every ProVerif model in formal/ and checks each query's result against the `expect:` its
 * model states in the comment above it (formal/README.md lists them), then runs deliberately broken
 * variants of the models — one protocol check or transcript field removed — and checks that
 * ProVerif finds the attack each one opens: a query that cannot fail proves nothing.
 *
 * ProVerif is built from the vendored source by scripts/build-proverif.sh into .cache/proverif
 * (gitignored) when it is missing: about ten seconds, once per checkout. Each model runs in under
 * a minute of CPU (figures in formal/README.md); the runs are sequential so the test never takes
 * more than one core. Vitest project `formal` (vitest.config.ts, ADR 0018), kept out of `main`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const formal = path.join(root, 'formal');
/** Generous: a model takes seconds alone, but the CI machine runs other suites beside this one. */
const MODEL_TIMEOUT_MS = 360_000;

type Verdict = 'true' | 'false' | 'cannot be proved';
type Model = { readonly name: string; readonly lib?: string; readonly file: string };

const MODELS: readonly Model[] = [
  { name: 'PQXDH: secrecy, key binding, no downgrade', lib: 'pqxdh.pvl', file: 'pqxdh.pv' },
  { name: 'PQXDH: the initiator authenticates the responder', lib: 'pqxdh.pvl', file: 'pqxdh-auth.pv' },
  { name: 'PQXDH: forward secrecy', lib: 'pqxdh.pvl', file: 'pqxdh-fs.pv' },
  { name: 'PQXDH: X25519 broken, ML-KEM holds', lib: 'pqxdh.pvl', file: 'pqxdh-dh-broken.pv' },
  { name: 'PQXDH: ML-KEM broken, X25519 holds', lib: 'pqxdh.pvl', file: 'pqxdh-kem-broken.pv' },
  { name: 'Double Ratchet: first messages', file: 'ratchet.pv' },
  { name: 'Device linking: secrecy, no key substitution', file: 'linking.pv' },
  { name: 'Sealed sender: secrecy, sender authenticity', lib: 'sealed-sender.pvl', file: 'sealed-sender.pv' },
  { name: 'Sealed sender: sender anonymity toward the relay', lib: 'sealed-sender.pvl', file: 'sealed-sender-anonymity.pv' },
  { name: 'Sender keys: secrecy after removal, authenticity of the sender', file: 'sender-keys.pv' },
];

/**
 * A broken variant: `find` (exactly once in `in`) becomes `replace`, and ProVerif must no longer
 * prove query `refutes`: it answers `false` (an attack with its trace) or `cannot be proved` (it
 * derived the attack but could not rebuild a trace under the models' proof-search hints; the
 * variants that get which answer are listed in formal/README.md).
 */
type Mutant = {
  readonly name: string;
  readonly model: string;
  readonly in: string;
  readonly find: string;
  readonly replace: string;
  readonly refutes: string;
};

const MUTANTS: readonly Mutant[] = [
  {
    name: 'KEM ciphertext removed from the transcript',
    model: 'pqxdh.pv',
    in: 'pqxdh.pvl',
    find: '(g2b(ika), g2b(ikb), g2b(spkb), opkt, pqt, g2b(eka), ctt)',
    replace: '(g2b(ika), g2b(ikb), g2b(spkb), opkt, pqt, g2b(eka))',
    refutes: 'K1',
  },
  {
    name: "initiator does not authenticate the responder's first reply (takes it as it comes)",
    model: 'pqxdh-auth.pv',
    in: 'pqxdh.pvl',
    find: '  let m2 = aead_open(reply_key(sk), c2, ad) in\n',
    replace: '  let m2 = c2 in\n',
    refutes: 'A1',
  },
  {
    name: "initiator takes the mode from the bundle instead of the device entry's pq bit",
    model: 'pqxdh.pv',
    in: 'pqxdh.pvl',
    find: '  if pqb then (',
    replace: '  in(c, bundle_has_kem_prekey: bool);\n  if bundle_has_kem_prekey then (',
    refutes: 'D1',
  },
  {
    name: "the signed prekey's private key kept after rotation and leaking with the identity keys",
    model: 'pqxdh-fs.pv',
    in: 'pqxdh.pvl',
    find: '(phase 1; out(c, (ik, iks)))',
    replace: '(phase 1; out(c, (ik, iks, spkpriv)))',
    refutes: 'FS1',
  },
  {
    name: "initiator skips the KEM prekey's signature check",
    model: 'pqxdh-dh-broken.pv',
    in: 'pqxdh.pvl',
    find: '    if verify(pqsig, (lbl_kem, pqpk, lastresort), iksb) = true then\n',
    replace: '',
    refutes: 'PQ1',
  },
  {
    name: 'SK from the KEM secret alone (DH outputs left out of the ikm)',
    model: 'pqxdh-kem-broken.pv',
    in: 'pqxdh.pvl',
    find: 'hkdf_sk((ff32, dh1, dh2, dh3, dh4, sst), (label, sha256(tr)))',
    replace: 'hkdf_sk((ff32, sst), (label, sha256(tr)))',
    refutes: 'PQ3',
  },
  {
    name: "the last message's receiving chain key kept in the state after use",
    model: 'ratchet.pv',
    in: 'ratchet.pv',
    find: '  out(c, (rk2, ck_next(cks0), ck_next(ckr1), dhsb, spk)).',
    replace: '  out(c, (rk2, ck_next(cks0), ckr1, dhsb, spk)).',
    refutes: 'R2',
  },
  {
    name: 'a public password instead of the link secret or short code',
    model: 'linking.pv',
    in: 'linking.pv',
    find: 'letfun prs(p: pw) = p.',
    replace: 'letfun prs(p: pw) = public_pw.',
    refutes: 'L1',
  },
  {
    name: "the primary signing without waiting for the new device's confirmation",
    model: 'linking.pv',
    in: 'linking.pv',
    find: '  in(c, confirm: bitstring);\n  let tn = aead_open(kp, confirm, ad_confirm) in\n  if tn = hmac(kdf_mn(t, isk, dhv), (lbl_n, t, bound)) then\n',
    replace: '',
    refutes: 'L2',
  },
  {
    name: "the recipient's check that the certificate's key is the sender's static key removed (§21.6 step 6)",
    model: 'sealed-sender.pv',
    in: 'sealed-sender.pvl',
    find: '  if ikc = iks then\n',
    replace: '',
    refutes: 'SS2',
  },
  {
    name: "the recipient's check of the certificate against the signed device list removed (§21.6 step 7)",
    model: 'sealed-sender.pv',
    in: 'sealed-sender.pvl',
    find: '  if iklisted = ikc then\n',
    replace: '',
    refutes: 'SS2',
  },
  {
    name: 'SHA-256 of the shared ciphertext left out of the per-recipient tag',
    model: 'sealed-sender.pv',
    in: 'sealed-sender.pvl',
    find: '(ee, iks, ikr, i, ci, sha256(shared))',
    replace: '(ee, iks, ikr, i, ci)',
    refutes: 'SS2',
  },
  {
    name: 'the wrap key derived without the ephemeral-static DH',
    model: 'sealed-sender.pv',
    in: 'sealed-sender.pvl',
    find: 'letfun wrap_key(dh: G, ee: G, ikr: G) = kdf_wrap(dh, ee, ikr).',
    replace: 'letfun wrap_key(dh: G, ee: G, ikr: G) = kdf_wrap(ee, ee, ikr).',
    refutes: 'SS1',
  },
  {
    name: "the sender's certificate sent beside the upload in the clear",
    model: 'sealed-sender-anonymity.pv',
    in: 'sealed-sender.pvl',
    find: '  out(c, (ee, header(',
    replace: '  out(c, cert);\n  out(c, (ee, header(',
    refutes: 'SA1',
  },
  {
    name: 'no new chain when a member is removed (the old one goes on)',
    model: 'sender-keys.pv',
    in: 'sender-keys.pv',
    find: '  new did2: bitstring; new ck2: key; new ssk2: skey;\n',
    replace: '  let did2 = did1 in let ck2 = ck_next(ck1) in let ssk2 = ssk1 in\n',
    refutes: 'S1',
  },
  {
    name: "a newcomer given the chain's earlier point instead of its current iteration",
    model: 'sender-keys.pv',
    in: 'sender-keys.pv',
    find: 'out(c, aead(kSN, (ad_dist, gid, did2, n1, ck_next(ck2), pk(ssk2)), ad_dist));',
    replace: 'out(c, aead(kSN, (ad_dist, gid, did2, n1, ck2, pk(ssk2)), ad_dist));',
    refutes: 'S1',
  },
  {
    name: "the receiver skipping the chain's signature (a member who holds the chain key forges)",
    model: 'sender-keys.pv',
    in: 'sender-keys.pv',
    find: '  if verify(sig, vk, (ad, ct)) = true then\n',
    replace: '',
    refutes: 'A1',
  },
  {
    name: "a distribution accepted outside the sender's pairwise session",
    model: 'sender-keys.pv',
    in: 'sender-keys.pv',
    find: '= aead_open(kSR, d, ad_dist) in',
    replace: '= d in',
    refutes: 'A1',
  },
];

type Expectation = { readonly id: string; readonly expect: Verdict };

/**
 * Each `query` of a model with the id and `expect:` of the nearest comment above it. A model whose
 * process holds `choice[…]` is an equivalence: its one "query" is the `process` itself.
 */
function expectations(source: string): Expectation[] {
  const out: Expectation[] = [];
  let current: Expectation | undefined;
  const token = source.includes('choice[')
    ? /\(\*\s*([A-Z]+\d+)\s*\(expect: (true|false)\)|^process\b/gm
    : /\(\*\s*([A-Z]+\d+)\s*\(expect: (true|false)\)|^query\b/gm;
  for (const m of source.matchAll(token)) {
    if (m[1] !== undefined) current = { id: m[1], expect: m[2] as Verdict };
    else {
      if (current === undefined) throw new Error('a query without an (expect: …) comment above it');
      out.push(current);
    }
  }
  return out;
}

/** The model with every query but those of `id` removed (a broken variant is run for its query only). */
function onlyQuery(source: string, id: string): string {
  let current: string | undefined;
  let out = '';
  let last = 0;
  const token = /\(\*\s*([A-Z]+\d+)\s*\(expect: (?:true|false)\)|^query\b[\s\S]*?\.$/gm;
  for (const m of source.matchAll(token)) {
    if (m[1] !== undefined) current = m[1];
    else if (current !== id) {
      out += source.slice(last, m.index);
      last = m.index + m[0].length;
    }
  }
  return out + source.slice(last);
}

/**
 * The verdicts ProVerif printed, in query order. An equivalence it cannot prove directly is tried
 * again on a simplified process, one RESULT line per try: the last one is its verdict.
 */
function verdicts(stdout: string): Verdict[] {
  const lines = [...stdout.matchAll(/^RESULT (.*) (is true|is false|cannot be proved)\.$/gm)];
  const equivalence = lines.filter((m) => m[1] === 'Observational equivalence');
  const kept = equivalence.length > 0 ? [equivalence.at(-1)!] : lines;
  return kept.map((m) => m[2]!.replace(/^is /, '') as Verdict);
}

let proverif = '';
let scratch = '';

beforeAll(() => {
  proverif = execFileSync('bash', [path.join(root, 'scripts/build-proverif.sh')], { encoding: 'utf8' }).trim();
  scratch = mkdtempSync(path.join(tmpdir(), 'parley-formal-'));
}, MODEL_TIMEOUT_MS);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs one model (from `dir`) and pairs every query's expectation with ProVerif's verdict. */
async function check(model: Model, dir = formal): Promise<{ id: string; expect: Verdict; got: Verdict | undefined }[]> {
  const args = model.lib ? ['-lib', path.join(dir, model.lib), path.join(dir, model.file)] : [path.join(dir, model.file)];
  const { stdout } = await run(proverif, args, { maxBuffer: 512 * 1024 * 1024, timeout: MODEL_TIMEOUT_MS });
  const wanted = expectations(readFileSync(path.join(dir, model.file), 'utf8'));
  const got = verdicts(stdout);
  expect(got.length, `${model.file}: one RESULT per query`).toBe(wanted.length);
  return wanted.map((w, i) => ({ ...w, got: got[i] }));
}

describe('ProVerif models of the protocols (formal/)', () => {
  for (const model of MODELS) {
    it(`${model.file} (${model.name}): every query has the result its model states`, async () => {
      const results = await check(model);
      expect(results.length).toBeGreaterThan(0);
      expect(results.map((r) => `${r.id}: ${r.got}`)).toEqual(results.map((r) => `${r.id}: ${r.expect}`));
    }, MODEL_TIMEOUT_MS);
  }
});

describe('broken variants of the models: ProVerif finds each attack', () => {
  for (const mutant of MUTANTS) {
    it(`${mutant.model} with ${mutant.name}: query ${mutant.refutes} is no longer proved`, async () => {
      const model = MODELS.find((m) => m.file === mutant.model)!;
      const dir = mkdtempSync(path.join(scratch, 'mutant-'));
      if (model.lib !== undefined) writeFileSync(path.join(dir, model.lib), readFileSync(path.join(formal, model.lib)));
      writeFileSync(path.join(dir, model.file), onlyQuery(readFileSync(path.join(formal, model.file), 'utf8'), mutant.refutes));
      const target = path.join(dir, mutant.in);
      const source = readFileSync(target, 'utf8');
      // The mutation must still apply: if the model changed under it, this says so instead of
      // silently running the unbroken model.
      expect(source.split(mutant.find).length - 1, `"${mutant.find.trim()}" occurs once in ${mutant.in}`).toBe(1);
      writeFileSync(target, source.replace(mutant.find, mutant.replace));
      const results = await check(model, dir);
      expect(results.length, `query ${mutant.refutes} is in ${mutant.model}`).toBeGreaterThan(0);
      for (const r of results) {
        expect(r.id).toBe(mutant.refutes);
        expect(r.expect, `${mutant.refutes} holds on the unbroken model`).toBe('true');
      }
      expect(results.map((r) => r.got)).toContainEqual(expect.stringMatching(/^(false|cannot be proved)$/));
    }, MODEL_TIMEOUT_MS);
  }
});
