/**
 * Migration 0008 on a relay that already has accounts: each existing account gets the leaf of its
 * current list (oldest first), every perfect node is stored, and the sequencer row holds the root,
 * so the first lookups after an upgrade carry proofs and later appends continue the same tree.
 */
import Database from 'better-sqlite3-multiple-ciphers';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { deterministicRng } from '../../../shared/testing/deterministic-rng.js';
import { ktLeafFor, MemoryMerkleTree, parseKtLeaf, perfectNodeId } from '../../../shared/protocol/transparency.js';
import { SQLITE_TYPES } from './dialect-types.js';
import { migrateToLatest, RelayMigrationProvider } from './index.js';

describe('migration 0008 (key-transparency log)', () => {
  it('logs the current list of every existing account, oldest first, with every perfect node and the root', async () => {
    const db = new Kysely<Record<string, Record<string, unknown>>>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
    try {
      const migrator = new Migrator({ db, provider: new RelayMigrationProvider(SQLITE_TYPES) });
      const { error } = await migrator.migrateTo('0006-delivery-tokens');
      expect(error).toBeUndefined();
      const rng = deterministicRng('kt backfill');
      const accounts = Array.from({ length: 5 }, (_, i) => ({
        account_id: rng(16),
        account_key: rng(32),
        username: `u${i}`,
        device_list: rng(90 + i),
        device_list_version: 3 + i,
        presence_visible: 1,
        created_at: 1_000 - i, // the last one is the oldest
      }));
      for (const a of accounts) await db.insertInto('accounts').values(a).execute();

      await migrateToLatest(db, SQLITE_TYPES);

      const leaves = await db.selectFrom('kt_leaves').selectAll().orderBy('leaf_index').execute();
      const expectedOrder = [...accounts].reverse();
      expect(leaves.map((l) => Buffer.from(l.account_id as Uint8Array).toString('hex'))).toEqual(expectedOrder.map((a) => Buffer.from(a.account_id).toString('hex')));
      const tree = new MemoryMerkleTree();
      leaves.forEach((row, i) => {
        const a = expectedOrder[i]!;
        const leaf = parseKtLeaf(new Uint8Array(row.leaf as Uint8Array));
        expect(leaf).toEqual(ktLeafFor({ accountId: a.account_id, version: a.device_list_version, accountPublicKey: a.account_key, signedDeviceList: a.device_list, relayTime: leaf.relayTime }));
        expect(Number(row.sequence)).toBe(a.device_list_version);
        tree.append(new Uint8Array(row.leaf as Uint8Array));
      });
      const log = await db.selectFrom('kt_log').selectAll().executeTakeFirstOrThrow();
      expect(Number(log.tree_size)).toBe(5);
      expect(new Uint8Array(log.root_hash as Uint8Array)).toEqual(tree.root());
      const nodes = await db.selectFrom('kt_nodes').selectAll().execute();
      // 5 leaves: 5 + 2 + 1 perfect nodes.
      expect(nodes).toHaveLength(8);
      for (const level of [0, 1, 2]) {
        for (let index = 0; (index + 1) * 2 ** level <= 5; index++) {
          const row = nodes.find((n) => Number(n.node_id) === perfectNodeId({ level, index }));
          expect(new Uint8Array(row!.hash as Uint8Array)).toEqual(tree.node({ level, index }));
        }
      }
    } finally {
      await db.destroy();
    }
  });
});
