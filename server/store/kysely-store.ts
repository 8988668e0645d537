/**
 * The RelayStore over Kysely: every query of the relay, written once for SQLite and PostgreSQL
 * (standard SQL, `DELETE … RETURNING`, `ON CONFLICT`, row locks only where PostgreSQL needs them).
 * Owns the SQL and the transactions; does not own the connection setup (sqlite.ts) or any policy.
 *
 * Sharp edges:
 *  - One-time prekeys are claimed with one `DELETE … WHERE key_id = (SELECT … LIMIT 1) RETURNING`;
 *    on PostgreSQL the subquery adds `FOR UPDATE SKIP LOCKED` so concurrent claims take different keys
 *    instead of coming back empty. SQLite serialises writers, so it needs no lock clause.
 *  - Mailbox seqs come from a per-device counter row updated in the same transaction as the insert,
 *    so a device's envelopes commit in seq order on either backend. A batch updates all its counters
 *    with one `UPDATE … FROM (VALUES …)` and deletes all its acked envelopes with one
 *    `DELETE … WHERE (device_key, seq) IN (VALUES …)`; VALUES columns are `column1, column2` and
 *    their parameters are cast to BIGINT, which both SQLite and PostgreSQL read the same way.
 *  - PostgreSQL returns 64-bit integers as strings; every integer read goes through `num()`.
 *  - The per-envelope queries (group commit, mailbox reads) are built with Kysely once per shape and
 *    their SQL reused with fresh parameters (`shaped`): building and compiling a query costs several
 *    times what SQLite spends executing it. Parameters are passed in the order the built query
 *    binds them, which the store suite pins down.
 */
import { CompiledQuery, sql, type Compilable, type Kysely, type QueryResult, type Transaction } from 'kysely';
import { bytesEqual, toHex } from '../../shared/crypto/bytes.js';
import type { Database } from './schema.js';
import type {
  AccountRecord,
  AckItem,
  ClaimedBundle,
  CreateAccountInput,
  DeviceKeys,
  DeviceRecord,
  PrekeyCountsRecord,
  PrekeySet,
  RelayStore,
  RemovedDevice,
  SendItem,
  SendOutcome,
  SignedPrekeyRecord,
  StoredEnvelope,
  SweepResult,
} from './store.js';

type Db = Kysely<Database> | Transaction<Database>;

/** Rows per multi-row INSERT; keeps bound parameters far below SQLite's and PostgreSQL's caps. */
const INSERT_CHUNK_ROWS = 500;
/** Distinct query shapes whose compiled SQL is kept (IN lists and multi-row inserts vary in size). */
const MAX_SHAPES = 4_096;

const num = (value: unknown): number => Number(value);
/** A Map key for a public byte string (one allocation, unlike hex by hand). */
const mapKey = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
/** A plain Uint8Array view of a driver Buffer (public data; no copy needed). */
const bytes = (value: Uint8Array): Uint8Array => new Uint8Array(value.buffer, value.byteOffset, value.byteLength);

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function toAccount(row: {
  account_id: Uint8Array;
  account_key: Uint8Array;
  username: string;
  device_list: Uint8Array;
  device_list_version: number;
  presence_visible: number;
}): AccountRecord {
  return {
    accountId: bytes(row.account_id),
    accountKey: bytes(row.account_key),
    username: row.username,
    deviceList: bytes(row.device_list),
    deviceListVersion: num(row.device_list_version),
    presenceVisible: num(row.presence_visible) === 1,
  };
}

const DEVICE_COLUMNS = ['device_key', 'account_id', 'device_id', 'identity_signing_key', 'identity_dh_key'] as const;

function toDevice(row: {
  device_key: number;
  account_id: Uint8Array;
  device_id: number;
  identity_signing_key: Uint8Array;
  identity_dh_key: Uint8Array;
}): DeviceRecord {
  return {
    deviceKey: num(row.device_key),
    accountId: bytes(row.account_id),
    deviceId: num(row.device_id),
    identitySigningKey: bytes(row.identity_signing_key),
    identityDhKey: bytes(row.identity_dh_key),
  };
}

function toSignedPrekey(row: { key_id: number; public_key: Uint8Array; created_at: number; signature: Uint8Array }): SignedPrekeyRecord {
  return { keyId: num(row.key_id), publicKey: bytes(row.public_key), createdAt: num(row.created_at), signature: bytes(row.signature) };
}

export class KyselyRelayStore implements RelayStore {
  private readonly shapes = new Map<string, string>();

  /**
   * @param durable a barrier: resolves once every transaction committed before the call survives a
   *   power loss (SQLite: an fdatasync of the WAL; a backend whose commits are durable: resolved).
   */
  constructor(
    private readonly db: Kysely<Database>,
    readonly backend: 'sqlite' | 'postgres',
    private readonly migrateFn: () => Promise<void>,
    private readonly closeFn: () => Promise<void>,
    private readonly durable: () => Promise<void>,
  ) {}

  migrate(): Promise<void> {
    return this.migrateFn();
  }

  /** Runs a query compiled once per `shape` (built by `build` with placeholder values) with `parameters`. */
  private shaped<R>(db: Db, shape: string, build: () => Compilable<R>, parameters: readonly unknown[]): Promise<QueryResult<R>> {
    let text = this.shapes.get(shape);
    if (text === undefined) {
      text = build().compile().sql;
      if (this.shapes.size >= MAX_SHAPES) this.shapes.clear();
      this.shapes.set(shape, text);
    }
    return db.executeQuery(CompiledQuery.raw(text, [...parameters]) as CompiledQuery<R>);
  }

  close(): Promise<void> {
    return this.closeFn();
  }

  // ── Accounts and devices ─────────────────────────────────────────────────────

  async createAccount(input: CreateAccountInput): Promise<{ status: 'created'; deviceKey: number } | { status: 'username-taken' | 'account-exists' }> {
    const result = await this.db.transaction().execute(async (trx) => {
      const tomb = await trx.selectFrom('account_tombstones').select('account_id').where('account_id', '=', input.accountId).executeTakeFirst();
      const existing = await trx.selectFrom('accounts').select('account_id').where('account_id', '=', input.accountId).executeTakeFirst();
      if (tomb || existing) return { status: 'account-exists' as const };
      const taken = await trx.selectFrom('accounts').select('account_id').where('username', '=', input.username).executeTakeFirst();
      if (taken) return { status: 'username-taken' as const };
      const held = await trx.selectFrom('held_usernames').select('available_at').where('username', '=', input.username).executeTakeFirst();
      if (held && num(held.available_at) > input.now) return { status: 'username-taken' as const };
      if (held) await trx.deleteFrom('held_usernames').where('username', '=', input.username).execute();

      await trx
        .insertInto('accounts')
        .values({
          account_id: input.accountId,
          account_key: input.accountKey,
          username: input.username,
          device_list: input.deviceList,
          device_list_version: input.deviceListVersion,
          presence_visible: 1,
          created_at: input.now,
        })
        .execute();
      const deviceKey = await insertDevice(trx, input.accountId, input.device, input.now);
      await storePrekeys(trx, deviceKey, input.prekeys);
      return { status: 'created' as const, deviceKey };
    });
    if (result.status === 'created') await this.durable();
    return result;
  }

  async getAccount(accountId: Uint8Array): Promise<AccountRecord | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('account_id', '=', accountId).executeTakeFirst();
    return row && toAccount(row);
  }

  async getAccountByUsername(username: string): Promise<AccountRecord | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('username', '=', username).executeTakeFirst();
    return row && toAccount(row);
  }

  async replaceDeviceList(input: {
    accountId: Uint8Array;
    expectedVersion: number;
    deviceList: Uint8Array;
    version: number;
    devices: readonly DeviceKeys[];
    now: number;
  }): Promise<{ status: 'replaced'; removed: RemovedDevice[] } | { status: 'conflict' }> {
    const result = await this.db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('accounts')
        .set({ device_list: input.deviceList, device_list_version: input.version })
        .where('account_id', '=', input.accountId)
        .where('device_list_version', '=', input.expectedVersion)
        .executeTakeFirst();
      if (num(updated.numUpdatedRows) !== 1) return { status: 'conflict' as const };

      const current = (await trx.selectFrom('devices').select(DEVICE_COLUMNS).where('account_id', '=', input.accountId).execute()).map(toDevice);
      const retired = await trx
        .selectFrom('retired_devices')
        .select(['device_id', 'identity_signing_key'])
        .where('account_id', '=', input.accountId)
        .execute();
      const wanted = new Map(input.devices.map((d) => [d.deviceId, d]));
      const removed: RemovedDevice[] = [];

      for (const device of current) {
        const entry = wanted.get(device.deviceId);
        const sameKeys =
          entry !== undefined &&
          bytesEqual(entry.identitySigningKey, device.identitySigningKey) &&
          bytesEqual(entry.identityDhKey, device.identityDhKey);
        if (!sameKeys) removed.push(await purgeDevice(trx, device));
      }
      const kept = new Set(current.filter((d) => !removed.some((r) => r.deviceKey === d.deviceKey)).map((d) => d.deviceId));

      for (const entry of input.devices) {
        if (kept.has(entry.deviceId)) continue;
        const stillRetired = retired.some(
          (r) => num(r.device_id) === entry.deviceId && bytesEqual(bytes(r.identity_signing_key), entry.identitySigningKey),
        );
        if (!stillRetired) await insertDevice(trx, input.accountId, entry, input.now);
      }
      // A retirement ends once the list stops naming that key (a re-keyed device id is a new device).
      for (const r of retired) {
        const entry = wanted.get(num(r.device_id));
        if (!entry || !bytesEqual(entry.identitySigningKey, bytes(r.identity_signing_key))) {
          await trx.deleteFrom('retired_devices').where('account_id', '=', input.accountId).where('device_id', '=', num(r.device_id)).execute();
        }
      }
      return { status: 'replaced' as const, removed };
    });
    if (result.status === 'replaced') await this.durable();
    return result;
  }

  async unregisterDevice(deviceKey: number): Promise<RemovedDevice | undefined> {
    const removed = await this.db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('devices').select(DEVICE_COLUMNS).where('device_key', '=', deviceKey).executeTakeFirst();
      if (!row) return undefined;
      const device = toDevice(row);
      await trx
        .insertInto('retired_devices')
        .values({ account_id: device.accountId, device_id: device.deviceId, identity_signing_key: device.identitySigningKey })
        .onConflict((oc) => oc.columns(['account_id', 'device_id']).doUpdateSet({ identity_signing_key: device.identitySigningKey }))
        .execute();
      return purgeDevice(trx, device);
    });
    await this.durable();
    return removed;
  }

  async deleteAccount(input: { accountId: Uint8Array; now: number; usernameAvailableAt: number }): Promise<{ removed: RemovedDevice[] } | undefined> {
    const result = await this.db.transaction().execute(async (trx) => {
      const account = await trx.selectFrom('accounts').select('username').where('account_id', '=', input.accountId).executeTakeFirst();
      if (!account) return undefined;
      const devices = (await trx.selectFrom('devices').select(DEVICE_COLUMNS).where('account_id', '=', input.accountId).execute()).map(toDevice);
      const removed: RemovedDevice[] = [];
      for (const device of devices) removed.push(await purgeDevice(trx, device));
      await trx.deleteFrom('retired_devices').where('account_id', '=', input.accountId).execute();
      await trx.deleteFrom('contacts').where('owner', '=', input.accountId).execute();
      await trx.deleteFrom('contacts').where('contact', '=', input.accountId).execute();
      await trx.deleteFrom('accounts').where('account_id', '=', input.accountId).execute();
      await trx.insertInto('account_tombstones').values({ account_id: input.accountId, deleted_at: input.now }).execute();
      await trx
        .insertInto('held_usernames')
        .values({ username: account.username, available_at: input.usernameAvailableAt })
        .onConflict((oc) => oc.column('username').doUpdateSet({ available_at: input.usernameAvailableAt }))
        .execute();
      return { removed };
    });
    await this.durable();
    return result;
  }

  async setPresenceVisible(accountId: Uint8Array, visible: boolean): Promise<void> {
    await this.db.updateTable('accounts').set({ presence_visible: visible ? 1 : 0 }).where('account_id', '=', accountId).execute();
    await this.durable();
  }

  async getDevice(accountId: Uint8Array, deviceId: number): Promise<DeviceRecord | undefined> {
    const row = await this.db
      .selectFrom('devices')
      .select(DEVICE_COLUMNS)
      .where('account_id', '=', accountId)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    return row && toDevice(row);
  }

  async listDevices(accountId: Uint8Array): Promise<DeviceRecord[]> {
    const rows = await this.db.selectFrom('devices').select(DEVICE_COLUMNS).where('account_id', '=', accountId).orderBy('device_id').execute();
    return rows.map(toDevice);
  }

  // ── Auth ─────────────────────────────────────────────────────────────────────

  async putChallenge(c: { nonce: Uint8Array; accountId: Uint8Array; deviceId: number; expiresAt: number }): Promise<void> {
    await this.db
      .insertInto('challenges')
      .values({ nonce: c.nonce, account_id: c.accountId, device_id: c.deviceId, expires_at: c.expiresAt })
      .execute();
  }

  async takeChallenge(nonce: Uint8Array): Promise<{ accountId: Uint8Array; deviceId: number; expiresAt: number } | undefined> {
    const row = await this.db
      .deleteFrom('challenges')
      .where('nonce', '=', nonce)
      .returning(['account_id', 'device_id', 'expires_at'])
      .executeTakeFirst();
    return row && { accountId: bytes(row.account_id), deviceId: num(row.device_id), expiresAt: num(row.expires_at) };
  }

  async putSession(s: { tokenId: Uint8Array; secretHash: Uint8Array; deviceKey: number; expiresAt: number }): Promise<void> {
    await this.db
      .insertInto('sessions')
      .values({ token_id: s.tokenId, secret_hash: s.secretHash, device_key: s.deviceKey, expires_at: s.expiresAt })
      .execute();
  }

  async getSession(tokenId: Uint8Array): Promise<{ secretHash: Uint8Array; expiresAt: number; device: DeviceRecord } | undefined> {
    const row = await this.db
      .selectFrom('sessions as s')
      .innerJoin('devices as d', 'd.device_key', 's.device_key')
      .select(['s.secret_hash', 's.expires_at', 'd.device_key', 'd.account_id', 'd.device_id', 'd.identity_signing_key', 'd.identity_dh_key'])
      .where('s.token_id', '=', tokenId)
      .executeTakeFirst();
    return row && { secretHash: bytes(row.secret_hash), expiresAt: num(row.expires_at), device: toDevice(row) };
  }

  // ── Prekeys ──────────────────────────────────────────────────────────────────

  async storePrekeys(deviceKey: number, prekeys: PrekeySet): Promise<void> {
    await this.db.transaction().execute((trx) => storePrekeys(trx, deviceKey, prekeys));
    await this.durable();
  }

  async prekeyCounts(deviceKey: number): Promise<PrekeyCountsRecord> {
    const one = await this.db
      .selectFrom('one_time_prekeys')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('device_key', '=', deviceKey)
      .executeTakeFirstOrThrow();
    const kem = await this.db
      .selectFrom('kem_one_time_prekeys')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('device_key', '=', deviceKey)
      .executeTakeFirstOrThrow();
    const spk = await this.db.selectFrom('signed_prekeys').select(['key_id', 'created_at']).where('device_key', '=', deviceKey).executeTakeFirst();
    const lr = await this.db.selectFrom('last_resort_kem_prekeys').select(['key_id', 'created_at']).where('device_key', '=', deviceKey).executeTakeFirst();
    return {
      oneTimePrekeys: num(one.n),
      kemOneTimePrekeys: num(kem.n),
      signedPrekey: spk ? { keyId: num(spk.key_id), createdAt: num(spk.created_at) } : null,
      lastResortKemPrekey: lr ? { keyId: num(lr.key_id), createdAt: num(lr.created_at) } : null,
    };
  }

  async claimBundles(accountId: Uint8Array, deviceId?: number): Promise<ClaimedBundle[]> {
    const lockClaims = this.backend === 'postgres';
    // A claim must be durable before the key leaves: otherwise a crash could hand it out twice.
    const bundles = await this.db.transaction().execute(async (trx) => {
      let query = trx.selectFrom('devices').select(DEVICE_COLUMNS).where('account_id', '=', accountId);
      if (deviceId !== undefined) query = query.where('device_id', '=', deviceId);
      const devices = (await query.orderBy('device_id').execute()).map(toDevice);
      const bundles: ClaimedBundle[] = [];
      for (const device of devices) {
        const spk = await trx.selectFrom('signed_prekeys').selectAll().where('device_key', '=', device.deviceKey).executeTakeFirst();
        if (!spk) continue;
        const oneTime = await trx
          .deleteFrom('one_time_prekeys')
          .where('device_key', '=', device.deviceKey)
          .where('key_id', '=', (eb) =>
            eb
              .selectFrom('one_time_prekeys')
              .select('key_id')
              .where('device_key', '=', device.deviceKey)
              .orderBy('key_id')
              .limit(1)
              .$if(lockClaims, (qb) => qb.forUpdate().skipLocked()),
          )
          .returning(['key_id', 'public_key'])
          .executeTakeFirst();
        const kemOneTime = await trx
          .deleteFrom('kem_one_time_prekeys')
          .where('device_key', '=', device.deviceKey)
          .where('key_id', '=', (eb) =>
            eb
              .selectFrom('kem_one_time_prekeys')
              .select('key_id')
              .where('device_key', '=', device.deviceKey)
              .orderBy('key_id')
              .limit(1)
              .$if(lockClaims, (qb) => qb.forUpdate().skipLocked()),
          )
          .returning(['key_id', 'public_key', 'created_at', 'signature'])
          .executeTakeFirst();
        let kemPrekey: ClaimedBundle['kemPrekey'];
        if (kemOneTime) kemPrekey = { ...toSignedPrekey(kemOneTime), lastResort: false };
        else {
          const lr = await trx.selectFrom('last_resort_kem_prekeys').selectAll().where('device_key', '=', device.deviceKey).executeTakeFirst();
          if (lr) kemPrekey = { ...toSignedPrekey(lr), lastResort: true };
        }
        bundles.push({
          deviceId: device.deviceId,
          identitySigningKey: device.identitySigningKey,
          identityDhKey: device.identityDhKey,
          signedPrekey: toSignedPrekey(spk),
          oneTimePrekey: oneTime && { keyId: num(oneTime.key_id), publicKey: bytes(oneTime.public_key) },
          kemPrekey,
        });
      }
      return bundles;
    });
    await this.durable();
    return bundles;
  }

  // ── Mailboxes ────────────────────────────────────────────────────────────────

  async commitBatch(batch: { sends: readonly SendItem[]; acks: readonly AckItem[]; now: number }): Promise<{
    sends: SendOutcome[];
    acked: number;
    durable: Promise<void>;
  }> {
    const result = await this.db.transaction().execute(async (trx) => {
      const outcomes: SendOutcome[] = [];
      if (batch.sends.length > 0) {
        const recipients = new Map<string, Uint8Array>();
        for (const s of batch.sends) recipients.set(mapKey(s.to), s.to);
        const ids = [...recipients.values()];
        const known = new Set<string>();
        const devicesByAccount = new Map<string, Map<number, { deviceKey: number; nextSeq: number }>>();
        for (const part of chunks(ids, INSERT_CHUNK_ROWS)) {
          const accounts = await this.shaped(
            trx,
            `accounts-in:${part.length}`,
            () => trx.selectFrom('accounts').select('account_id').where('account_id', 'in', part),
            part,
          );
          for (const row of accounts.rows) known.add(mapKey(row.account_id));
          const { rows } = await this.shaped(
            trx,
            `devices-in:${part.length}`,
            () => trx.selectFrom('devices').select(['device_key', 'account_id', 'device_id', 'next_seq']).where('account_id', 'in', part),
            part,
          );
          for (const row of rows) {
            const hex = mapKey(row.account_id);
            let devices = devicesByAccount.get(hex);
            if (!devices) devicesByAccount.set(hex, (devices = new Map()));
            devices.set(num(row.device_id), { deviceKey: num(row.device_key), nextSeq: num(row.next_seq) });
          }
        }

        const nextSeq = new Map<number, number>();
        const rows: Database['mailbox'][] = [];
        for (const send of batch.sends) {
          const hex = mapKey(send.to);
          if (!known.has(hex)) {
            outcomes.push({ status: 'unknown-recipient' });
            continue;
          }
          const current = devicesByAccount.get(hex) ?? new Map<number, { deviceKey: number; nextSeq: number }>();
          const toSelf = bytesEqual(send.to, send.from.accountId);
          const expected = [...current.keys()].filter((id) => !(toSelf && id === send.from.deviceId));
          const named = new Set(send.messages.map((m) => m.deviceId));
          const missing = expected.filter((id) => !named.has(id)).sort((a, b) => a - b);
          const stale = [...named].filter((id) => !expected.includes(id)).sort((a, b) => a - b);
          if (missing.length > 0 || stale.length > 0) {
            outcomes.push({ status: 'mismatched', missing, stale });
            continue;
          }
          const deliveries: { deviceKey: number; envelope: StoredEnvelope }[] = [];
          for (const message of send.messages) {
            const device = current.get(message.deviceId)!;
            const seq = nextSeq.get(device.deviceKey) ?? device.nextSeq;
            nextSeq.set(device.deviceKey, seq + 1);
            rows.push({
              device_key: device.deviceKey,
              seq,
              source_account: send.from.accountId,
              source_device: send.from.deviceId,
              server_ts: batch.now,
              content: message.content,
            });
            deliveries.push({
              deviceKey: device.deviceKey,
              envelope: {
                seq,
                sourceAccount: send.from.accountId,
                sourceDevice: send.from.deviceId,
                serverTimestamp: batch.now,
                content: message.content,
              },
            });
          }
          outcomes.push({ status: 'committed', deliveries });
        }
        for (const part of chunks(rows, INSERT_CHUNK_ROWS)) {
          // Bound in column order, row by row.
          const parameters = part.flatMap((r) => [r.device_key, r.seq, r.source_account, r.source_device, r.server_ts, r.content]);
          await this.shaped(trx, `mailbox-insert:${part.length}`, () => trx.insertInto('mailbox').values(part), parameters);
        }
        for (const part of chunks([...nextSeq], INSERT_CHUNK_ROWS)) {
          await this.shaped(
            trx,
            `devices-next-seq:${part.length}`,
            () => compilable(trx, sql`update devices set next_seq = v.column2 from (values ${pairValues(part)}) as v where devices.device_key = v.column1`),
            part.flat(),
          );
        }
      }
      let acked = 0;
      const acks = batch.acks.flatMap((a) => a.seqs.map((seq): [number, number] => [a.deviceKey, seq]));
      for (const part of chunks(acks, INSERT_CHUNK_ROWS)) {
        const result = await this.shaped(
          trx,
          `mailbox-ack:${part.length}`,
          () => compilable(trx, sql`delete from mailbox where (device_key, seq) in (values ${pairValues(part)})`),
          part.flat(),
        );
        acked += num(result.numAffectedRows ?? 0);
      }
      return { sends: outcomes, acked };
    });
    return { ...result, durable: this.durable() };
  }

  async readMailbox(deviceKey: number, afterSeq: number, limit: number): Promise<{ nextSeq: number | undefined; envelopes: StoredEnvelope[] }> {
    // The counter is read first, without a transaction: every seq below it was committed before the
    // page query starts, so an empty page proves the device has nothing below `nextSeq` left to
    // deliver — on SQLite and under PostgreSQL's READ COMMITTED alike.
    const counter = await this.shaped(
      this.db,
      'device-next-seq',
      () => this.db.selectFrom('devices').select('next_seq').where('device_key', '=', deviceKey),
      [deviceKey],
    );
    const device = counter.rows[0];
    if (!device) return { nextSeq: undefined, envelopes: [] };
    const { rows } = await this.shaped(
      this.db,
      'mailbox-page',
      () =>
        this.db
          .selectFrom('mailbox')
          .select(['seq', 'source_account', 'source_device', 'server_ts', 'content'])
          .where('device_key', '=', deviceKey)
          .where('seq', '>', afterSeq)
          .orderBy('seq')
          .limit(limit),
      [deviceKey, afterSeq, limit],
    );
    return {
      nextSeq: num(device.next_seq),
      envelopes: rows.map((r) => ({
        seq: num(r.seq),
        sourceAccount: r.source_account && bytes(r.source_account),
        sourceDevice: r.source_device === null ? null : num(r.source_device),
        serverTimestamp: num(r.server_ts),
        content: bytes(r.content),
      })),
    };
  }

  async countEnvelopes(): Promise<number> {
    const row = await this.db.selectFrom('mailbox').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return num(row.n);
  }

  // ── Contacts ─────────────────────────────────────────────────────────────────

  async replaceContacts(owner: Uint8Array, contacts: readonly Uint8Array[]): Promise<void> {
    const unique = new Map(contacts.filter((c) => !bytesEqual(c, owner)).map((c) => [toHex(c), c]));
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('contacts').where('owner', '=', owner).execute();
      for (const part of chunks([...unique.values()], INSERT_CHUNK_ROWS)) {
        await trx.insertInto('contacts').values(part.map((contact) => ({ owner, contact }))).execute();
      }
    });
    await this.durable();
  }

  async getContacts(owner: Uint8Array): Promise<Uint8Array[]> {
    const rows = await this.db.selectFrom('contacts').select('contact').where('owner', '=', owner).orderBy('contact').execute();
    return rows.map((r) => bytes(r.contact));
  }

  async mutualContacts(owner: Uint8Array, options: { among?: readonly Uint8Array[]; visibleOnly: boolean }): Promise<Uint8Array[]> {
    if (options.among && options.among.length === 0) return [];
    const parts = options.among ? chunks(options.among, INSERT_CHUNK_ROWS) : [undefined];
    const out: Uint8Array[] = [];
    for (const among of parts) {
      let query = this.db
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
  }

  // ── Expiry ───────────────────────────────────────────────────────────────────

  async sweep(input: { now: number; mailboxCutoff: number; batchSize: number }): Promise<SweepResult> {
    let envelopes = 0;
    for (;;) {
      // Bounded batches keep each transaction (and the writer lock) short.
      const deleted = await this.db.transaction().execute(async (trx) => {
        const victims = await trx
          .selectFrom('mailbox')
          .select(['device_key', 'seq'])
          .where('server_ts', '<', input.mailboxCutoff)
          .limit(input.batchSize)
          .execute();
        const byDevice = new Map<number, number[]>();
        for (const v of victims) {
          const list = byDevice.get(num(v.device_key)) ?? [];
          list.push(num(v.seq));
          byDevice.set(num(v.device_key), list);
        }
        let n = 0;
        for (const [deviceKey, seqs] of byDevice) {
          for (const part of chunks(seqs, INSERT_CHUNK_ROWS)) {
            const r = await trx.deleteFrom('mailbox').where('device_key', '=', deviceKey).where('seq', 'in', part).executeTakeFirst();
            n += num(r.numDeletedRows);
          }
        }
        return n;
      });
      envelopes += deleted;
      if (deleted < input.batchSize) break;
    }
    const challenges = await this.db.deleteFrom('challenges').where('expires_at', '<=', input.now).executeTakeFirst();
    const sessions = await this.db.deleteFrom('sessions').where('expires_at', '<=', input.now).executeTakeFirst();
    const usernames = await this.db.deleteFrom('held_usernames').where('available_at', '<=', input.now).executeTakeFirst();
    return {
      envelopes,
      challenges: num(challenges.numDeletedRows),
      sessions: num(sessions.numDeletedRows),
      usernames: num(usernames.numDeletedRows),
    };
  }
}

/** `(CAST(? AS BIGINT), CAST(? AS BIGINT)), …` for a VALUES list of integer pairs. */
function pairValues(pairs: readonly (readonly [number, number])[]) {
  return sql.join(pairs.map(([a, b]) => sql`(cast(${a} as bigint), cast(${b} as bigint))`));
}

/** A raw SQL builder as something `shaped` can compile. */
function compilable(db: Db, query: ReturnType<typeof sql>): Compilable {
  return { compile: () => query.compile(db) };
}

async function insertDevice(trx: Db, accountId: Uint8Array, device: DeviceKeys, now: number): Promise<number> {
  const row = await trx
    .insertInto('devices')
    .values({
      account_id: accountId,
      device_id: device.deviceId,
      identity_signing_key: device.identitySigningKey,
      identity_dh_key: device.identityDhKey,
      next_seq: 1,
      created_at: now,
    })
    .returning('device_key')
    .executeTakeFirstOrThrow();
  return num(row.device_key);
}

/** Deletes a device with its mailbox, prekeys and sessions. */
async function purgeDevice(trx: Db, device: DeviceRecord): Promise<RemovedDevice> {
  const k = device.deviceKey;
  const mailbox = await trx.deleteFrom('mailbox').where('device_key', '=', k).executeTakeFirst();
  await trx.deleteFrom('signed_prekeys').where('device_key', '=', k).execute();
  await trx.deleteFrom('last_resort_kem_prekeys').where('device_key', '=', k).execute();
  await trx.deleteFrom('one_time_prekeys').where('device_key', '=', k).execute();
  await trx.deleteFrom('kem_one_time_prekeys').where('device_key', '=', k).execute();
  await trx.deleteFrom('sessions').where('device_key', '=', k).execute();
  await trx.deleteFrom('devices').where('device_key', '=', k).execute();
  return { deviceKey: k, deviceId: device.deviceId, envelopesDeleted: num(mailbox.numDeletedRows) };
}

async function storePrekeys(trx: Db, deviceKey: number, prekeys: PrekeySet): Promise<void> {
  const signedRow = (p: SignedPrekeyRecord) => ({
    device_key: deviceKey,
    key_id: p.keyId,
    public_key: p.publicKey,
    created_at: p.createdAt,
    signature: p.signature,
  });
  const replaceAll = (p: SignedPrekeyRecord) => ({
    key_id: p.keyId,
    public_key: p.publicKey,
    created_at: p.createdAt,
    signature: p.signature,
  });
  if (prekeys.signedPrekey) {
    const p = prekeys.signedPrekey;
    await trx
      .insertInto('signed_prekeys')
      .values(signedRow(p))
      .onConflict((oc) => oc.column('device_key').doUpdateSet(replaceAll(p)))
      .execute();
  }
  if (prekeys.lastResortKemPrekey) {
    const p = prekeys.lastResortKemPrekey;
    await trx
      .insertInto('last_resort_kem_prekeys')
      .values(signedRow(p))
      .onConflict((oc) => oc.column('device_key').doUpdateSet(replaceAll(p)))
      .execute();
  }
  // Within one upload the last copy of a key id wins, as it would row by row.
  const oneTime = [...new Map((prekeys.oneTimePrekeys ?? []).map((p) => [p.keyId, p])).values()];
  for (const part of chunks(oneTime, INSERT_CHUNK_ROWS)) {
    await trx
      .insertInto('one_time_prekeys')
      .values(part.map((p) => ({ device_key: deviceKey, key_id: p.keyId, public_key: p.publicKey })))
      .onConflict((oc) => oc.columns(['device_key', 'key_id']).doUpdateSet((eb) => ({ public_key: eb.ref('excluded.public_key') })))
      .execute();
  }
  const kem = [...new Map((prekeys.kemOneTimePrekeys ?? []).map((p) => [p.keyId, p])).values()];
  for (const part of chunks(kem, INSERT_CHUNK_ROWS)) {
    await trx
      .insertInto('kem_one_time_prekeys')
      .values(part.map(signedRow))
      .onConflict((oc) =>
        oc.columns(['device_key', 'key_id']).doUpdateSet((eb) => ({
          public_key: eb.ref('excluded.public_key'),
          created_at: eb.ref('excluded.created_at'),
          signature: eb.ref('excluded.signature'),
        })),
      )
      .execute();
  }
}
