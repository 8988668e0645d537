/**
 * Parley's own vectors as a regression test (docs/protocol.md §14). By default it
 * asserts that the current implementation reproduces every committed file in test/vectors/parley/
 * byte for byte; with PARLEY_WRITE_VECTORS=1 it rewrites them instead:
 *
 *   PARLEY_WRITE_VECTORS=1 npx vitest run --project main test/vectors/generate.test.ts
 *
 * session-record-v1.json is frozen (v1 frozen as of 2026-11-26, docs/protocol.md §15): write mode
 * refuses to change it unless PARLEY_WRITE_FROZEN=1 is set as well, which is for a deliberate
 * pre-release protocol change only, never after v1 records can exist. The second block loads the
 * committed bytes (not a fresh generation) with the current deserializer and decrypts the stored next
 * message, so a change of the record format that drops v1 support fails here. When the format
 * changes, keep that file, stop comparing it with a fresh generation, and add a v2 file next to it
 * (docs/protocol.md §15).
 * The independent recomputation from the spec alone is parley-independent.test.ts.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, fromUtf8, toHex } from '../../shared/crypto/index.js';
import {
  decryptMessage,
  deserializeSessionRecord,
  FailureBudgets,
  serializeSessionRecord,
  type PrekeyReader,
} from '../../shared/protocol/index.js';
import { deterministicRng } from '../../shared/testing/deterministic-rng.js';
import { InMemorySkippedKeyStore } from '../../shared/testing/protocol-fixtures.js';
import {
  generateParleyVectors,
  renderVectorFile,
  VECTOR_FILES,
  VECTOR_TIME,
} from '../../scripts/generate-parley-vectors.js';

const dir = new URL('./parley/', import.meta.url);
const write = process.env.PARLEY_WRITE_VECTORS === '1';
/** Files that are never rewritten once committed (PARLEY_WRITE_FROZEN=1 overrides, deliberately). */
const FROZEN: ReadonlySet<string> = new Set(['session-record-v1.json']);

describe('Parley vectors', () => {
  it(write ? 'rewrites every vector file from the current implementation' : 'the current implementation reproduces every committed vector file byte for byte', () => {
    const vectors = generateParleyVectors();
    expect(Object.keys(vectors).sort()).toEqual([...VECTOR_FILES].sort());
    if (write && !existsSync(dir)) mkdirSync(dir, { recursive: true });
    let checked = 0;
    for (const name of VECTOR_FILES) {
      const text = renderVectorFile(vectors[name]);
      const url = new URL(name, dir);
      if (!write) expect(readFileSync(url, 'utf8'), name).toBe(text);
      else if (FROZEN.has(name) && existsSync(url) && readFileSync(url, 'utf8') !== text && process.env.PARLEY_WRITE_FROZEN !== '1') {
        throw new Error(`${name} is frozen: later versions must load it. Add a new vector file instead (docs/protocol.md §15).`);
      } else writeFileSync(url, text);
      checked++;
    }
    expect(checked).toBe(VECTOR_FILES.length);
    expect(checked).toBe(17);
  });
});

type RecordVector = {
  readonly rng: { readonly decrypt: { readonly seed: string } };
  readonly outputs: {
    readonly devices: {
      readonly alice: { readonly accountId: string; readonly deviceId: number; readonly identityDhPublic: string };
      readonly bob: {
        readonly accountId: string;
        readonly deviceId: number;
        readonly identityDhPublic: string;
        readonly identitySigningPublic: string;
        readonly capabilities: number;
      };
    };
    readonly record: string;
    readonly nextMessage: { readonly bytes: string; readonly plaintext: string };
    readonly skippedKey: { readonly ratchetKey: string; readonly counter: number; readonly messageSeed: string };
    readonly skippedMessage: { readonly bytes: string; readonly plaintext: string };
  };
};

const NO_PREKEYS: PrekeyReader = {
  signedPrekey: () => undefined,
  oneTimePrekey: () => undefined,
  kemPrekey: () => undefined,
  isBaseKeySeen: () => false,
};

describe('frozen v1 session record', () => {
  it.skipIf(write)('the committed v1 record loads, re-serializes to the same bytes and decrypts the stored next message and the skipped one', () => {
    const v = JSON.parse(readFileSync(new URL('session-record-v1.json', dir), 'utf8')) as RecordVector;
    const o = v.outputs;
    const { alice, bob } = o.devices;
    const bytes = fromHex(o.record);
    const record = deserializeSessionRecord(bytes);
    expect(toHex(serializeSessionRecord(record))).toBe(o.record);
    expect(record.current).not.toBeNull();
    expect(record.archived).toHaveLength(1);

    // The peer as the verified device list names it; the local identity private key is not needed
    // for ratchet messages (the record holds the ratchet keys).
    const identityDhPublic = fromHex(alice.identityDhPublic);
    const ctx = {
      local: {
        accountId: fromHex(alice.accountId),
        deviceId: alice.deviceId,
        identityDh: { publicKey: identityDhPublic, privateKey: new Uint8Array(32) },
        pq: true,
      },
      peer: {
        accountId: fromHex(bob.accountId),
        entry: {
          deviceId: bob.deviceId,
          identityDhKey: fromHex(bob.identityDhPublic),
          identitySigningKey: fromHex(bob.identitySigningPublic),
          capabilities: bob.capabilities,
          addedAt: VECTOR_TIME,
        },
      },
      prekeys: NO_PREKEYS,
      budgets: new FailureBudgets(),
      rng: deterministicRng(v.rng.decrypt.seed),
      now: () => VECTOR_TIME,
    };
    const skipped = new InMemorySkippedKeyStore();
    const next = decryptMessage(record, fromHex(o.nextMessage.bytes), { ...ctx, skipped: (id) => skipped.reader(id) });
    expect(fromUtf8(next.plaintext)).toBe(o.nextMessage.plaintext);
    expect(next.skippedChanges.added.map((k) => ({ ratchetKey: toHex(k.ratchetKey), counter: k.counter, messageSeed: toHex(k.seed) }))).toEqual([
      o.skippedKey,
    ]);
    skipped.apply(next.sessionId, next.skippedChanges);
    const late = decryptMessage(next.record, fromHex(o.skippedMessage.bytes), { ...ctx, skipped: (id) => skipped.reader(id) });
    expect(fromUtf8(late.plaintext)).toBe(o.skippedMessage.plaintext);
  });
});
