/**
 * This device at the relay (DESIGN §3.2-3.3, §5): registration at account creation, the prekey
 * upload (the relay takes at most MAX_PREKEYS_PER_UPLOAD one-time keys per request, so the
 * initial 200 go out in several), the lifecycle while online (refill when the relay reports fewer
 * than 10, rotation every 7 days, erasure of replaced keys after 30 days — account/prekey-lifecycle.ts
 * decides, this module uploads and marks what the relay accepted), the 7-day re-signature of the
 * own device list, and unregistering at logout.
 *
 * What the relay holds is tracked per key (`uploaded_at`), so an upload cut short is completed at
 * the next connection, and a rotation that committed before its upload is uploaded then.
 */
import { toBase64Url } from '../../../shared/crypto/bytes.js';
import type { Clock, Rng } from '../../../shared/crypto/random.js';
import type { KemPrekeyPublic, SignedPrekeyPublic } from '../../../shared/protocol/prekeys.js';
import { MAX_PREKEYS_PER_UPLOAD } from '../../../shared/wire/limits.js';
import type { PrekeyCounts, PrekeyUploadInput } from '../../../shared/wire/rest.js';
import { resignDeviceListIfDue } from '../account/device-list.js';
import { maintainPrekeys } from '../account/prekey-lifecycle.js';
import { markRegistered, setRelayId, type LocalAccount } from '../db/account.js';
import type { WriteDb } from '../db/database.js';
import {
  currentLastResortKemPrekey,
  currentSignedPrekey,
  eraseStaleOneTimePrekeys,
  markPrekeysUploaded,
  prekeysToUpload,
  type PrekeysToUpload,
} from '../db/prekeys.js';
import { sql } from '../db/sql.js';
import { RelayClient } from '../relay/client.js';
import { RelayClientError } from '../relay/errors.js';
import { announceOwnList } from '../transparency/key-transparency.js';
import type { MessagingCore } from './fan-out.js';
import { STALE_ONE_TIME_PREKEY_MS } from './limits.js';

const wireSigned = (p: SignedPrekeyPublic) => ({
  keyId: p.keyId,
  publicKey: toBase64Url(p.publicKey),
  createdAt: p.createdAt,
  signature: toBase64Url(p.signature),
});

const wireKem = (p: KemPrekeyPublic) => ({
  keyId: p.keyId,
  publicKey: toBase64Url(p.publicKey),
  createdAt: p.createdAt,
  lastResort: p.lastResort,
  signature: toBase64Url(p.signature),
});

type Chunk = {
  readonly upload: PrekeyUploadInput;
  readonly ids: { signedKeyId?: number | undefined; lastResortKeyId?: number | undefined; oneTimeIds: number[]; kemIds: number[] };
};

/**
 * Splits what the relay lacks into requests of at most MAX_PREKEYS_PER_UPLOAD one-time keys
 * (X25519 first, then ML-KEM); the rotating keys ride in the first.
 */
export function uploadChunks(pending: PrekeysToUpload): Chunk[] {
  const chunks: Chunk[] = [];
  const oneTime = [...pending.oneTimePrekeys];
  const kem = [...pending.kemOneTimePrekeys];
  let first = true;
  while (first || oneTime.length > 0 || kem.length > 0) {
    const o = oneTime.splice(0, MAX_PREKEYS_PER_UPLOAD);
    const k = kem.splice(0, MAX_PREKEYS_PER_UPLOAD - o.length);
    const signed = first ? pending.signedPrekey : undefined;
    const lastResort = first ? pending.lastResortKemPrekey : undefined;
    first = false;
    if (!signed && !lastResort && o.length === 0 && k.length === 0) break;
    chunks.push({
      upload: {
        ...(signed && { signedPrekey: wireSigned(signed) }),
        ...(lastResort && { lastResortKemPrekey: wireKem(lastResort) }),
        oneTimePrekeys: o.map((p) => ({ keyId: p.keyId, publicKey: toBase64Url(p.publicKey) })),
        kemOneTimePrekeys: k.map(wireKem),
      },
      ids: { signedKeyId: signed?.keyId, lastResortKeyId: lastResort?.keyId, oneTimeIds: o.map((p) => p.keyId), kemIds: k.map((p) => p.keyId) },
    });
  }
  return chunks;
}

/**
 * Registers a freshly created account (its first device) with the relay: the signed list, the
 * rotating prekeys and the first chunk of one-time keys in the registration, the rest in uploads.
 * First the relay's id is read from its well-known description, pinned in `client` and stored
 * with the account (auth.ts refuses challenges naming another). Throws RelayClientError
 * (USERNAME_TAKEN, RELAY_ID_MISMATCH, …); an account the relay already knows under this device's
 * keys (a registration whose answer was lost) counts as registered. Returns the pinned relay id.
 */
export async function registerAccount(
  db: WriteDb,
  account: LocalAccount,
  deps: { readonly clock: Clock; readonly rng: Rng; readonly client: RelayClient; readonly timeoutMs?: number },
): Promise<Uint8Array> {
  const { relayId } = await RelayClient.wellKnown(account.relayUrl, deps.timeoutMs);
  deps.client.pinRelayId(relayId);
  db.transaction(() => setRelayId(db, relayId));
  const [first, ...rest] = uploadChunks(prekeysToUpload(db));
  const signed = first?.upload.signedPrekey ?? (currentSignedPrekey(db) && wireSigned(currentSignedPrekey(db)!));
  const lastResort = first?.upload.lastResortKemPrekey ?? (currentLastResortKemPrekey(db) && wireKem(currentLastResortKemPrekey(db)!));
  if (!signed || !lastResort) throw new Error('registration needs a signed prekey and a last-resort ML-KEM prekey');
  try {
    await RelayClient.register(
      account.relayUrl,
      {
        username: account.username,
        accountId: toBase64Url(account.accountId),
        accountKey: toBase64Url(account.accountPublicKey),
        deviceList: toBase64Url(account.deviceList.signed),
        prekeys: {
          signedPrekey: signed,
          lastResortKemPrekey: lastResort,
          oneTimePrekeys: first?.upload.oneTimePrekeys ?? [],
          kemOneTimePrekeys: first?.upload.kemOneTimePrekeys ?? [],
        },
      },
      deps.timeoutMs,
    );
  } catch (e) {
    if (!(e instanceof RelayClientError && e.code === 'ACCOUNT_EXISTS')) throw e;
    // Ours, if this device can authenticate (its key is on the registered list); else a collision.
    await deps.client.sessionToken();
    db.transaction(() => markRegistered(db, deps.clock()));
    await uploadPending(db, deps.client, deps.clock);
    return relayId;
  }
  const now = deps.clock();
  db.transaction(() => {
    if (first) markPrekeysUploaded(db, first.ids, now);
    markRegistered(db, now);
  });
  for (const chunk of rest) {
    try {
      await deps.client.uploadPrekeys(chunk.upload);
    } catch {
      return relayId; // the rest goes up at the next connection (uploadPending)
    }
    db.transaction(() => markPrekeysUploaded(db, chunk.ids, deps.clock()));
  }
  return relayId;
}

/** Uploads every key the relay lacks; returns the relay's counts after the last request (or null). */
export async function uploadPending(db: WriteDb, client: RelayClient, clock: Clock): Promise<PrekeyCounts | null> {
  let counts: PrekeyCounts | null = null;
  for (const chunk of uploadChunks(prekeysToUpload(db))) {
    counts = await client.uploadPrekeys(chunk.upload);
    db.transaction(() => markPrekeysUploaded(db, chunk.ids, clock()));
  }
  return counts;
}

/**
 * One maintenance round while online: complete pending uploads, compare with the relay's counts
 * (a rotating key the relay does not hold is uploaded again), run the lifecycle with the relay's
 * one-time counts, upload what it generated, erase stale one-time keys, re-sign the device list
 * when due. Callers run one round at a time.
 */
export async function maintainAtRelay(core: MessagingCore): Promise<void> {
  const db = core.db.writer;
  const client = core.relay;
  await uploadPending(db, client, core.clock);
  core.check();
  const counts = await client.prekeyCounts();
  core.check();
  const signed = currentSignedPrekey(db);
  const lastResort = currentLastResortKemPrekey(db);
  db.transaction(() => {
    if (signed && counts.signedPrekey?.keyId !== signed.keyId) db.run(sql`UPDATE signed_prekeys SET uploaded_at = NULL WHERE key_id = ${signed.keyId}`);
    if (lastResort && counts.lastResortKemPrekey?.keyId !== lastResort.keyId) {
      db.run(sql`UPDATE kem_prekeys SET uploaded_at = NULL WHERE key_id = ${lastResort.keyId}`);
    }
  });
  await maintainPrekeys(db, core.account, { rng: core.rng, now: core.clock }, { oneTime: counts.oneTimePrekeys, kemOneTime: counts.kemOneTimePrekeys });
  core.check();
  await uploadPending(db, client, core.clock);
  core.check();
  db.transaction(() => eraseStaleOneTimePrekeys(db, STALE_ONE_TIME_PREKEY_MS));
  const resigned = resignDeviceListIfDue(db, core.account, core.clock());
  if (resigned) {
    core.account = { ...core.account, deviceList: resigned };
    announceOwnList(core, resigned.signed);
    await client.putDeviceList(resigned.signed);
  }
}
