/**
 * Contacts, typing and presence (issue 3). Each account keeps a contact list on the relay; typing and
 * presence flow from A to B only when A and B list each other, and presence only while A's
 * presenceVisible setting is on. Everyone else — strangers, one-sided contacts, hidden accounts —
 * sees exactly what an offline contact looks like: no typing, `online: false`, and no event. What
 * the list tells the relay is in docs/threat-model.md ("Relay").
 * Does not own who is connected (server/ws registry, behind OnlineDirectory) or transport.
 */
import { toBase64Url, toHex } from '../../shared/crypto/bytes.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';

export type OnlineDirectory = {
  /** Whether the account (hex id) has an authenticated connection on this instance. */
  isOnline(accountHex: string): boolean;
};

export type TypingState = 'started' | 'stopped';

export class PresenceService {
  private directory: OnlineDirectory = { isOnline: () => false };

  constructor(private readonly ctx: RelayContext) {}

  attachDirectory(directory: OnlineDirectory): void {
    this.directory = directory;
  }

  async replaceContacts(owner: AuthenticatedDevice, contacts: readonly Uint8Array[]): Promise<void> {
    await this.ctx.store.replaceContacts(owner.accountId, contacts);
  }

  async contacts(owner: AuthenticatedDevice): Promise<{ contacts: Uint8Array[]; presenceVisible: boolean }> {
    const account = await this.ctx.store.getAccount(owner.accountId);
    return { contacts: await this.ctx.store.getContacts(owner.accountId), presenceVisible: account?.presenceVisible ?? false };
  }

  async setVisible(owner: AuthenticatedDevice, visible: boolean): Promise<void> {
    await this.ctx.store.setPresenceVisible(owner.accountId, visible);
    if (!this.directory.isOnline(owner.accountHex)) return;
    // Hiding looks like going offline to contacts; showing again like coming online.
    const audience = await this.ctx.store.mutualContacts(owner.accountId, { visibleOnly: false });
    this.publish(owner.accountId, visible, audience);
  }

  /** `online: true` only for mutual contacts whose presence is visible and who are connected. */
  async snapshot(requester: AuthenticatedDevice, accounts: readonly Uint8Array[]): Promise<{ accountId: Uint8Array; online: boolean }[]> {
    const visible = new Set((await this.ctx.store.mutualContacts(requester.accountId, { among: accounts, visibleOnly: true })).map(toHex));
    return accounts.map((accountId) => {
      const hex = toHex(accountId);
      return { accountId, online: visible.has(hex) && this.directory.isOnline(hex) };
    });
  }

  /** Forwards a typing event to a mutual contact's connected devices; otherwise drops it silently. */
  async typing(from: AuthenticatedDevice, to: Uint8Array, state: TypingState): Promise<void> {
    const mutual = await this.ctx.store.mutualContacts(from.accountId, { among: [to], visibleOnly: false });
    if (mutual.length === 0) return;
    const frame = JSON.stringify({ type: 'typing', from: { accountId: toBase64Url(from.accountId), deviceId: from.deviceId }, state });
    this.ctx.bus.publish({ kind: 'account-frame', accountIds: [toHex(to)], frame });
  }

  /** Called on an account's first connection (online) and after its last one closes (offline). */
  async announce(accountId: Uint8Array, online: boolean): Promise<void> {
    const account = await this.ctx.store.getAccount(accountId);
    if (!account?.presenceVisible) return;
    const audience = await this.ctx.store.mutualContacts(accountId, { visibleOnly: false });
    this.publish(accountId, online, audience);
  }

  private publish(accountId: Uint8Array, online: boolean, audience: readonly Uint8Array[]): void {
    if (audience.length === 0) return;
    const frame = JSON.stringify({ type: 'presence', accountId: toBase64Url(accountId), online });
    this.ctx.bus.publish({ kind: 'account-frame', accountIds: audience.map(toHex), frame });
  }
}
