/**
 * Accounts and device lists (DESIGN §3.2, issue 3): registration, lookups, device-list replacement,
 * device unregistration and account deletion. The relay stores each signed list verbatim after the
 * same checks a client makes (acceptDeviceList: verifies under the account key, for this account, a
 * higher version) plus its own: at most MAX_DEVICES_PER_ACCOUNT devices. The relay cannot add a
 * device: every device it serves is on a list the account key signed. Does not own storage
 * (RelayStore) or the mailbox effects of a removal beyond announcing it on the bus.
 */
import { ed25519Verify, validateEd25519PublicKey } from '../../shared/crypto/ed25519.js';
import { acceptDeviceList, parseDeviceList, verifyDeviceList, type DeviceList } from '../../shared/protocol/device-list.js';
import { isProtocolError } from '../../shared/protocol/errors.js';
import { accountDeletionSignatureInput } from '../../shared/wire/auth.js';
import {
  DEVICE_LIST_COUNT_OFFSET,
  MAX_AUTH_CLOCK_SKEW_MS,
  MAX_DEVICES_PER_ACCOUNT,
  USERNAME_HOLD_MS,
} from '../../shared/wire/limits.js';
import { normalizeUsername } from '../../shared/wire/username.js';
import type { AccountRecord, PrekeySet, RemovedDevice } from '../store/store.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';
import { RelayError, spend } from './errors.js';
import type { Mailboxes } from './mailboxes.js';
import { verifyPrekeySet, type PrekeySetInput } from './prekeys.js';

/** Attempts of the device-list compare-and-swap before a concurrent writer wins. */
const DEVICE_LIST_CAS_ATTEMPTS = 3;

/** A list claiming more devices than allowed gets its own code, before the parser refuses it. */
function checkDeviceCount(signed: Uint8Array): void {
  const count = signed[DEVICE_LIST_COUNT_OFFSET];
  if (count !== undefined && count > MAX_DEVICES_PER_ACCOUNT) {
    throw new RelayError('TOO_MANY_DEVICES', `a device list names at most ${MAX_DEVICES_PER_ACCOUNT} devices`);
  }
}

/** ProtocolErrors of list checks, as wire codes (the message stays generic: no oracle details). */
function listError(e: unknown): never {
  if (isProtocolError(e, 'BAD_SIGNATURE')) throw new RelayError('BAD_SIGNATURE', 'device list signature does not verify under the account key');
  if (isProtocolError(e, 'STALE_VERSION') || isProtocolError(e, 'CONFLICTING_VERSION')) {
    throw new RelayError('STALE_VERSION', 'device list version must be higher than the current one');
  }
  if (isProtocolError(e)) throw new RelayError('MALFORMED', 'device list does not parse');
  throw e;
}

export type RegisterInput = {
  readonly username: string;
  readonly accountId: Uint8Array;
  readonly accountKey: Uint8Array;
  readonly deviceList: Uint8Array;
  readonly prekeys: PrekeySetInput;
};

export class AccountService {
  constructor(
    private readonly ctx: RelayContext,
    private readonly mailboxes: Mailboxes,
  ) {}

  /** `address` is the client's address key (server/limits/address.ts). */
  async register(address: string, input: RegisterInput): Promise<{ accountId: Uint8Array; username: string; deviceId: number }> {
    await spend(this.ctx.limits.registration, address, 'registrations from this address');
    const username = normalizeUsername(input.username);
    if (!username) throw new RelayError('INVALID_USERNAME', 'a username is 3-32 of [a-z0-9_.] after NFKC and lowercasing');
    try {
      validateEd25519PublicKey(input.accountKey);
    } catch {
      throw new RelayError('MALFORMED', 'account key is not a valid Ed25519 public key');
    }
    checkDeviceCount(input.deviceList);
    let list: DeviceList;
    try {
      list = verifyDeviceList(input.deviceList, input.accountKey, input.accountId);
    } catch (e) {
      listError(e);
    }
    const [device] = list.devices;
    if (list.devices.length !== 1 || !device) throw new RelayError('MALFORMED', 'the first device list names exactly one device');
    const prekeys: PrekeySet = verifyPrekeySet(device.identitySigningKey, input.prekeys);
    const result = await this.ctx.store.createAccount({
      accountId: input.accountId,
      accountKey: input.accountKey,
      username,
      deviceList: input.deviceList,
      deviceListVersion: list.version,
      device,
      prekeys,
      now: this.ctx.clock(),
    });
    if (result.status === 'username-taken') throw new RelayError('USERNAME_TAKEN', 'username is taken');
    if (result.status === 'account-exists') throw new RelayError('ACCOUNT_EXISTS', 'account id is taken');
    this.ctx.log.info({ event: 'account.registered' }, 'account registered');
    return { accountId: input.accountId, username, deviceId: device.deviceId };
  }

  private takeLookup(requester: AuthenticatedDevice): Promise<void> {
    return spend(this.ctx.limits.lookups, requester.accountHex, 'lookups');
  }

  async lookup(requester: AuthenticatedDevice, accountId: Uint8Array): Promise<AccountRecord> {
    await this.takeLookup(requester);
    const account = await this.ctx.store.getAccount(accountId);
    if (!account) throw new RelayError('NOT_FOUND', 'no such account');
    return account;
  }

  async lookupUsername(requester: AuthenticatedDevice, raw: string): Promise<AccountRecord> {
    await this.takeLookup(requester);
    const username = normalizeUsername(raw);
    if (!username) throw new RelayError('INVALID_USERNAME', 'not a valid username');
    const account = await this.ctx.store.getAccountByUsername(username);
    if (!account) throw new RelayError('NOT_FOUND', 'no such account');
    return account;
  }

  async putDeviceList(requester: AuthenticatedDevice, signed: Uint8Array): Promise<{ version: number; removedDeviceIds: number[] }> {
    return this.replaceDeviceList(requester.accountId, signed);
  }

  /**
   * A restore from backup (issue 18, ADR 0033): the restoring device holds the account key but no
   * device of the list, so no session. The list's signature under the stored account key is the
   * whole authorisation — the same checks as putDeviceList (a higher version, at most
   * MAX_DEVICES_PER_ACCOUNT devices) — limited per address like registration.
   */
  async restoreDeviceList(address: string, accountId: Uint8Array, signed: Uint8Array): Promise<{ version: number; removedDeviceIds: number[] }> {
    await spend(this.ctx.limits.registration, address, 'restores from this address');
    return this.replaceDeviceList(accountId, signed);
  }

  private async replaceDeviceList(accountId: Uint8Array, signed: Uint8Array): Promise<{ version: number; removedDeviceIds: number[] }> {
    checkDeviceCount(signed);
    for (let attempt = 0; attempt < DEVICE_LIST_CAS_ATTEMPTS; attempt++) {
      const current = await this.ctx.store.getAccount(accountId);
      if (!current) throw new RelayError('NOT_FOUND', 'no such account');
      let accepted: ReturnType<typeof acceptDeviceList>;
      try {
        accepted = acceptDeviceList({ list: parseDeviceList(current.deviceList).list, signed: current.deviceList }, signed, current.accountKey);
      } catch (e) {
        listError(e);
      }
      if (!accepted.changed) return { version: accepted.list.version, removedDeviceIds: [] };
      const result = await this.ctx.store.replaceDeviceList({
        accountId,
        expectedVersion: current.deviceListVersion,
        deviceList: signed,
        version: accepted.list.version,
        devices: accepted.list.devices,
        now: this.ctx.clock(),
      });
      if (result.status === 'conflict') continue;
      this.devicesRemoved(result.removed);
      this.ctx.log.info({ event: 'device-list.replaced', version: accepted.list.version, removed: result.removed.length }, 'device list replaced');
      return { version: accepted.list.version, removedDeviceIds: result.removed.map((r) => r.deviceId) };
    }
    throw new RelayError('STALE_VERSION', 'the device list changed concurrently; fetch it and retry');
  }

  /** The requester's own account's devices with their last active UTC day (Linked devices; never another account's). */
  async ownDevices(requester: AuthenticatedDevice): Promise<{ deviceId: number; lastActiveDay: number | null }[]> {
    return this.ctx.store.deviceActivity(requester.accountId);
  }

  async unregisterDevice(requester: AuthenticatedDevice): Promise<void> {
    const removed = await this.ctx.store.unregisterDevice(requester.deviceKey);
    if (removed) this.devicesRemoved([removed]);
    this.ctx.log.info({ event: 'device.unregistered' }, 'device unregistered');
  }

  async deleteAccount(requester: AuthenticatedDevice, proof: { time: number; signature: Uint8Array }): Promise<void> {
    const account = await this.ctx.store.getAccount(requester.accountId);
    if (!account) throw new RelayError('NOT_FOUND', 'no such account');
    const now = this.ctx.clock();
    if (Math.abs(proof.time - now) > MAX_AUTH_CLOCK_SKEW_MS) throw new RelayError('UNAUTHORIZED', 'deletion statement is stale');
    const input = accountDeletionSignatureInput(this.ctx.identity.relayId, requester.accountId, proof.time);
    if (!ed25519Verify(account.accountKey, input, proof.signature)) {
      throw new RelayError('BAD_SIGNATURE', 'deletion statement does not verify under the account key');
    }
    const result = await this.ctx.store.deleteAccount({ accountId: requester.accountId, now, usernameAvailableAt: now + USERNAME_HOLD_MS });
    if (result) this.devicesRemoved(result.removed);
    this.ctx.log.info({ event: 'account.deleted' }, 'account deleted');
  }

  private devicesRemoved(removed: readonly RemovedDevice[]): void {
    if (removed.length === 0) return;
    this.mailboxes.forgotten(removed.reduce((n, r) => n + r.envelopesDeleted, 0));
    this.ctx.bus.publish({ kind: 'device-gone', deviceKeys: removed.map((r) => r.deviceKey) });
  }
}
