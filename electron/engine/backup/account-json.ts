/**
 * The account section of a backup (docs/protocol.md §25.9, ADR 0033): UTF-8 JSON, version 1 — the
 * account id, username, relay and its pinned id, the account key pair (the one thing a linked
 * device never gets), the account's signed device list, and the account state a link carries
 * (linking/account-state.ts: profile and profile key, contacts with their keys, lists and
 * verification, settings that follow the person, the conversation list). Never session state,
 * prekeys or this device's identity keys: a restore is a new device.
 *
 * Owns encoding and the strict parse: a shape that does not match, an account key pair that does
 * not belong together, or a list that does not verify under the account key is BACKUP_TAMPERED
 * (only a holder of the recovery key could have written it, but it is refused all the same).
 */
import { z } from 'zod';
import { bytesEqual, fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519PublicKey } from '../../../shared/crypto/ed25519.js';
import { verifyDeviceList, type DeviceList } from '../../../shared/protocol/device-list.js';
import type { LocalAccount } from '../db/account.js';
import type { ReadDb } from '../db/database.js';
import { EngineError } from '../errors.js';
import { accountStateOf, AccountStateSchema, verifyContactLists, type AccountState } from '../linking/account-state.js';

export const BACKUP_ACCOUNT_VERSION = 1;

const B64 = z.string().regex(/^[A-Za-z0-9_-]*$/).max(200_000);

const BackupAccountSchema = z.strictObject({
  v: z.literal(BACKUP_ACCOUNT_VERSION),
  accountId: B64,
  relayUrl: z.string().min(1).max(2048),
  relayId: B64.nullable(),
  accountPublicKey: B64,
  accountPrivateKey: B64,
  deviceList: B64,
  state: AccountStateSchema,
});

export type BackupAccount = {
  readonly accountId: Uint8Array;
  readonly relayUrl: string;
  readonly relayId: Uint8Array | null;
  readonly accountPublicKey: Uint8Array;
  readonly accountPrivateKey: Uint8Array;
  readonly deviceList: { readonly signed: Uint8Array; readonly list: DeviceList };
  readonly state: AccountState;
};

/** The account section of this primary's backup. */
export function exportBackupAccount(db: ReadDb, account: LocalAccount): Uint8Array {
  if (!account.accountPrivateKey) throw new EngineError('NOT_PRIMARY_DEVICE', 'only the primary device makes backups');
  const json = {
    v: BACKUP_ACCOUNT_VERSION,
    accountId: toBase64Url(account.accountId),
    relayUrl: account.relayUrl,
    relayId: account.relayId && toBase64Url(account.relayId),
    accountPublicKey: toBase64Url(account.accountPublicKey),
    accountPrivateKey: toBase64Url(account.accountPrivateKey),
    deviceList: toBase64Url(account.deviceList.signed),
    state: accountStateOf(db, account.username),
  };
  return new TextEncoder().encode(JSON.stringify(json));
}

const tampered = (what: string): EngineError => new EngineError('BACKUP_TAMPERED', `the backup's account section ${what}; nothing was restored`);

export function parseBackupAccount(bytes: Uint8Array): BackupAccount {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw tampered('is not readable');
  }
  const parsed = BackupAccountSchema.safeParse(json);
  if (!parsed.success) throw tampered('is not valid');
  const j = parsed.data;
  try {
    const accountId = fromBase64Url(j.accountId);
    const accountPublicKey = fromBase64Url(j.accountPublicKey);
    const accountPrivateKey = fromBase64Url(j.accountPrivateKey);
    if (accountId.length !== 16 || accountPrivateKey.length !== 32 || !bytesEqual(ed25519PublicKey(accountPrivateKey), accountPublicKey)) throw tampered('holds keys that do not belong together');
    const signed = fromBase64Url(j.deviceList);
    const list = verifyDeviceList(signed, accountPublicKey, accountId);
    verifyContactLists(j.state);
    return {
      accountId,
      relayUrl: j.relayUrl,
      relayId: j.relayId === null ? null : fromBase64Url(j.relayId),
      accountPublicKey,
      accountPrivateKey,
      deviceList: { signed, list },
      state: j.state,
    };
  } catch (e) {
    if (e instanceof EngineError) throw e;
    throw tampered('holds a device list that does not verify');
  }
}
