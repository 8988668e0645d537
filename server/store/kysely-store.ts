/**
 * The RelayStore over Kysely, composed from one query module per aggregate (aggregates/): accounts
 * and devices, auth, prekeys, mailbox, contacts, profiles, and the expiry sweep. Every query is written once
 * for SQLite and PostgreSQL (standard SQL, `DELETE … RETURNING`, `ON CONFLICT`, row locks only where
 * PostgreSQL needs them). Owns the composition only; the SQL and transactions live in the
 * aggregates, connection setup in sqlite.ts, policy in server/core.
 *
 * A new aggregate is a `(ctx: StoreContext) => Slice` function whose slice type joins RelayStore in
 * store.ts, plus one line below; the worker proxy (worker-store.ts) picks its methods up by itself.
 */
import type { Kysely } from 'kysely';
import { accountStore } from './aggregates/accounts.js';
import { attachmentStore } from './aggregates/attachments.js';
import { authStore } from './aggregates/auth.js';
import { backupStore } from './aggregates/backups.js';
import { contactStore } from './aggregates/contacts.js';
import { QueryShapes, type StoreContext } from './aggregates/context.js';
import { mailboxStore } from './aggregates/mailbox.js';
import { prekeyStore } from './aggregates/prekeys.js';
import { profileStore } from './aggregates/profiles.js';
import { provisioningStore } from './aggregates/provisioning.js';
import { sweepStore } from './aggregates/sweep.js';
import type { Database } from './schema.js';
import type { RelayStore, StoreLifecycle } from './store.js';

export type KyselyStoreOptions = {
  readonly db: Kysely<Database>;
  readonly backend: RelayStore['backend'];
  readonly migrate: () => Promise<void>;
  readonly close: () => Promise<void>;
  /** The durability barrier (see StoreContext). */
  readonly durable: () => Promise<void>;
};

type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/**
 * One object with every member of every slice, typed as their intersection (so a slice of RelayStore
 * that no aggregate provides is a compile error); a member defined by two slices is a bug.
 */
function compose<const S extends readonly object[]>(...slices: S): Intersection<S[number]> {
  const out: Record<string, unknown> = {};
  for (const slice of slices) {
    for (const [name, value] of Object.entries(slice)) {
      if (name in out) throw new Error(`store member ${name} is defined by two aggregates`);
      out[name] = value;
    }
  }
  return out as Intersection<S[number]>;
}

export function kyselyRelayStore(options: KyselyStoreOptions): RelayStore {
  const ctx: StoreContext = {
    db: options.db,
    backend: options.backend,
    durable: options.durable,
    rowLocks: options.backend === 'postgres',
    shapes: new QueryShapes(),
  };
  const lifecycle: StoreLifecycle = { backend: options.backend, migrate: options.migrate, close: options.close };
  return compose(
    lifecycle,
    accountStore(ctx),
    authStore(ctx),
    prekeyStore(ctx),
    mailboxStore(ctx),
    contactStore(ctx),
    profileStore(ctx),
    sweepStore(ctx),
    attachmentStore(ctx),
    provisioningStore(ctx),
    backupStore(ctx),
  );
}
