/**
 * The prekey aggregate: each device's signed prekey, last-resort ML-KEM prekey, and one-time X25519
 * and ML-KEM prekeys, and the claim that hands them out in bundles. Owns the tables
 * `signed_prekeys`, `last_resort_kem_prekeys`, `one_time_prekeys`, `kem_one_time_prekeys`, and the
 * cap on one-time keys stored per kind (checked in the upload's transaction, so concurrent uploads
 * cannot pass it together). Does not verify signatures or choose the cap (core/prekeys.ts).
 *
 * Sharp edges: a one-time prekey is claimed with one `DELETE … WHERE key_id = (SELECT … LIMIT 1)
 * RETURNING`; on PostgreSQL the subquery adds `FOR UPDATE SKIP LOCKED` so that concurrent claims
 * take different keys instead of coming back empty. SQLite serialises writers and needs no lock
 * clause. A claim is durable before the bundle leaves: a crash could otherwise hand a key out twice.
 */
import type { ClaimedBundle, PrekeySet, PrekeyStore, SignedPrekeyRecord } from '../store.js';
import { bytes, chunks, INSERT_CHUNK_ROWS, num, type Db, type StoreContext } from './context.js';
import { DEVICE_COLUMNS, toDevice } from './device-rows.js';

function toSignedPrekey(row: { key_id: number; public_key: Uint8Array; created_at: number; signature: Uint8Array }): SignedPrekeyRecord {
  return { keyId: num(row.key_id), publicKey: bytes(row.public_key), createdAt: num(row.created_at), signature: bytes(row.signature) };
}

export function prekeyStore({ db, rowLocks, durable }: StoreContext): PrekeyStore {
  return {
    async storePrekeys(deviceKey, prekeys, options) {
      const cap = options?.maxOneTimePerKind;
      const over = await db.transaction().execute(async (trx) => {
        const before = cap === undefined ? undefined : await oneTimeCounts(trx, deviceKey);
        await insertPrekeys(trx, deviceKey, prekeys);
        if (cap === undefined || !before) return undefined;
        const after = await oneTimeCounts(trx, deviceKey);
        if (after.oneTimePrekeys <= cap && after.kemOneTimePrekeys <= cap) return undefined;
        // Rolls the upload back; the counts before it are the answer.
        throw new OverCap(before);
      }).then(
        () => undefined,
        (e: unknown) => {
          if (e instanceof OverCap) return e.counts;
          throw e;
        },
      );
      if (over) return { status: 'too-many', ...over };
      await durable();
      return { status: 'stored' };
    },

    async prekeyCounts(deviceKey) {
      const { oneTimePrekeys, kemOneTimePrekeys } = await oneTimeCounts(db, deviceKey);
      const spk = await db.selectFrom('signed_prekeys').select(['key_id', 'created_at']).where('device_key', '=', deviceKey).executeTakeFirst();
      const lr = await db.selectFrom('last_resort_kem_prekeys').select(['key_id', 'created_at']).where('device_key', '=', deviceKey).executeTakeFirst();
      return {
        oneTimePrekeys,
        kemOneTimePrekeys,
        signedPrekey: spk ? { keyId: num(spk.key_id), createdAt: num(spk.created_at) } : null,
        lastResortKemPrekey: lr ? { keyId: num(lr.key_id), createdAt: num(lr.created_at) } : null,
      };
    },

    async claimBundles(accountId, deviceId, options) {
      const oneTimeFor = options?.oneTimeFor && new Set(options.oneTimeFor);
      const bundles = await db.transaction().execute(async (trx) => {
        let query = trx.selectFrom('devices').select(DEVICE_COLUMNS).where('account_id', '=', accountId);
        if (deviceId !== undefined) query = query.where('device_id', '=', deviceId);
        const devices = (await query.orderBy('device_id').execute()).map(toDevice);
        const bundles: ClaimedBundle[] = [];
        for (const device of devices) {
          const spk = await trx.selectFrom('signed_prekeys').selectAll().where('device_key', '=', device.deviceKey).executeTakeFirst();
          if (!spk) continue;
          const consume = !oneTimeFor || oneTimeFor.has(device.deviceKey);
          const oneTime = !consume
            ? undefined
            : await trx
                .deleteFrom('one_time_prekeys')
                .where('device_key', '=', device.deviceKey)
                .where('key_id', '=', (eb) =>
                  eb
                    .selectFrom('one_time_prekeys')
                    .select('key_id')
                    .where('device_key', '=', device.deviceKey)
                    .orderBy('key_id')
                    .limit(1)
                    .$if(rowLocks, (qb) => qb.forUpdate().skipLocked()),
                )
                .returning(['key_id', 'public_key'])
                .executeTakeFirst();
          const kemOneTime = !consume
            ? undefined
            : await trx
                .deleteFrom('kem_one_time_prekeys')
                .where('device_key', '=', device.deviceKey)
                .where('key_id', '=', (eb) =>
                  eb
                    .selectFrom('kem_one_time_prekeys')
                    .select('key_id')
                    .where('device_key', '=', device.deviceKey)
                    .orderBy('key_id')
                    .limit(1)
                    .$if(rowLocks, (qb) => qb.forUpdate().skipLocked()),
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
      await durable();
      return bundles;
    },
  };
}

class OverCap extends Error {
  constructor(readonly counts: { readonly oneTimePrekeys: number; readonly kemOneTimePrekeys: number }) {
    super('one-time prekey cap');
  }
}

async function oneTimeCounts(trx: Db, deviceKey: number): Promise<{ oneTimePrekeys: number; kemOneTimePrekeys: number }> {
  const one = await trx
    .selectFrom('one_time_prekeys')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('device_key', '=', deviceKey)
    .executeTakeFirstOrThrow();
  const kem = await trx
    .selectFrom('kem_one_time_prekeys')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('device_key', '=', deviceKey)
    .executeTakeFirstOrThrow();
  return { oneTimePrekeys: num(one.n), kemOneTimePrekeys: num(kem.n) };
}

/** Upserts a device's prekeys inside the caller's transaction (an upload, or a registration). */
export async function insertPrekeys(trx: Db, deviceKey: number, prekeys: PrekeySet): Promise<void> {
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
