/**
 * Typing indicators (issue 4): E2E typing content (content.ts) through the outbox, so the relay
 * cannot tell them from texts and cannot forge one.
 *
 * Outgoing, per conversation: while the user types (setTyping(true) on keystrokes) at most one
 * "started" per TYPING_SEND_INTERVAL_MS window; "stopped" after TYPING_IDLE_MS without a keystroke,
 * on setTyping(false) when a "started" went out, and on send. Nothing is sent while offline (a
 * stale indicator is worse than none), to a contact that has not been accepted (a message request)
 * or while the typingIndicators setting is off.
 *
 * Incoming: a "started" shows for TYPING_DISPLAY_MS unless renewed; "stopped" or a text from the
 * same contact clears it. Only live envelopes count (typing from the offline backlog is stale),
 * and nothing is shown while the setting is off. Timers and clock are injected (tests).
 */
import { toHex } from '../../../shared/crypto/bytes.js';
import type { Timers } from '../app-lock.js';
import { getContact } from '../db/contacts.js';
import { getConversation } from '../db/conversations.js';
import { encodeContent, MESSAGE_ID_LENGTH } from './content.js';
import type { MessagingCore } from './fan-out.js';
import { TYPING_DISPLAY_MS, TYPING_IDLE_MS, TYPING_SEND_INTERVAL_MS } from './limits.js';

type Outgoing = { peer: Uint8Array; lastStartedAt: number; idle: unknown };
type Incoming = { conversationId: number; contactId: string; clear: unknown };

export class Typing {
  readonly #outgoing = new Map<number, Outgoing>();
  readonly #incoming = new Map<string, Incoming>();

  constructor(
    private readonly core: MessagingCore,
    private readonly timers: Timers,
    private readonly kick: () => void,
  ) {}

  /** The engine stops: timers go, nothing is sent or shown any more. */
  stop(): void {
    for (const o of this.#outgoing.values()) this.timers.clearTimeout(o.idle);
    for (const i of this.#incoming.values()) this.timers.clearTimeout(i.clear);
    this.#outgoing.clear();
    this.#incoming.clear();
  }

  /** The setting was turned off: indicators shown now are cleared, nothing more goes out. */
  turnedOff(): void {
    for (const [contactId, entry] of [...this.#incoming]) this.#clear(contactId, entry);
    for (const o of this.#outgoing.values()) this.timers.clearTimeout(o.idle);
    this.#outgoing.clear();
  }

  // ── Outgoing ──

  /** conversations:setTyping. */
  set(conversationId: number, typing: boolean): void {
    const { core } = this;
    const conversation = getConversation(core.db.reader, conversationId);
    if (!conversation) return;
    const current = this.#outgoing.get(conversationId);
    if (!typing) {
      if (current) this.#stopped(conversationId, current);
      return;
    }
    if (!this.#allowed(conversation.peerAccountId)) return;
    const now = core.clock();
    if (current) {
      this.timers.clearTimeout(current.idle);
      current.idle = this.timers.setTimeout(() => this.#stopped(conversationId, current), TYPING_IDLE_MS);
      // A new window (or the clock was set back: start one).
      if (now - current.lastStartedAt >= TYPING_SEND_INTERVAL_MS || now < current.lastStartedAt) {
        current.lastStartedAt = now;
        this.#send(current.peer, 'started');
      }
      return;
    }
    const entry: Outgoing = { peer: conversation.peerAccountId, lastStartedAt: now, idle: null };
    entry.idle = this.timers.setTimeout(() => this.#stopped(conversationId, entry), TYPING_IDLE_MS);
    this.#outgoing.set(conversationId, entry);
    this.#send(entry.peer, 'started');
  }

  /** A message is being sent in the conversation: "stopped" goes first. */
  onSend(conversationId: number): void {
    const current = this.#outgoing.get(conversationId);
    if (current) this.#stopped(conversationId, current);
  }

  #stopped(conversationId: number, entry: Outgoing): void {
    if (this.#outgoing.get(conversationId) !== entry) return;
    this.timers.clearTimeout(entry.idle);
    this.#outgoing.delete(conversationId);
    try {
      if (this.#allowed(entry.peer)) this.#send(entry.peer, 'stopped');
    } catch {
      // Runs from a timer too: a lost "stopped" only means the receiver clears it after 5 s.
    }
  }

  #allowed(peer: Uint8Array): boolean {
    const { core } = this;
    if (core.stopped || core.relay.state !== 'open' || !core.settings().typingIndicators) return false;
    const contact = getContact(core.db.reader, peer);
    return contact !== undefined && contact.accepted && !contact.blocked && !contact.keyChangePending;
  }

  #send(peer: Uint8Array, state: 'started' | 'stopped'): void {
    const { core } = this;
    const content = encodeContent({ type: 'typing', messageId: core.rng(MESSAGE_ID_LENGTH), sentAt: core.clock(), state });
    core.db.writer.transaction(() => core.queueSend(core.db.writer, { kind: 'typing', recipient: peer, content, messageRowId: null }));
    this.kick();
  }

  // ── Incoming (called after the batch that carried it committed) ──

  received(peer: Uint8Array, conversationId: number, state: 'started' | 'stopped'): void {
    if (!this.core.settings().typingIndicators) return;
    const contactId = toHex(peer);
    const current = this.#incoming.get(contactId);
    if (state === 'stopped') {
      if (current) this.#clear(contactId, current);
      return;
    }
    if (current) this.timers.clearTimeout(current.clear);
    const entry: Incoming = { conversationId, contactId, clear: null };
    entry.clear = this.timers.setTimeout(() => this.#clear(contactId, entry), TYPING_DISPLAY_MS);
    this.#incoming.set(contactId, entry);
    if (!current) this.core.emit('typing', { conversationId: String(conversationId), contactId, typing: true });
  }

  /** A text from the peer ends its typing. */
  textFrom(peer: Uint8Array): void {
    const contactId = toHex(peer);
    const current = this.#incoming.get(contactId);
    if (current) this.#clear(contactId, current);
  }

  #clear(contactId: string, entry: Incoming): void {
    if (this.#incoming.get(contactId) !== entry) return;
    this.timers.clearTimeout(entry.clear);
    this.#incoming.delete(contactId);
    this.core.emit('typing', { conversationId: String(entry.conversationId), contactId, typing: false });
  }
}
