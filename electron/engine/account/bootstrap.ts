/**
 * Account creation, local part (DESIGN §3.2-3.3): on this, the primary device — a random 16-byte
 * account id, the account signing key (Ed25519; its private half stays on the primary device and in
 * the backup), this device's identity keys (X25519 + Ed25519), the first account-signed device list
 * naming this device with the `pq` capability, then the initial prekeys (signed prekey, last-resort
 * ML-KEM prekey, one-time X25519 and ML-KEM batches) through the regular lifecycle. Registration at
 * the relay and the upload come after (the relay client).
 */
import { ed25519GenerateKeyPair } from '../../../shared/crypto/ed25519.js';
import type { Clock, Rng } from '../../../shared/crypto/random.js';
import { x25519GenerateKeyPair } from '../../../shared/crypto/x25519.js';
import { ACCOUNT_ID_LENGTH } from '../../../shared/protocol/constants.js';
import { signDeviceList, type DeviceList } from '../../../shared/protocol/device-list.js';
import { getAccount, insertAccount, type LocalAccount } from '../db/account.js';
import { announceList } from '../db/transparency.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import type { WriteDb } from '../db/database.js';
import { BUILD_CAPABILITIES } from './device-list.js';
import { maintainPrekeys, type PrekeyUploadParts } from './prekey-lifecycle.js';

/** The primary device's id; linked devices get others from the primary. */
export const PRIMARY_DEVICE_ID = 1;

export type NewAccount = {
  readonly account: LocalAccount;
  /** The public prekeys to register with the relay. */
  readonly prekeys: PrekeyUploadParts;
};

/** Builds the account and this device's identity (pure apart from the rng). */
export function createAccountMaterial(input: { username: string; relayUrl: string }, deps: { rng: Rng; now: number }): LocalAccount {
  const accountId = deps.rng(ACCOUNT_ID_LENGTH);
  const accountKey = ed25519GenerateKeyPair(deps.rng);
  const identityDh = x25519GenerateKeyPair(deps.rng);
  const identitySigning = ed25519GenerateKeyPair(deps.rng);
  const list: DeviceList = {
    accountId,
    version: 1,
    issuedAt: deps.now,
    devices: [
      {
        deviceId: PRIMARY_DEVICE_ID,
        identityDhKey: identityDh.publicKey,
        identitySigningKey: identitySigning.publicKey,
        capabilities: BUILD_CAPABILITIES,
        addedAt: deps.now,
      },
    ],
  };
  return {
    accountId,
    username: input.username,
    relayUrl: input.relayUrl,
    relayId: null,
    accountPublicKey: accountKey.publicKey,
    accountPrivateKey: accountKey.privateKey,
    deviceId: PRIMARY_DEVICE_ID,
    identityDh,
    identitySigning,
    pq: true,
    deviceList: { signed: signDeviceList(list, accountKey.privateKey), version: list.version, issuedAt: list.issuedAt },
    registeredAt: null,
    createdAt: deps.now,
  };
}

/**
 * Creates and stores the account and its initial prekeys. The account row commits first; if the
 * process dies before the prekeys commit, the next maintenance run (at every unlock) creates them.
 */
export async function bootstrapAccount(
  db: WriteDb,
  input: { username: string; relayUrl: string },
  deps: { readonly rng: Rng; readonly now: Clock },
): Promise<NewAccount> {
  if (getAccount(db)) throw new Error('this database already holds an account');
  const account = createAccountMaterial(input, { rng: deps.rng, now: deps.now() });
  db.transaction(() => {
    insertAccount(db, account);
    // The first list is this device's own: never alerted when the log shows it (ADR 0034).
    announceList(db, sha256(account.deviceList.signed), account.deviceList.version, deps.now());
  });
  const { upload } = await maintainPrekeys(db, account, deps);
  return { account, prekeys: upload };
}
