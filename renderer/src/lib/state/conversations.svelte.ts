/**
 * The conversation list: every conversation newest first (ordering.ts), kept current by
 * `conversation:updated`, `presence` and `typing` events, and the "new conversation by username"
 * request. A typing indicator expires on its own if the "stopped" event never comes (the peer went
 * offline mid-word). Later kinds (groups) arrive as new ConversationView kinds in the same list.
 */
import { SvelteSet } from 'svelte/reactivity';
import type { Bridge, ConversationView, Presence } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { compareConversations } from '../format/ordering.js';
import { browserTimers, settle, type Timers } from './call.js';

/** A typing indicator disappears this long after the last "typing" event without a refresh. */
export const TYPING_EXPIRY_MS = 8_000;

export class ConversationListState {
  readonly #bridge: Bridge;
  readonly #timers: Timers;
  #items = $state.raw<readonly ConversationView[]>([]);
  #loaded = $state(false);
  readonly #typing = new SvelteSet<string>();
  // Timer handles are bookkeeping, not state anything renders.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #typingTimers = new Map<string, unknown>();
  #sorted = $derived([...this.#items].sort(compareConversations));

  constructor(bridge: Bridge, timers: Timers = browserTimers) {
    this.#bridge = bridge;
    this.#timers = timers;
  }

  /** Newest activity first. */
  get items(): readonly ConversationView[] {
    return this.#sorted;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  byId(id: string): ConversationView | undefined {
    return this.#items.find((c) => c.id === id);
  }

  isTyping(conversationId: string): boolean {
    return this.#typing.has(conversationId);
  }

  async load(): Promise<string | null> {
    const result = await settle(this.#bridge.listConversations({}));
    if (!result.ok) return describeError(result.error);
    this.#items = result.value;
    this.#loaded = true;
    return null;
  }

  clear(): void {
    this.#items = [];
    this.#loaded = false;
    for (const handle of this.#typingTimers.values()) this.#timers.clearTimeout(handle);
    this.#typingTimers.clear();
    this.#typing.clear();
  }

  /** A conversation left the list (a deleted request, a blocked person). */
  remove(conversationId: string): void {
    this.#items = this.#items.filter((c) => c.id !== conversationId);
    this.setTyping(conversationId, false);
  }

  upsert(conversation: ConversationView): void {
    const others = this.#items.filter((c) => c.id !== conversation.id);
    this.#items = [...others, conversation];
  }

  setPresence(contactId: string, presence: Presence): void {
    if (!this.#items.some((c) => c.contactId === contactId)) return;
    this.#items = this.#items.map((c) => (c.contactId === contactId ? { ...c, presence } : c));
  }

  setTyping(conversationId: string, typing: boolean): void {
    const old = this.#typingTimers.get(conversationId);
    if (old !== undefined) this.#timers.clearTimeout(old);
    this.#typingTimers.delete(conversationId);
    if (typing) {
      this.#typing.add(conversationId);
      this.#typingTimers.set(
        conversationId,
        this.#timers.setTimeout(() => this.setTyping(conversationId, false), TYPING_EXPIRY_MS),
      );
    } else this.#typing.delete(conversationId);
  }

  /**
   * Marks a conversation read up to a message (its context menu); the engine's
   * `conversation:updated` event brings the new unread count. Returns the reason it failed, or null.
   */
  async markRead(conversationId: string, upToMessageId: string): Promise<string | null> {
    const result = await settle(this.#bridge.markRead({ conversationId, upToMessageId }));
    return result.ok ? null : describeError(result.error);
  }

  /**
   * The conversation with a username — a contact, added if new, or "Note to self" for this
   * account's own — and its id, or the reason it failed.
   */
  async startConversation(username: string): Promise<{ ok: true; conversationId: string } | { ok: false; message: string }> {
    const started = await settle(this.#bridge.startConversation({ username }));
    if (!started.ok) return { ok: false, message: describeError(started.error) };
    this.upsert(started.value);
    this.#loaded = true;
    return { ok: true, conversationId: started.value.id };
  }
}
