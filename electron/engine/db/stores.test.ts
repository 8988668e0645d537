import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../../shared/crypto/bytes.js';
import { MAX_SKIPPED_KEYS_PER_SESSION } from '../../../shared/protocol/constants.js';
import type { SkippedKey } from '../../../shared/protocol/double-ratchet.js';
import type { KemPrekeyPrivate, OneTimePrekeyPrivate, SignedPrekeyPrivate } from '../../../shared/protocol/prekeys.js';
import type { PrekeyChanges } from '../../../shared/protocol/session.js';
import { InMemoryPrekeyStore, InMemorySkippedKeyStore } from '../../../shared/testing/protocol-fixtures.js';
import type { EngineDatabase } from './database.js';
import {
  applyPrekeyChanges,
  dropSignedPrekey,
  insertKemPrekey,
  insertOneTimePrekeys,
  insertSignedPrekey,
  SqlitePrekeyStore,
} from './prekeys.js';
import { applySkippedKeyChanges, countSkippedKeys, dropSkippedKeys, expireSkippedKeys, skippedKeyReader } from './skipped-keys.js';
import { sql } from './sql.js';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';

let temp: TemporaryDatabase;
let db: EngineDatabase;
beforeAll(() => {
  temp = temporaryDatabase('parley-stores-');
  db = temp.db;
});
afterAll(() => temp.dispose());

/** Runs `fn` against an empty store, then throws the changes away (one database for every run). */
function withCleanStores<T>(fn: () => T): T {
  let result!: T;
  const rollback = new Error('rollback');
  try {
    db.writer.transaction(() => {
      result = fn();
      throw rollback;
    });
  } catch (e) {
    if (e !== rollback) throw e;
  }
  return result;
}

const bytesFrom = (label: string, n: number, length: number) => {
  const out = new Uint8Array(length);
  let block = 0;
  for (let o = 0; o < length; o += 32) {
    out.set(createHash('sha256').update(`${label}:${n}:${block++}`).digest().subarray(0, Math.min(32, length - o)), o);
  }
  return out;
};

// ── Skipped keys ────────────────────────────────────────────────────────────

const SESSIONS = [0, 1, 2].map((i) => bytesFrom('session', i, 16));
const RATCHET_KEYS = [0, 1, 2].map((i) => bytesFrom('ratchet', i, 32));
const PEER = bytesFrom('peer', 0, 16);

type SkippedOp =
  | { t: 'apply'; session: number; removed: { ratchet: number; counter: number } | null; ratchet: number; start: number; count: number }
  | { t: 'drop'; session: number };

const skippedOp: fc.Arbitrary<SkippedOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant('apply' as const),
      session: fc.nat(2),
      removed: fc.option(fc.record({ ratchet: fc.nat(2), counter: fc.nat(3000) }), { nil: null }),
      ratchet: fc.nat(2),
      start: fc.nat(3000),
      count: fc.oneof(fc.nat(20), fc.integer({ min: 500, max: 1200 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), session: fc.nat(2) }) },
);

function sqliteSkippedSnapshot(): string {
  const rows = db.writer.all<{ session_id: Uint8Array; ratchet_key: Uint8Array; counter: number; seed: Uint8Array }>(
    sql`SELECT session_id, ratchet_key, counter, seed FROM skipped_keys ORDER BY id`,
  );
  const bySession = new Map<string, string[]>();
  for (const r of rows) {
    const s = toHex(r.session_id);
    bySession.set(s, [...(bySession.get(s) ?? []), `${toHex(r.ratchet_key)}:${r.counter}/${toHex(r.seed)}`]);
  }
  return [...bySession.entries()].map(([s, e]) => `${s}=${e.join(',')}`).sort().join(';');
}

/** The in-memory snapshot without sessions that hold no keys (SQLite has no row for those). */
function memorySkippedSnapshot(m: InMemorySkippedKeyStore): string {
  return m.snapshot().split(';').filter((e) => e !== '' && !e.endsWith('=')).join(';');
}

describe('SQLite skipped-key store', () => {
  it('behaves like the in-memory store under the same operations (gets, counts, eviction order)', () => {
    fc.assert(
      fc.property(fc.array(skippedOp, { minLength: 1, maxLength: 10 }), (ops) =>
        withCleanStores(() => {
          const memory = new InMemorySkippedKeyStore();
          let seedCounter = 0;
          for (const op of ops) {
            const session = SESSIONS[op.session]!;
            if (op.t === 'drop') {
              memory.drop(session);
              dropSkippedKeys(db.writer, session);
            } else {
              const added: SkippedKey[] = [];
              for (let c = op.start; c < op.start + op.count; c++) {
                added.push({ ratchetKey: RATCHET_KEYS[op.ratchet]!, counter: c, seed: bytesFrom('seed', seedCounter++, 32) });
              }
              const changes = {
                added,
                removed: op.removed ? { ratchetKey: RATCHET_KEYS[op.removed.ratchet]!, counter: op.removed.counter } : undefined,
              };
              memory.apply(session, changes);
              applySkippedKeyChanges(db.writer, session, PEER, changes, 0);
            }
            for (const s of SESSIONS) {
              expect(countSkippedKeys(db.writer, s)).toBe(memory.count(s));
              expect(countSkippedKeys(db.writer, s)).toBeLessThanOrEqual(MAX_SKIPPED_KEYS_PER_SESSION);
              for (const rk of RATCHET_KEYS) {
                for (const counter of [op.t === 'apply' ? op.start : 0, 0, 1500, 2999]) {
                  const a = memory.reader(s).get(rk, counter);
                  const b = skippedKeyReader(db.writer, s).get(rk, counter);
                  expect(b && toHex(b)).toBe(a && toHex(a));
                }
              }
            }
          }
          expect(sqliteSkippedSnapshot()).toBe(memorySkippedSnapshot(memory));
        }),
      ),
      { numRuns: 25 },
    );
  });

  it('keeps the newest 2,000 keys of a session when 2,500 arrive', () => {
    withCleanStores(() => {
      const added = Array.from({ length: 2500 }, (_, c) => ({ ratchetKey: RATCHET_KEYS[0]!, counter: c, seed: bytesFrom('s', c, 32) }));
      applySkippedKeyChanges(db.writer, SESSIONS[0]!, PEER, { added }, 0);
      expect(countSkippedKeys(db.writer, SESSIONS[0]!)).toBe(MAX_SKIPPED_KEYS_PER_SESSION);
      expect(skippedKeyReader(db.writer, SESSIONS[0]!).get(RATCHET_KEYS[0]!, 499)).toBeUndefined();
      expect(skippedKeyReader(db.writer, SESSIONS[0]!).get(RATCHET_KEYS[0]!, 500)).toEqual(bytesFrom('s', 500, 32));
    });
  });

  it('expires keys older than the TTL and keeps younger ones', () => {
    withCleanStores(() => {
      const key = (c: number) => ({ ratchetKey: RATCHET_KEYS[0]!, counter: c, seed: bytesFrom('t', c, 32) });
      applySkippedKeyChanges(db.writer, SESSIONS[0]!, PEER, { added: [key(1)] }, 1_000);
      applySkippedKeyChanges(db.writer, SESSIONS[0]!, PEER, { added: [key(2)] }, 5_000);
      expect(expireSkippedKeys(db.writer, 10_000, 6_000)).toBe(1);
      expect(skippedKeyReader(db.writer, SESSIONS[0]!).get(RATCHET_KEYS[0]!, 1)).toBeUndefined();
      expect(skippedKeyReader(db.writer, SESSIONS[0]!).get(RATCHET_KEYS[0]!, 2)).toBeDefined();
    });
  });
});

// ── Prekeys ─────────────────────────────────────────────────────────────────

const HASHES = [0, 1, 2, 3].map((i) => bytesFrom('hash', i, 32));

type PrekeyOp =
  | { t: 'signed'; id: number }
  | { t: 'oneTime'; first: number; count: number }
  | { t: 'kem'; id: number; lastResort: boolean }
  | { t: 'apply'; oneTime: number | null; kem: number | null; seen: { spk: number; hash: number } | null }
  | { t: 'dropSigned'; id: number };

const prekeyOp: fc.Arbitrary<PrekeyOp> = fc.oneof(
  fc.record({ t: fc.constant('signed' as const), id: fc.nat(5) }),
  fc.record({ t: fc.constant('oneTime' as const), first: fc.nat(30), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ t: fc.constant('kem' as const), id: fc.nat(10), lastResort: fc.boolean() }),
  fc.record({
    t: fc.constant('apply' as const),
    oneTime: fc.option(fc.nat(40), { nil: null }),
    kem: fc.option(fc.nat(10), { nil: null }),
    seen: fc.option(fc.record({ spk: fc.nat(5), hash: fc.nat(3) }), { nil: null }),
  }),
  fc.record({ t: fc.constant('dropSigned' as const), id: fc.nat(5) }),
);

const signedKey = (id: number): SignedPrekeyPrivate => ({
  keyId: id,
  publicKey: bytesFrom('spk-pub', id, 32),
  privateKey: bytesFrom('spk-priv', id, 32),
  createdAt: id,
  signature: bytesFrom('spk-sig', id, 64),
});
const oneTimeKey = (id: number): OneTimePrekeyPrivate => ({ keyId: id, publicKey: bytesFrom('otk-pub', id, 32), privateKey: bytesFrom('otk-priv', id, 32) });
const kemKey = (id: number, lastResort: boolean): KemPrekeyPrivate => ({
  keyId: id,
  publicKey: bytesFrom('kem-pub', id, 1184),
  seed: bytesFrom('kem-seed', id, 64),
  createdAt: id,
  lastResort,
  signature: bytesFrom('kem-sig', id, 64),
});

function sqlitePrekeySnapshot(): string {
  const ids = (q: ReturnType<typeof sql>) => db.writer.all<{ key_id: number }>(q).map((r) => r.key_id).join(',');
  const seen = new Map<number, string[]>();
  for (const r of db.writer.all<{ signed_prekey_id: number; hash: Uint8Array }>(sql`SELECT * FROM base_keys_seen`)) {
    seen.set(r.signed_prekey_id, [...(seen.get(r.signed_prekey_id) ?? []), toHex(r.hash)]);
  }
  const seenText = [...seen.entries()].map(([k, v]) => `${k}:${v.sort().join('.')}`).sort().join(';');
  return `${ids(sql`SELECT key_id FROM signed_prekeys ORDER BY key_id`)}|${ids(sql`SELECT key_id FROM one_time_prekeys ORDER BY key_id`)}|${ids(sql`SELECT key_id FROM kem_prekeys ORDER BY key_id`)}|${seenText}`;
}

describe('SQLite prekey store', () => {
  it('behaves like the in-memory store under the operations session.ts and the lifecycle perform', () => {
    fc.assert(
      fc.property(fc.array(prekeyOp, { minLength: 1, maxLength: 25 }), (ops) =>
        withCleanStores(() => {
          const memory = new InMemoryPrekeyStore();
          const sqlite = new SqlitePrekeyStore(db.writer);
          // Key ids are never reused (the engine allocates them from counters): a used id is skipped.
          const used = { signed: new Set<number>(), oneTime: new Set<number>(), kem: new Set<number>() };
          for (const op of ops) {
            switch (op.t) {
              case 'signed':
                if (used.signed.has(op.id)) break;
                used.signed.add(op.id);
                memory.addSignedPrekey(signedKey(op.id));
                insertSignedPrekey(db.writer, signedKey(op.id));
                break;
              case 'oneTime': {
                const keys = Array.from({ length: op.count }, (_, i) => op.first + i).filter((id) => !used.oneTime.has(id)).map(oneTimeKey);
                for (const k of keys) used.oneTime.add(k.keyId);
                memory.addOneTimePrekeys(keys);
                insertOneTimePrekeys(db.writer, keys, 0);
                break;
              }
              case 'kem':
                if (used.kem.has(op.id)) break;
                used.kem.add(op.id);
                memory.addKemPrekey(kemKey(op.id, op.lastResort));
                insertKemPrekey(db.writer, kemKey(op.id, op.lastResort));
                break;
              case 'apply': {
                // As session.ts builds them: a consumed KEM key is never a last-resort one, and a
                // base key is recorded under a signed prekey that exists (it was just used).
                const changes: PrekeyChanges = {
                  consumedOneTimePrekeyId: op.oneTime ?? undefined,
                  consumedKemPrekeyId: op.kem !== null && !memory.kem.get(op.kem)?.lastResort ? op.kem : undefined,
                  seenBaseKey: op.seen && memory.signed.has(op.seen.spk) ? { signedPrekeyId: op.seen.spk, hash: HASHES[op.seen.hash]! } : undefined,
                };
                memory.apply(changes);
                applyPrekeyChanges(db.writer, changes);
                break;
              }
              case 'dropSigned':
                memory.dropSignedPrekey(op.id);
                dropSignedPrekey(db.writer, op.id);
                break;
            }
            for (let id = 0; id <= 40; id++) {
              const hex = (k: { publicKey: Uint8Array; privateKey?: Uint8Array; seed?: Uint8Array } | undefined) =>
                k && `${toHex(k.publicKey)}/${toHex(k.privateKey ?? k.seed!)}`;
              expect(hex(sqlite.signedPrekey(id))).toBe(hex(memory.signedPrekey(id)));
              expect(hex(sqlite.oneTimePrekey(id))).toBe(hex(memory.oneTimePrekey(id)));
              expect(hex(sqlite.kemPrekey(id))).toBe(hex(memory.kemPrekey(id)));
              expect(sqlite.kemPrekey(id)?.lastResort).toBe(memory.kemPrekey(id)?.lastResort);
            }
            for (let spk = 0; spk <= 5; spk++) {
              for (const h of HASHES) expect(sqlite.isBaseKeySeen(spk, h)).toBe(memory.isBaseKeySeen(spk, h));
            }
          }
          expect(sqlitePrekeySnapshot()).toBe(memory.snapshot());
        }),
      ),
      { numRuns: 60 },
    );
  });

  it('never consumes a last-resort KEM prekey', () => {
    withCleanStores(() => {
      insertKemPrekey(db.writer, kemKey(1, true));
      applyPrekeyChanges(db.writer, { consumedKemPrekeyId: 1 });
      expect(new SqlitePrekeyStore(db.writer).kemPrekey(1)?.lastResort).toBe(true);
    });
  });

  it('erasing a signed prekey erases its base-key seen set with it', () => {
    withCleanStores(() => {
      insertSignedPrekey(db.writer, signedKey(3));
      applyPrekeyChanges(db.writer, { seenBaseKey: { signedPrekeyId: 3, hash: HASHES[0]! } });
      const store = new SqlitePrekeyStore(db.writer);
      expect(store.isBaseKeySeen(3, HASHES[0]!)).toBe(true);
      dropSignedPrekey(db.writer, 3);
      expect(store.isBaseKeySeen(3, HASHES[0]!)).toBe(false);
      expect(db.writer.all(sql`SELECT * FROM base_keys_seen`)).toEqual([]);
    });
  });
});
