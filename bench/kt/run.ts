/**
 * Key-transparency benchmarks (issue 19, `npm run bench:kt`, ADR 0034), on a relay store whose log
 * holds 1,000,000 leaves (built directly in the SQLite file, then opened as the relay opens it):
 *
 *  1. append rate at that size: device-list replacements through the store (each a transaction that
 *     also appends its leaf, its perfect nodes and the new root under the sequencer lock), against
 *     the same number of presence-setting writes (one UPDATE of the account row) in the same run;
 *  2. a lookup with proofs against one without, interleaved rounds in the same run: the account row
 *     and its JSON, against the same plus the signed head, the list's leaf, its inclusion proof and a
 *     consistency proof from a head 1,000 leaves older (what the relay adds to every lookup); and the
 *     client's check of those proofs (verifyKeyLookup);
 *  3. proof sizes at that size: inclusion, consistency from several older sizes, the lookup answer's
 *     bytes with and without proofs, and the database's size.
 *
 * Prints one JSON line per result and a short table. A measurement, not a test.
 *
 *   node dist/bench/kt/run.js [--leaves N] [--rounds R]
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ed25519GenerateKeyPair } from '../../shared/crypto/ed25519.js';
import { systemRng } from '../../shared/crypto/random.js';
import { signDeviceList } from '../../shared/protocol/device-list.js';
import { x25519GenerateKeyPair } from '../../shared/crypto/x25519.js';
import {
  consistencyProofRanges,
  encodeKtLeaf,
  inclusionProofRanges,
  merkleLeafHash,
  merkleNodeHash,
  perfectNodeId,
  rangeHash,
  verifyKeyLookup,
} from '../../shared/protocol/transparency.js';
import { accountJson, transparencyJson } from '../../server/http/serialize.js';
import type { RelayIdentity } from '../../server/identity.js';
import { openSqliteStore } from '../../server/store/sqlite.js';
import type { RelayStore } from '../../server/store/store.js';
import { TransparencyLog } from '../../server/transparency/log.js';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const LEAVES = arg('leaves', 1_000_000);
const ROUNDS = arg('rounds', 7);
const ACCOUNTS = 200;
const LOOKUPS_PER_ROUND = 400;
const APPENDS = 1_000;
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const results: Record<string, unknown>[] = [];
function report(r: Record<string, unknown>): void {
  results.push(r);
  console.log(JSON.stringify(r));
}

/** Writes a log of `n` leaves (random accounts) straight into the migrated database file. */
function buildLog(file: string, n: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const insertLeaf = db.prepare('INSERT INTO kt_leaves (leaf_index, account_id, sequence, leaf) VALUES (?, ?, ?, ?)');
  const insertNode = db.prepare('INSERT INTO kt_nodes (node_id, hash) VALUES (?, ?)');
  let level: Buffer[] = [];
  const chunk = 50_000;
  for (let start = 0; start < n; start += chunk) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + chunk); i++) {
        const accountId = systemRng(16);
        const leaf = encodeKtLeaf({ accountId, sequence: 1, accountKeyHash: systemRng(32), deviceListHash: systemRng(32), relayTime: Date.now() });
        const hash = Buffer.from(merkleLeafHash(leaf));
        insertLeaf.run(i, accountId, 1, leaf);
        insertNode.run(perfectNodeId({ level: 0, index: i }), hash);
        level.push(hash);
      }
    })();
  }
  for (let l = 1; level.length >= 2; l++) {
    const next: Buffer[] = [];
    db.transaction(() => {
      for (let i = 0; i + 1 < level.length; i += 2) {
        const hash = Buffer.from(merkleNodeHash(level[i]!, level[i + 1]!));
        insertNode.run(perfectNodeId({ level: l, index: i / 2 }), hash);
        next.push(hash);
      }
    })();
    level = next;
  }
  db.close();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-bench-kt-'));
  const file = path.join(dir, 'relay.sqlite');
  try {
    let store: RelayStore = await openSqliteStore(file);
    await store.migrate();
    await store.close();
    const t0 = performance.now();
    buildLog(file, LEAVES);
    // The sequencer row: the size and root of what was written, folded from its perfect nodes.
    {
      const db = new Database(file);
      const get = db.prepare('SELECT hash FROM kt_nodes WHERE node_id = ?');
      const root = rangeHash({ start: 0, end: LEAVES }, (node) => new Uint8Array((get.get(perfectNodeId(node)) as { hash: Buffer }).hash));
      db.prepare('UPDATE kt_log SET tree_size = ?, root_hash = ? WHERE id = 1').run(LEAVES, Buffer.from(root));
      db.close();
    }
    report({ name: 'build', leaves: LEAVES, seconds: round((performance.now() - t0) / 1000) });

    store = await openSqliteStore(file);
    const identity: RelayIdentity = { relayId: systemRng(16), certificateKey: ed25519GenerateKeyPair(systemRng), treeHeadKey: ed25519GenerateKeyPair(systemRng) };
    const log = new TransparencyLog(store, identity, Date.now);
    const trust = new Map([[1, identity.treeHeadKey.publicKey]]);

    // Real accounts on top of the 1M leaves (each registration appends its leaf).
    const accounts: { accountId: Uint8Array; key: ReturnType<typeof ed25519GenerateKeyPair>; device: { deviceId: number; identityDhKey: Uint8Array; identitySigningKey: Uint8Array }; version: number }[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const accountId = systemRng(16);
      const key = ed25519GenerateKeyPair(systemRng);
      const device = { deviceId: 1, identityDhKey: x25519GenerateKeyPair(systemRng).publicKey, identitySigningKey: ed25519GenerateKeyPair(systemRng).publicKey };
      const list = signDeviceList({ accountId, version: 1, issuedAt: Date.now(), devices: [{ ...device, capabilities: 1, addedAt: Date.now() }] }, key.privateKey);
      const r = await store.createAccount({ accountId, accountKey: key.publicKey, username: `bench${i}`, deviceList: list, deviceListVersion: 1, device, prekeys: {}, now: Date.now() });
      if (r.status !== 'created') throw new Error(r.status);
      accounts.push({ accountId, key, device, version: 1 });
    }

    // 1. Append rate: list replacements (append included) vs presence writes, interleaved halves.
    const appendTimes: number[] = [];
    const baseTimes: number[] = [];
    for (let half = 0; half < 2; half++) {
      for (const phase of half === 0 ? ['append', 'base'] : ['base', 'append']) {
        const n = APPENDS / 2;
        const start = performance.now();
        for (let i = 0; i < n; i++) {
          const a = accounts[i % accounts.length]!;
          if (phase === 'append') {
            const version = a.version + 1;
            const list = signDeviceList({ accountId: a.accountId, version, issuedAt: Date.now(), devices: [{ ...a.device, capabilities: 1, addedAt: 1 }] }, a.key.privateKey);
            const r = await store.replaceDeviceList({ accountId: a.accountId, expectedVersion: a.version, deviceList: list, version, devices: [a.device], now: Date.now() });
            if (r.status !== 'replaced') throw new Error('conflict');
            a.version = version;
          } else {
            await store.setPresenceVisible(a.accountId, i % 2 === 0);
          }
        }
        (phase === 'append' ? appendTimes : baseTimes).push((performance.now() - start) / n);
      }
    }
    const appendMs = median(appendTimes);
    const baseMs = median(baseTimes);
    report({ name: 'append', treeSize: (await store.ktHead()).treeSize, appendsPerSecond: round(1000 / appendMs), msPerAppend: round(appendMs, 3), presenceWriteMs: round(baseMs, 3), ratio: round(appendMs / baseMs, 2) });

    // 2. Lookup with proofs vs without, interleaved rounds.
    const head = await store.ktHead();
    const since = head.treeSize - 1_000;
    const withTimes: number[] = [];
    const withoutTimes: number[] = [];
    let bytesWith = 0;
    let bytesWithout = 0;
    for (let r = 0; r < ROUNDS; r++) {
      for (const phase of r % 2 === 0 ? ['without', 'with'] : ['with', 'without']) {
        const start = performance.now();
        for (let i = 0; i < LOOKUPS_PER_ROUND; i++) {
          const a = accounts[(i * 7 + r) % accounts.length]!;
          const account = (await store.getAccount(a.accountId))!;
          if (phase === 'without') bytesWithout = JSON.stringify(accountJson(account)).length;
          else bytesWith = JSON.stringify({ ...accountJson(account), transparency: transparencyJson(await log.forList(account.accountId, account.deviceListVersion, since)) }).length;
        }
        (phase === 'with' ? withTimes : withoutTimes).push((performance.now() - start) / LOOKUPS_PER_ROUND);
      }
    }
    const withMs = median(withTimes);
    const withoutMs = median(withoutTimes);
    // The client's side: verifyKeyLookup of one answer.
    const a = accounts[0]!;
    const account = (await store.getAccount(a.accountId))!;
    const proof = await log.forList(a.accountId, account.deviceListVersion, since);
    const sinceRoot = await log.rootAt(since);
    const lastHead = { relayId: identity.relayId, treeSize: since, rootHash: sinceRoot, timestamp: Date.now(), keyId: 1 };
    const verifyStart = performance.now();
    const VERIFIES = 500;
    for (let i = 0; i < VERIFIES; i++) {
      verifyKeyLookup(
        { signedTreeHead: proof.head, leafIndex: proof.leafIndex, leaf: proof.leaf, inclusion: proof.inclusion, consistency: proof.consistency },
        { accountId: a.accountId, version: account.deviceListVersion, accountPublicKey: a.key.publicKey, signedDeviceList: account.deviceList },
        { trust, relayId: identity.relayId, now: Date.now(), lastHead },
      );
    }
    const verifyMs = (performance.now() - verifyStart) / VERIFIES;
    report({ name: 'lookup', treeSize: head.treeSize, withoutProofsMs: round(withoutMs, 3), withProofsMs: round(withMs, 3), ratio: round(withMs / withoutMs, 2), clientVerifyMs: round(verifyMs, 3), answerBytesWithout: bytesWithout, answerBytesWith: bytesWith });

    // 3. Proof sizes at this size.
    const n = head.treeSize;
    const inclusionHashes = inclusionProofRanges(Math.floor(n / 3), n).length;
    const consistency = [1, 1_000, 100_000, Math.floor(n / 2)].filter((back) => back < n).map((back) => ({ from: n - back, hashes: consistencyProofRanges(n - back, n).length }));
    report({
      name: 'proof-sizes',
      treeSize: n,
      inclusionHashes,
      inclusionBytes: inclusionHashes * 32,
      lookupProofHashes: proof.inclusion.length + proof.consistency.length,
      consistency,
      databaseMiB: round((statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0)) / 2 ** 20),
    });
    await store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('\nkey transparency (medians)');
  for (const r of results) console.log(`  ${String(r.name).padEnd(12)} ${JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'name')))}`);
}

await main();
