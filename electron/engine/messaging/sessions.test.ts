import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { fromUtf8, toHex, utf8 } from '../../../shared/crypto/bytes.js';
import { MAX_FORWARD_JUMP } from '../../../shared/protocol/constants.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { encodeRatchetHeader, parsePrekeyMessage, parseRatchetMessage, encodePrekeyHeader } from '../../../shared/protocol/messages.js';
import { FailureBudgets } from '../../../shared/protocol/session.js';
import { deterministicRng, ManualClock } from '../../../shared/testing/deterministic-rng.js';
import { localDevice, makeDevice, Party, peerDevice, type TestDevice } from '../../../shared/testing/protocol-fixtures.js';
import type { EngineDatabase } from '../db/database.js';
import { recordReceived } from '../db/inbound.js';
import { countOutbox, enqueueSend } from '../db/outbox.js';
import { insertKemPrekey, insertOneTimePrekeys, insertSignedPrekey } from '../db/prekeys.js';
import { sql } from '../db/sql.js';
import { Sessions } from './sessions.js';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';

const T0 = Date.UTC(2026, 10, 1);
const temps: TemporaryDatabase[] = [];
afterEach(() => {
  for (const temp of temps.splice(0)) temp.dispose();
});

function freshDb(): EngineDatabase {
  const temp = temporaryDatabase('parley-sessions-');
  temps.push(temp);
  const db = temp.db;
  return db;
}

/** Copies a fixture device's prekeys into SQLite: the same keys, now behind the SQLite adapters. */
function importPrekeys(db: EngineDatabase, dev: TestDevice): void {
  db.writer.transaction(() => {
    for (const p of dev.prekeys.signed.values()) insertSignedPrekey(db.writer, p);
    insertOneTimePrekeys(db.writer, [...dev.prekeys.oneTime.values()], T0);
    for (const k of dev.prekeys.kem.values()) insertKemPrekey(db.writer, k);
  });
}

/** Every row of every table, canonical: the "byte-identical stores" check. */
function dumpAll(db: EngineDatabase): string {
  // Virtual (FTS5) tables cannot be scanned; their shadow tables are regular tables and are dumped.
  const tables = db.writer.all<{ name: string }>(
    sql`SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name`,
  );
  const hex = (v: unknown) => (v instanceof Uint8Array ? toHex(v) : String(v));
  return tables
    .map(({ name }) => {
      // Table names come from sqlite_schema, not from input; the test reads them one by one.
      const rows = db.writer.all<Record<string, unknown>>({ ...sql`SELECT 1`, text: `SELECT * FROM "${name}"` });
      return `${name}:${rows.map((r) => Object.values(r).map(hex).join('|')).sort().join(';')}`;
    })
    .join('\n');
}

/** Bob as the engine runs him: SQLite stores behind Sessions, same interface as the fixture Party. */
class SqliteParty {
  readonly sessions: Sessions;
  constructor(
    readonly db: EngineDatabase,
    readonly device: TestDevice,
    rng: ReturnType<typeof deterministicRng>,
    now: () => number,
  ) {
    importPrekeys(db, device);
    this.sessions = new Sessions(db.writer, localDevice(device), { rng, now, budgets: new FailureBudgets() });
  }
  encrypt(peer: TestDevice, plaintext: Uint8Array): Uint8Array {
    return this.sessions.encryptForDevices([peerDevice(peer)], plaintext, (_db, m) => m[0]!.message.bytes);
  }
  decrypt(peer: TestDevice, bytes: Uint8Array) {
    return this.sessions.decrypt(peerDevice(peer), bytes, () => null).result;
  }
  snapshot(): string {
    const records = this.db.writer
      .all<{ peer_account_id: Uint8Array; peer_device_id: number; peer_identity_key: Uint8Array; record: Uint8Array }>(sql`SELECT * FROM sessions`)
      .map((r) => `${toHex(r.peer_account_id)}:${r.peer_device_id}:${toHex(r.peer_identity_key)}=${toHex(r.record)}`)
      .sort()
      .join(';');
    const bySession = new Map<string, string[]>();
    for (const r of this.db.writer.all<{ session_id: Uint8Array; ratchet_key: Uint8Array; counter: number; seed: Uint8Array }>(
      sql`SELECT * FROM skipped_keys ORDER BY id`,
    )) {
      const s = toHex(r.session_id);
      bySession.set(s, [...(bySession.get(s) ?? []), `${toHex(r.ratchet_key)}:${r.counter}/${toHex(r.seed)}`]);
    }
    const skipped = [...bySession.entries()].map(([s, e]) => `${s}=${e.join(',')}`).sort().join(';');
    const ids = (q: ReturnType<typeof sql>) => this.db.writer.all<{ key_id: number }>(q).map((r) => r.key_id).join(',');
    const seen = new Map<number, string[]>();
    for (const r of this.db.writer.all<{ signed_prekey_id: number; hash: Uint8Array }>(sql`SELECT * FROM base_keys_seen`)) {
      seen.set(r.signed_prekey_id, [...(seen.get(r.signed_prekey_id) ?? []), toHex(r.hash)]);
    }
    const prekeys = `${ids(sql`SELECT key_id FROM signed_prekeys ORDER BY key_id`)}|${ids(sql`SELECT key_id FROM one_time_prekeys ORDER BY key_id`)}|${ids(
      sql`SELECT key_id FROM kem_prekeys ORDER BY key_id`,
    )}|${[...seen.entries()].map(([k, v]) => `${k}:${v.sort().join('.')}`).sort().join(';')}`;
    return `${records}#${skipped}#${prekeys}`;
  }
}

function memorySnapshot(p: Party): string {
  const [records, skipped, prekeys] = p.snapshot().split('#');
  const nonEmpty = skipped!.split(';').filter((e) => e !== '' && !e.endsWith('=')).join(';');
  return `${records}#${nonEmpty}#${prekeys}`;
}

type Step =
  | { t: 'aliceSends' }
  | { t: 'bobSends' }
  | { t: 'toBob'; i: number; mode: 'deliver' | 'duplicate' | 'tampered' }
  | { t: 'toAlice'; i: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ t: 'aliceSends' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'bobSends' as const }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('toBob' as const), i: fc.nat(20), mode: fc.constantFrom('deliver' as const, 'duplicate' as const, 'tampered' as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('toAlice' as const), i: fc.nat(20) }) },
);

/** Runs one conversation with Bob on the in-memory stores or on SQLite; returns the trace and Bob's final state. */
function runScenario(seed: string, steps: readonly Step[], backend: 'memory' | 'sqlite' | 'sqlite-batched'): { trace: string[]; state: string } {
  const rng = deterministicRng(seed);
  const clock = new ManualClock(T0);
  const aliceDev = makeDevice(rng, T0);
  const bobDev = makeDevice(rng, T0, { oneTimePrekeys: 3, kemOneTimePrekeys: 1 });
  const alice = new Party(aliceDev, rng, clock.now);
  const bob = backend === 'memory' ? new Party(bobDev, rng, clock.now) : new SqliteParty(freshDb(), bobDev, rng, clock.now);
  alice.initiate(bobDev);
  const toBob: Uint8Array[] = [];
  const toAlice: Uint8Array[] = [];
  const trace: string[] = [];
  const attempt = (label: string, fn: () => string) => {
    try {
      trace.push(`${label}:ok:${fn()}`);
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      trace.push(`${label}:err:${e.code}`);
    }
  };
  let n = 0;
  // Batched: Bob's steps run in groups of up to 4 inside one Sessions.batch (as the inbound processor runs them).
  const groups: (readonly Step[])[] = [];
  const size = backend === 'sqlite-batched' ? 4 : 1;
  for (let i = 0; i < steps.length; i += size) groups.push(steps.slice(i, i + size));
  const inBatch = (fn: () => void) => (backend === 'sqlite-batched' && bob instanceof SqliteParty ? bob.sessions.batch(fn) : fn());
  for (const group of groups) {
    inBatch(() => {
      for (const s of group) {
        clock.advance(1000);
        const text = `m${n++}`;
        if (s.t === 'aliceSends') attempt('a>', () => (toBob.push(alice.encrypt(bobDev, utf8(text))), text));
        else if (s.t === 'bobSends') {
          // Bob can send once he has a session (the same moment on both backends).
          const ready = bob instanceof Party ? bob.record(aliceDev)?.current : bob.sessions.hasSession(peerDevice(aliceDev));
          if (ready) attempt('b>', () => (toAlice.push(bob.encrypt(aliceDev, utf8(text))), text));
        }
        else if (s.t === 'toBob' && toBob.length > 0) {
          const i = s.i % toBob.length;
          let bytes = toBob[i]!;
          if (s.mode === 'deliver') toBob.splice(i, 1);
          if (s.mode === 'tampered') (bytes = bytes.slice())[bytes.length - 1]! ^= 1;
          attempt(`>b:${s.mode}`, () => fromUtf8(bob.decrypt(aliceDev, bytes).plaintext));
        } else if (s.t === 'toAlice' && toAlice.length > 0) {
          const [bytes] = toAlice.splice(s.i % toAlice.length, 1);
          attempt('>a', () => fromUtf8(alice.decrypt(bobDev, bytes!).plaintext));
        }
      }
    });
  }
  const state = bob instanceof Party ? memorySnapshot(bob) : bob.snapshot();
  return { trace, state };
}

/** Alice (in-memory fixture) has started a session with Bob (SQLite, as the engine runs him). */
function initiatedPair(seed: string) {
  const rng = deterministicRng(seed);
  const clock = new ManualClock(T0);
  const aliceDev = makeDevice(rng, T0);
  const bobDev = makeDevice(rng, T0);
  const alice = new Party(aliceDev, rng, clock.now);
  const bob = new SqliteParty(freshDb(), bobDev, rng, clock.now);
  alice.initiate(bobDev);
  return { rng, clock, aliceDev, bobDev, alice, bob };
}

describe('sessions over the SQLite stores', () => {
  it.each([
    ['one transaction per step', 'sqlite'],
    ['in batches (each record read once, written once at the end)', 'sqlite-batched'],
  ] as const)('behave exactly like the in-memory fixture stores, %s: same plaintexts, same errors, same final state', (_, backend) => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 8 }), fc.array(step, { minLength: 1, maxLength: 30 }), (seed, steps) => {
        const memory = runScenario(seed, steps, 'memory');
        const sqlite = runScenario(seed, steps, backend);
        expect(sqlite.trace).toEqual(memory.trace);
        expect(sqlite.state).toBe(memory.state);
      }),
      { numRuns: 25 },
    );
  });

  it('a batch that throws commits nothing, and the next batch starts from the stored records', () => {
    const { aliceDev, bobDev, alice, bob } = initiatedPair('batch-abort');
    expect(fromUtf8(bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('first'))).plaintext)).toBe('first');
    const [m1, m2] = ['one', 'two'].map((t) => alice.encrypt(bobDev, utf8(t)));
    const before = dumpAll(bob.db);
    expect(() =>
      bob.sessions.batch(() => {
        expect(fromUtf8(bob.decrypt(aliceDev, m1!).plaintext)).toBe('one');
        expect(fromUtf8(bob.decrypt(aliceDev, m2!).plaintext)).toBe('two');
        throw new Error('storage failed');
      }),
    ).toThrow('storage failed');
    expect(dumpAll(bob.db)).toBe(before);
    // Redelivered after the failure: both decrypt again, once.
    bob.sessions.batch(() => {
      expect(fromUtf8(bob.decrypt(aliceDev, m2!).plaintext)).toBe('two');
      expect(fromUtf8(bob.decrypt(aliceDev, m1!).plaintext)).toBe('one');
      expect(() => bob.decrypt(aliceDev, m1!)).toThrowError(expect.objectContaining({ code: 'DUPLICATED_MESSAGE' }));
    });
    expect(() => bob.decrypt(aliceDev, m2!)).toThrowError(expect.objectContaining({ code: 'DUPLICATED_MESSAGE' }));
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('reply')));
  });

  it('a failed decrypt leaves every table byte-identical, and later messages still decrypt', () => {
    const rng = deterministicRng('failures');
    const clock = new ManualClock(T0);
    const aliceDev = makeDevice(rng, T0);
    const bobDev = makeDevice(rng, T0);
    const mallory = makeDevice(rng, T0);
    const alice = new Party(aliceDev, rng, clock.now);
    const bob = new SqliteParty(freshDb(), bobDev, rng, clock.now);
    alice.initiate(bobDev);

    // A forged prekey message (tampered ciphertext) consumes nothing: the one-time keys stay.
    const first = alice.encrypt(bobDev, utf8('first'));
    const before0 = dumpAll(bob.db);
    const forged = first.slice();
    forged[forged.length - 1]! ^= 1;
    expect(() => bob.decrypt(aliceDev, forged)).toThrowError(expect.objectContaining({ code: 'INVALID_MESSAGE' }));
    expect(dumpAll(bob.db)).toBe(before0);

    expect(fromUtf8(bob.decrypt(aliceDev, first).plaintext)).toBe('first');
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('reply')));
    // Out of order: m3 first leaves skipped keys for m1, m2.
    const [m1, m2, m3] = ['one', 'two', 'three'].map((t) => alice.encrypt(bobDev, utf8(t)));
    expect(fromUtf8(bob.decrypt(aliceDev, m3!).plaintext)).toBe('three');
    const before = dumpAll(bob.db);
    expect(before).toContain('skipped_keys:');

    const tampered = m1!.slice();
    tampered[tampered.length - 1]! ^= 1;
    const { header } = parseRatchetMessage(m2!);
    const jump = new Uint8Array([...encodeRatchetHeader({ ...header, counter: header.counter + MAX_FORWARD_JUMP + 10 }), ...parseRatchetMessage(m2!).ciphertext]);
    const failures: [string, Uint8Array, TestDevice, string][] = [
      ['tampered ciphertext', tampered, aliceDev, 'INVALID_MESSAGE'],
      ['duplicate', m3!, aliceDev, 'DUPLICATED_MESSAGE'],
      ['garbage', randomBytes(200), aliceDev, 'MALFORMED'],
      ['wrong AD (claimed by another sender)', m1!, mallory, 'NO_SESSION'],
      ['jump over the limit', jump, aliceDev, 'JUMP_TOO_LARGE'],
      ['truncated', m1!.subarray(0, 20), aliceDev, 'MALFORMED'],
    ];
    for (const [what, bytes, sender, code] of failures) {
      try {
        bob.decrypt(sender, bytes);
        expect.unreachable(what);
      } catch (e) {
        expect(isProtocolError(e) && e.code, what).toBe(code);
      }
      expect(dumpAll(bob.db), what).toBe(before);
    }
    expect(fromUtf8(bob.decrypt(aliceDev, m1!).plaintext)).toBe('one');
    expect(fromUtf8(bob.decrypt(aliceDev, m2!).plaintext)).toBe('two');
  });

  it('a replayed prekey message under a consumed one-time prekey changes nothing', () => {
    const { aliceDev, bobDev, alice, bob } = initiatedPair('replay');
    const first = alice.encrypt(bobDev, utf8('hello'));
    bob.decrypt(aliceDev, first);
    // Bob's session moves on; a replay of the first prekey message afterwards must not restart it.
    alice.decrypt(bobDev, bob.encrypt(aliceDev, utf8('hi')));
    const before = dumpAll(bob.db);
    expect(() => bob.decrypt(aliceDev, first)).toThrowError(expect.objectContaining({ code: 'DUPLICATED_MESSAGE' }));
    expect(dumpAll(bob.db)).toBe(before);
    // And a prekey message naming a consumed one-time key (a new session attempt replaying it) fails closed.
    const msg = parsePrekeyMessage(first);
    const renamed = new Uint8Array([...encodePrekeyHeader({ ...msg, baseKey: randomBytes(32) }), ...msg.message]);
    expect(() => bob.decrypt(aliceDev, renamed)).toThrow();
    expect(dumpAll(bob.db)).toBe(before);
  });

  it('commits the message row, the de-duplication record and the session step in one transaction', () => {
    const { aliceDev, bobDev, alice, bob, clock } = initiatedPair('atomic');
    const m = alice.encrypt(bobDev, utf8('once'));
    const messageId = randomBytes(16);
    const key = { senderAccountId: aliceDev.account.accountId, senderDeviceId: aliceDev.deviceId, messageId };

    // The commit step fails (a crash, a constraint): the session step is rolled back with it.
    const before = dumpAll(bob.db);
    expect(() =>
      bob.sessions.decrypt(peerDevice(aliceDev), m, (db) => {
        recordReceived(db, key, clock.now());
        throw new Error('crash before commit');
      }),
    ).toThrow('crash before commit');
    expect(dumpAll(bob.db)).toBe(before);

    // Redelivered, it decrypts and everything commits together.
    const { result, value } = bob.sessions.decrypt(peerDevice(aliceDev), m, (db) => recordReceived(db, key, clock.now()));
    expect(fromUtf8(result.plaintext)).toBe('once');
    expect(value).toBe(true);
    expect(bob.db.reader.all(sql`SELECT * FROM inbound_dedup`)).toHaveLength(1);
  });

  it('commits advanced sending states only together with their outbox envelopes', () => {
    const { aliceDev, bobDev, alice, bob, clock } = initiatedPair('outbox');
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('hi')));
    const before = dumpAll(bob.db);
    expect(() =>
      bob.sessions.encryptForDevices([peerDevice(aliceDev)], utf8('lost?'), () => {
        throw new Error('disk full');
      }),
    ).toThrow('disk full');
    expect(dumpAll(bob.db)).toBe(before);
    const envelope = bob.sessions.encryptForDevices([peerDevice(aliceDev)], utf8('kept'), (db, messages) => {
      enqueueSend(db, {
        kind: 'message',
        messageRowId: null,
        recipientAccountId: aliceDev.account.accountId,
        envelopes: messages.map((m) => ({ deviceId: m.peer.entry.deviceId, envelope: m.message.bytes })),
        now: clock.now(),
      });
      return messages[0]!.message.bytes;
    });
    expect(countOutbox(bob.db.reader)).toBe(1);
    expect(fromUtf8(alice.decrypt(bobDev, envelope).plaintext)).toBe('kept');
  });

  it('encrypting for several devices fails as a whole when one has no session', () => {
    const rng = deterministicRng('fanout');
    const clock = new ManualClock(T0);
    const aliceDev = makeDevice(rng, T0);
    const alice2 = makeDevice(rng, T0, { account: aliceDev.account, deviceId: 2 });
    const bobDev = makeDevice(rng, T0);
    const alice = new Party(aliceDev, rng, clock.now);
    const bob = new SqliteParty(freshDb(), bobDev, rng, clock.now);
    alice.initiate(bobDev);
    bob.decrypt(aliceDev, alice.encrypt(bobDev, utf8('hi')));
    const before = dumpAll(bob.db);
    expect(() => bob.sessions.encryptForDevices([peerDevice(aliceDev), peerDevice(alice2)], utf8('x'), () => null)).toThrowError(
      expect.objectContaining({ code: 'NO_SESSION' }),
    );
    expect(dumpAll(bob.db)).toBe(before);
    // With a session for the second device too, one transaction covers both.
    bob.sessions.initiate(peerDevice(alice2), alice2.prekeys.takeBundle(alice2));
    const out = bob.sessions.encryptForDevices([peerDevice(aliceDev), peerDevice(alice2)], utf8('both'), (_db, m) => m.map((x) => x.message));
    expect(out.map((m) => m.type)).toEqual(['ratchet', 'prekey']);
    const alice2Party = new Party(alice2, rng, clock.now);
    expect(fromUtf8(alice.decrypt(bobDev, out[0]!.bytes).plaintext)).toBe('both');
    expect(fromUtf8(alice2Party.decrypt(bobDev, out[1]!.bytes).plaintext)).toBe('both');
  });
});
