/**
 * The contact aggregate: each account's contact list on the relay, which gates typing and presence
 * (ADR 0007: both need owner→X and X→owner). Owns the table `contacts`; reads `accounts` for the
 * presence setting. Does not cap list sizes (shared/wire schemas and core do).
 */
import { bytesEqual, toHex } from '../../../shared/crypto/bytes.js';
import type { ContactStore } from '../store.js';
import { bytes, chunks, INSERT_CHUNK_ROWS, type StoreContext } from './context.js';

export function contactStore({ db, durable, rowLocks }: StoreContext): ContactStore {
  return {
    async replaceContacts(owner, contacts) {
      const unique = new Map(contacts.filter((c) => !bytesEqual(c, owner)).map((c) => [toHex(c), c]));
      await db.transaction().execute(async (trx) => {
        // Replacements of one list take turns on PostgreSQL (the owner's account row), so the last
        // one wins whole instead of two interleaving into a union.
        if (rowLocks) await trx.selectFrom('accounts').select('account_id').where('account_id', '=', owner).forUpdate().execute();
        await trx.deleteFrom('contacts').where('owner', '=', owner).execute();
        for (const part of chunks([...unique.values()], INSERT_CHUNK_ROWS)) {
          await trx.insertInto('contacts').values(part.map((contact) => ({ owner, contact }))).execute();
        }
      });
      await durable();
    },

    async getContacts(owner) {
      const rows = await db.selectFrom('contacts').select('contact').where('owner', '=', owner).orderBy('contact').execute();
      return rows.map((r) => bytes(r.contact));
    },

    async mutualContacts(owner, options) {
      if (options.among && options.among.length === 0) return [];
      const parts = options.among ? chunks(options.among, INSERT_CHUNK_ROWS) : [undefined];
      const out: Uint8Array[] = [];
      for (const among of parts) {
        let query = db
          .selectFrom('contacts as c')
          .innerJoin('contacts as r', (join) => join.onRef('r.owner', '=', 'c.contact').onRef('r.contact', '=', 'c.owner'))
          .innerJoin('accounts as a', 'a.account_id', 'c.contact')
          .select('c.contact')
          .where('c.owner', '=', owner);
        if (options.visibleOnly) query = query.where('a.presence_visible', '=', 1);
        if (among) query = query.where('c.contact', 'in', among);
        for (const row of await query.execute()) out.push(bytes(row.contact));
      }
      return out;
    },
  };
}
