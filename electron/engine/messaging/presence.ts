/**
 * Contacts' presence (issue 4): a snapshot from the relay at every connection, live `presence`
 * frames afterwards, `unknown` for everyone while this device is offline. The relay answers only
 * between mutual contacts whose presence is visible; everyone else — a contact who has not added us
 * back, one who hides presence — reads `not-shared`, with no last-seen time (issue 12: shown as
 * nothing, never as "Offline" or "Last seen now"; told apart from `unknown` so that a view can say
 * the relay has answered). The engine asks and listens
 * only for accepted contacts and never learns more. Our own visibility follows the presenceVisible
 * setting (sent at every connection and on change).
 *
 * lastSeenAt is the local time this device saw a sharing contact go offline (the relay keeps no
 * history); it is forgotten when the contact stops sharing, so it never dates a hide.
 */
import type { Presence } from '../../../shared/api/view-models.js';
import { fromHex, toHex } from '../../../shared/crypto/bytes.js';
import { acceptedContactIds } from '../db/contacts.js';
import { findDirectConversation } from '../db/conversations.js';
import { NOT_SHARED_PRESENCE, UNKNOWN_PRESENCE } from '../views.js';
import type { MessagingCore } from './fan-out.js';

export class PresenceTracker {
  readonly #presence = new Map<string, Presence>();
  #core: MessagingCore | null = null;

  attach(core: MessagingCore): void {
    this.#core = core;
  }

  get(accountId: Uint8Array): Presence {
    return this.#presence.get(toHex(accountId)) ?? UNKNOWN_PRESENCE;
  }

  /** Asks the relay about every accepted contact (after connecting or accepting someone). */
  async snapshot(): Promise<void> {
    const core = this.#core;
    if (!core) return;
    const accounts = acceptedContactIds(core.db.reader);
    if (accounts.length === 0) return;
    const entries = await core.relay.presence(accounts);
    core.check();
    for (const e of entries) this.#set(e.accountId, e.online, e.shared);
  }

  /** A live presence frame. */
  live(accountId: Uint8Array, online: boolean, shared: boolean): void {
    const core = this.#core;
    if (!core) return;
    const hex = toHex(accountId);
    if (!acceptedContactIds(core.db.reader).some((a) => toHex(a) === hex)) return;
    this.#set(accountId, online, shared);
  }

  /** This device lost the relay: nothing is known any more. */
  disconnected(): void {
    for (const [hex, p] of this.#presence) {
      if (p.state === 'unknown') continue;
      const next: Presence = p.state === 'not-shared' ? UNKNOWN_PRESENCE : { state: 'unknown', lastSeenAt: p.state === 'online' ? this.#core?.clock() ?? p.lastSeenAt : p.lastSeenAt };
      this.#presence.set(hex, next);
      this.#announce(hex, next);
    }
  }

  /** Sends the presenceVisible setting to the relay. */
  async publishVisibility(visible: boolean): Promise<void> {
    const core = this.#core;
    if (!core) return;
    await core.relay.setPresenceVisible(visible);
  }

  #set(accountId: Uint8Array, online: boolean, shared: boolean): void {
    const hex = toHex(accountId);
    const previous = this.#presence.get(hex) ?? UNKNOWN_PRESENCE;
    const now = this.#core?.clock() ?? 0;
    const next: Presence = !shared
      ? NOT_SHARED_PRESENCE
      : online
        ? { state: 'online', lastSeenAt: previous.lastSeenAt }
        : { state: 'offline', lastSeenAt: previous.state === 'online' ? now : previous.lastSeenAt };
    if (next.state === previous.state && next.lastSeenAt === previous.lastSeenAt) return;
    this.#presence.set(hex, next);
    this.#announce(hex, next);
  }

  #announce(hex: string, presence: Presence): void {
    const core = this.#core;
    if (!core || core.stopped) return;
    core.emit('presence', { contactId: hex, presence });
    const conversation = findDirectConversation(core.db.reader, fromHex(hex));
    if (conversation) core.emitConversation(conversation.id);
  }
}
