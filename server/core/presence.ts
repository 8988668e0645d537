/**
 * Contacts and presence (issue 3). Each account keeps a contact list on the relay; presence flows
 * from A to B only when A and B list each other, and only while A's presenceVisible setting is on.
 * Everyone else — strangers, one-sided contacts, hidden accounts — sees exactly the same thing:
 * `{ online: false, shared: false }`, and no event; a visible
 * mutual contact who is not connected reads `{ online: false, shared: true }` (issue 12: the client
 * shows "nothing" for the first and "offline" only for the second). What the list tells the relay
 * is in docs/threat-model.md ("Relay").
 *
 * Presence follows changes as they happen: connecting and disconnecting (announce), hiding and
 * showing (setVisible), and a contact-list change that makes two accounts mutual, or no longer
 * mutual (replaceContacts): each side then hears the other's current state at once (issue 12), not
 * at its next connection.
 * Typing is not here: it is E2E content sent sealed and online-only (core/sealed.ts); the relay's
 * own `typing` frame, which named the sender, was retired (issue 15).
 * Does not own who is connected (server/ws registry, behind OnlineDirectory) or transport.
 */
import { fromHex, toBase64Url, toHex } from '../../shared/crypto/bytes.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';
import { spend } from './errors.js';

export type OnlineDirectory = {
  /**
   * Those of the accounts (hex ids) with an authenticated connection: on this instance (ws/registry),
   * or on any live instance of the relay (bus/cluster.ts).
   */
  online(accountHexes: readonly string[]): Promise<ReadonlySet<string>>;
};

export type PresenceEntry = { readonly accountId: Uint8Array; readonly online: boolean; readonly shared: boolean };

/** A snapshot entry as it goes over the wire (REST and WebSocket). */
export function presenceEntryWire(e: PresenceEntry): { accountId: string; online: boolean; shared: boolean } {
  return { accountId: toBase64Url(e.accountId), online: e.online, shared: e.shared };
}

/** What every account that does not share its presence with the receiver reads. */
const NOT_SHARED = { online: false, shared: false } as const;

export class PresenceService {
  private directory: OnlineDirectory = { online: () => Promise.resolve(new Set()) };

  constructor(private readonly ctx: RelayContext) {}

  attachDirectory(directory: OnlineDirectory): void {
    this.directory = directory;
  }

  /**
   * Saves the owner's contact list. Accounts that become mutual contacts through it hear the owner's
   * state and the owner theirs, at once; accounts that stop being mutual hear that the owner's
   * presence is no longer shared with them. Each replacement (or deletion) spends the account's
   * `contactReplacementsPerAccount` budget.
   */
  async replaceContacts(owner: AuthenticatedDevice, contacts: readonly Uint8Array[]): Promise<void> {
    await spend(this.ctx.limits.contactReplacements, owner.accountHex, 'contact list replacements');
    const before = new Set((await this.ctx.store.mutualContacts(owner.accountId, { visibleOnly: false })).map(toHex));
    await this.ctx.store.replaceContacts(owner.accountId, contacts);
    const after = await this.ctx.store.mutualContacts(owner.accountId, { visibleOnly: false });
    const afterHex = new Set(after.map(toHex));
    const gained = after.filter((a) => !before.has(toHex(a)));
    const lost = [...before].filter((hex) => !afterHex.has(hex)).map(fromHex);
    if (gained.length > 0) {
      const ownerVisible = (await this.ctx.store.getAccount(owner.accountId))?.presenceVisible ?? false;
      if (ownerVisible) this.publish(owner.accountId, { online: await this.isOnline(owner.accountHex), shared: true }, gained);
      // And the owner hears the visible ones among them (its own snapshot may be on its way too).
      const visible = await this.ctx.store.mutualContacts(owner.accountId, { among: gained, visibleOnly: true });
      const online = await this.directory.online(visible.map(toHex));
      for (const contact of visible) this.publish(contact, { online: online.has(toHex(contact)), shared: true }, [owner.accountId]);
    }
    this.publish(owner.accountId, NOT_SHARED, lost);
  }

  async contacts(owner: AuthenticatedDevice): Promise<{ contacts: Uint8Array[]; presenceVisible: boolean }> {
    const account = await this.ctx.store.getAccount(owner.accountId);
    return { contacts: await this.ctx.store.getContacts(owner.accountId), presenceVisible: account?.presenceVisible ?? false };
  }

  async setVisible(owner: AuthenticatedDevice, visible: boolean): Promise<void> {
    await this.ctx.store.setPresenceVisible(owner.accountId, visible);
    // Hiding reads as "not shared" (never as going offline, which would date the moment it happened);
    // showing again gives the current state.
    const audience = await this.ctx.store.mutualContacts(owner.accountId, { visibleOnly: false });
    this.publish(owner.accountId, visible ? { online: await this.isOnline(owner.accountHex), shared: true } : NOT_SHARED, audience);
  }

  /**
   * `shared` only for mutual contacts whose presence is visible, `online` only for those of them
   * who are connected; every other account reads exactly NOT_SHARED.
   */
  async snapshot(requester: AuthenticatedDevice, accounts: readonly Uint8Array[]): Promise<PresenceEntry[]> {
    const visible = new Set((await this.ctx.store.mutualContacts(requester.accountId, { among: accounts, visibleOnly: true })).map(toHex));
    const online = await this.directory.online([...visible]);
    return accounts.map((accountId) => {
      const hex = toHex(accountId);
      return visible.has(hex) ? { accountId, online: online.has(hex), shared: true } : { accountId, ...NOT_SHARED };
    });
  }

  private async isOnline(accountHex: string): Promise<boolean> {
    return (await this.directory.online([accountHex])).has(accountHex);
  }

  /** Called on an account's first connection (online) and after its last one closes (offline), anywhere. */
  async announce(accountId: Uint8Array, online: boolean): Promise<void> {
    const account = await this.ctx.store.getAccount(accountId);
    if (!account?.presenceVisible) return;
    const audience = await this.ctx.store.mutualContacts(accountId, { visibleOnly: false });
    this.publish(accountId, { online, shared: true }, audience);
  }

  private publish(accountId: Uint8Array, state: { readonly online: boolean; readonly shared: boolean }, audience: readonly Uint8Array[]): void {
    if (audience.length === 0) return;
    const event = { type: 'presence', accountId, online: state.online, shared: state.shared } as const;
    this.ctx.bus.publish({ kind: 'account-event', accountIds: audience.map(toHex), event });
  }
}
