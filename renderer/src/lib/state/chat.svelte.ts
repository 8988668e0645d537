/**
 * One open conversation: a window of at most MAX_WINDOW messages in display order, paged from the
 * engine by keyset (`latest`, `before`, `after`) as the person scrolls, so the DOM never holds more
 * than the window however long the history is (issue 5: ≤ 200 message rows). Events insert, replace
 * and restatus rows that fall inside the window (ordering.ts); a late arrival slots in by displayAt.
 * A search result opens the window `around` its message, anywhere in history (issue 6): the list
 * scrolls that message into view, focuses and highlights it (`found`).
 *
 * Also owns the conversation's outgoing side: send and retry, typing notifications (throttled:
 * "typing" at most every TYPING_REFRESH_MS, "stopped" after TYPING_IDLE_MS without input or on send),
 * and read marking, which the app calls only while the window is focused and visible.
 */
import type { Bridge, MessageInfo, MessageStatus, MessageView } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { fallsInWindow, upsertMessage } from '../format/ordering.js';
import { browserTimers, settle, type Timers } from './call.js';

/** Messages per page request. */
export const PAGE_SIZE = 50;
/** Messages kept in the window (and so in the DOM); the contract allows pages of 200. */
export const MAX_WINDOW = 150;
export const TYPING_REFRESH_MS = 3_000;
export const TYPING_IDLE_MS = 5_000;

type Loading = 'idle' | 'initial' | 'older' | 'newer';

export type ChatOptions = {
  readonly timers?: Timers;
  /** The typing-indicators setting: when off, nothing is sent. */
  readonly typingEnabled?: () => boolean;
  readonly pageSize?: number;
  readonly maxWindow?: number;
};

export class ChatState {
  readonly conversationId: string;
  readonly #bridge: Bridge;
  readonly #timers: Timers;
  readonly #typingEnabled: () => boolean;
  readonly #pageSize: number;
  readonly #maxWindow: number;
  #messages = $state.raw<readonly MessageView[]>([]);
  #hasOlder = $state(false);
  #hasNewer = $state(false);
  #loading = $state<Loading>('idle');
  #opened = $state(false);
  #error = $state<string | null>(null);
  /** The message a search result asked to show: `seq` changes with every request, even for the same message. */
  #found = $state.raw<{ readonly id: string; readonly seq: number } | null>(null);
  #foundSeq = 0;
  #readRequested: string | null = null;
  #typingSentAt: number | null = null;
  #typingStop: unknown = null;
  #disposed = false;
  /** Events that arrived while the first page was on its way: replayed on top of it. */
  #early: (() => void)[] | null = null;

  constructor(bridge: Bridge, conversationId: string, options: ChatOptions = {}) {
    this.#bridge = bridge;
    this.conversationId = conversationId;
    this.#timers = options.timers ?? browserTimers;
    this.#typingEnabled = options.typingEnabled ?? (() => true);
    this.#pageSize = options.pageSize ?? PAGE_SIZE;
    this.#maxWindow = options.maxWindow ?? MAX_WINDOW;
  }

  /** Oldest first. */
  get messages(): readonly MessageView[] {
    return this.#messages;
  }
  get hasOlder(): boolean {
    return this.#hasOlder;
  }
  get hasNewer(): boolean {
    return this.#hasNewer;
  }
  get loading(): Loading {
    return this.#loading;
  }
  /** The first page has arrived. */
  get opened(): boolean {
    return this.#opened;
  }
  get error(): string | null {
    return this.#error;
  }
  clearError(): void {
    this.#error = null;
  }
  /** The message to bring into view, focus and highlight (a search result), or null. */
  get found(): { readonly id: string; readonly seq: number } | null {
    return this.#found;
  }

  async #page(anchor: Parameters<Bridge['openPage']>[0]['anchor']) {
    const result = await settle(this.#bridge.openPage({ conversationId: this.conversationId, anchor, limit: this.#pageSize }));
    if (!result.ok) this.#error = describeError(result.error);
    return result.ok && !this.#disposed ? result.value : null;
  }

  /** Loads the newest page (also "jump to the latest"). */
  async open(): Promise<void> {
    this.#found = null;
    this.#loading = 'initial';
    this.#early = [];
    const page = await this.#page({ kind: 'latest' });
    this.#loading = 'idle';
    const early = this.#early;
    this.#early = null;
    if (page === null) return;
    this.#messages = page.messages;
    this.#hasOlder = page.hasOlder;
    this.#hasNewer = false;
    this.#opened = true;
    // The engine may have read the page before or after these happened; applying them again is harmless.
    for (const replay of early) replay();
  }

  /**
   * Shows `messageId` (a search result): the window becomes the page around it — anywhere in the
   * history, with older and newer pages loading as the person scrolls — unless it is in the window
   * already. A message that is gone (deleted since the search) opens the newest page instead.
   */
  async openAround(messageId: string): Promise<void> {
    const seq = ++this.#foundSeq;
    if (this.#opened && this.#loading === 'idle' && this.#messages.some((m) => m.id === messageId)) {
      this.#found = { id: messageId, seq };
      return;
    }
    this.#loading = 'initial';
    this.#early = [];
    const result = await settle(this.#bridge.openPage({ conversationId: this.conversationId, anchor: { kind: 'around', messageId }, limit: this.#pageSize }));
    this.#loading = 'idle';
    const early = this.#early;
    this.#early = null;
    if (this.#disposed || seq !== this.#foundSeq) return;
    if (!result.ok) {
      if (result.error.code === 'NOT_FOUND') return this.open();
      this.#error = describeError(result.error);
      return;
    }
    const page = result.value;
    this.#messages = page.messages;
    this.#hasOlder = page.hasOlder;
    this.#hasNewer = page.hasNewer;
    this.#opened = true;
    this.#found = { id: messageId, seq };
    for (const replay of early) replay();
  }

  /** Runs `apply` now, and once more after a first page that is still on its way. */
  #apply(apply: () => void): void {
    this.#early?.push(apply);
    apply();
  }

  /** Prepends the page before the window; drops the newest rows beyond the window size. */
  async loadOlder(): Promise<boolean> {
    const first = this.#messages[0];
    if (!this.#hasOlder || this.#loading !== 'idle' || first === undefined) return false;
    this.#loading = 'older';
    const page = await this.#page({ kind: 'before', messageId: first.id });
    this.#loading = 'idle';
    if (page === null) return false;
    let next = [...page.messages.filter((m) => !this.#messages.some((x) => x.id === m.id)), ...this.#messages];
    if (next.length > this.#maxWindow) {
      next = next.slice(0, this.#maxWindow);
      this.#hasNewer = true;
    }
    this.#messages = next;
    this.#hasOlder = page.hasOlder;
    return page.messages.length > 0;
  }

  /** Appends the page after the window; drops the oldest rows beyond the window size. */
  async loadNewer(): Promise<boolean> {
    const last = this.#messages[this.#messages.length - 1];
    if (!this.#hasNewer || this.#loading !== 'idle' || last === undefined) return false;
    this.#loading = 'newer';
    const page = await this.#page({ kind: 'after', messageId: last.id });
    this.#loading = 'idle';
    if (page === null) return false;
    let next = [...this.#messages, ...page.messages.filter((m) => !this.#messages.some((x) => x.id === m.id))];
    if (next.length > this.#maxWindow) {
      next = next.slice(next.length - this.#maxWindow);
      this.#hasOlder = true;
    }
    this.#messages = next;
    this.#hasNewer = page.hasNewer;
    return page.messages.length > 0;
  }

  #trimOldest(): void {
    if (this.#messages.length > this.#maxWindow) {
      this.#messages = this.#messages.slice(this.#messages.length - this.#maxWindow);
      this.#hasOlder = true;
    }
  }

  // ── Events ────────────────────────────────────────────────────────────────

  onAdded(message: MessageView): void {
    if (message.conversationId !== this.conversationId) return;
    this.#apply(() => this.#added(message));
  }

  #added(message: MessageView): void {
    if (!this.#opened) return;
    if (!fallsInWindow(this.#messages, message, { hasOlder: this.#hasOlder, hasNewer: this.#hasNewer })) return;
    this.#messages = upsertMessage(this.#messages, message);
    if (!this.#hasNewer) this.#trimOldest();
  }

  onUpdated(message: MessageView): void {
    if (message.conversationId !== this.conversationId) return;
    this.#apply(() => {
      if (this.#messages.some((m) => m.id === message.id)) this.#messages = upsertMessage(this.#messages, message);
    });
  }

  onStatus(messageId: string, status: MessageStatus): void {
    this.#apply(() => {
      if (!this.#messages.some((m) => m.id === messageId)) return;
      this.#messages = this.#messages.map((m) => (m.id === messageId ? { ...m, status } : m));
    });
  }

  // ── Outgoing ──────────────────────────────────────────────────────────────

  async send(body: string): Promise<boolean> {
    if (body.trim() === '') return false;
    this.stopTyping();
    if (this.#hasNewer) await this.open();
    const result = await settle(this.#bridge.send({ conversationId: this.conversationId, body }));
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    this.#error = null;
    this.#messages = upsertMessage(this.#messages, result.value);
    this.#trimOldest();
    return true;
  }

  /** A message this window sent by another path (an attachment): shown at once. */
  sent(message: MessageView): void {
    if (message.conversationId !== this.conversationId) return;
    this.#error = null;
    this.#messages = upsertMessage(this.#messages, message);
    this.#trimOldest();
  }

  showError(error: string): void {
    this.#error = error;
  }

  async retry(messageId: string): Promise<void> {
    const result = await settle(this.#bridge.retry({ messageId }));
    if (!result.ok) {
      this.#error = describeError(result.error);
      return;
    }
    this.onUpdated(result.value);
  }

  /** Message info (exact times, status per device), or null with the error shown. */
  async info(messageId: string): Promise<MessageInfo | null> {
    const result = await settle(this.#bridge.messageInfo({ messageId }));
    if (!result.ok) {
      this.#error = describeError(result.error);
      return null;
    }
    return result.value;
  }

  /** Delete for me: the message leaves this device (the person confirmed first). */
  async deleteForMe(messageId: string): Promise<boolean> {
    const result = await settle(this.#bridge.deleteForMe({ messageId }));
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    this.onRemoved(messageId);
    return true;
  }

  /** Delete for everyone: an own message (the person confirmed first); its row becomes "This message was deleted". */
  async deleteForEveryone(messageId: string): Promise<boolean> {
    const result = await settle(this.#bridge.deleteForEveryone({ messageId }));
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    return true;
  }

  /** The conversation's disappearing-message timer (0 = off); the error's wording, or null. */
  async setTimer(seconds: number): Promise<string | null> {
    const result = await settle(this.#bridge.setTimer({ conversationId: this.conversationId, seconds }));
    if (!result.ok) {
      this.#error = describeError(result.error);
      return this.#error;
    }
    return null;
  }

  /** A message left this device (here or by an event). */
  onRemoved(messageId: string): void {
    this.#apply(() => {
      if (this.#messages.some((m) => m.id === messageId)) this.#messages = this.#messages.filter((m) => m.id !== messageId);
    });
  }

  /**
   * Marks the window's incoming messages read up to the newest unread one. The caller passes
   * whether the window is focused and visible; nothing is marked otherwise.
   */
  async markReadIfActive(active: boolean): Promise<void> {
    if (!active || !this.#opened) return;
    let target: MessageView | undefined;
    for (let i = this.#messages.length - 1; i >= 0; i--) {
      const m = this.#messages[i]!;
      if (m.direction === 'incoming' && !m.read) {
        target = m;
        break;
      }
    }
    if (target === undefined || target.id === this.#readRequested) return;
    this.#readRequested = target.id;
    const result = await settle(this.#bridge.markRead({ conversationId: this.conversationId, upToMessageId: target.id }));
    if (!result.ok) this.#readRequested = null;
  }

  /** The composer's text changed. */
  composing(text: string): void {
    if (!this.#typingEnabled()) return;
    if (text.trim() === '') {
      this.stopTyping();
      return;
    }
    const now = this.#timers.now();
    if (this.#typingSentAt === null || now - this.#typingSentAt >= TYPING_REFRESH_MS) {
      this.#typingSentAt = now;
      void settle(this.#bridge.setTyping({ conversationId: this.conversationId, typing: true }));
    }
    if (this.#typingStop !== null) this.#timers.clearTimeout(this.#typingStop);
    this.#typingStop = this.#timers.setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    if (this.#typingStop !== null) this.#timers.clearTimeout(this.#typingStop);
    this.#typingStop = null;
    if (this.#typingSentAt === null) return;
    this.#typingSentAt = null;
    void settle(this.#bridge.setTyping({ conversationId: this.conversationId, typing: false }));
  }

  /** The conversation was closed. */
  dispose(): void {
    this.stopTyping();
    this.#disposed = true;
  }
}
