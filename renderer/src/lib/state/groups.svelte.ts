/**
 * Groups in the renderer (issue 16, ADR 0032): the list of groups (groups:list, kept current by
 * `group:updated`), "New group" from contacts, and the open group — its messages (the group
 * conversation's pages), sending, the info panel's member actions (remove, make or unmake admin,
 * rename, leave) and "read by N of M" for an own message. Errors come back as the sentence the
 * person reads (describeError); nothing here holds a key. Does not own the 1:1 chat (chat.svelte.ts).
 */
import type { ApiResult, Bridge, ContactView, GroupReceiptsView, GroupView, MessageStatus, MessageView } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

const PAGE_SIZE = 100;

export class GroupsState {
  readonly #bridge: Bridge;
  #items = $state.raw<readonly GroupView[]>([]);
  #contacts = $state.raw<readonly ContactView[]>([]);
  #openId = $state<string | null>(null);
  #messages = $state.raw<readonly MessageView[]>([]);
  #receipts = $state.raw<GroupReceiptsView | null>(null);
  #error = $state<string | null>(null);
  #busy = $state(false);

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  /** Most recent activity first. */
  get items(): readonly GroupView[] {
    return [...this.#items].sort((a, b) => (b.lastMessage?.displayAt ?? 0) - (a.lastMessage?.displayAt ?? 0));
  }
  get contacts(): readonly ContactView[] {
    return this.#contacts;
  }
  get open(): GroupView | null {
    return this.#items.find((g) => g.id === this.#openId) ?? null;
  }
  get messages(): readonly MessageView[] {
    return this.#messages;
  }
  get receipts(): GroupReceiptsView | null {
    return this.#receipts;
  }
  get error(): string | null {
    return this.#error;
  }
  get busy(): boolean {
    return this.#busy;
  }

  byConversation(conversationId: string): GroupView | undefined {
    return this.#items.find((g) => g.conversationId === conversationId);
  }

  async load(): Promise<void> {
    const result = await settle(this.#bridge.listGroups({}));
    if (result.ok) this.#items = result.value;
  }

  /** Contacts a group can be made from (accepted, not blocked). */
  async loadContacts(): Promise<void> {
    const result = await settle(this.#bridge.listContacts({}));
    if (result.ok) this.#contacts = result.value.filter((c) => !c.blocked && c.accepted);
  }

  clear(): void {
    this.#items = [];
    this.#contacts = [];
    this.#openId = null;
    this.#messages = [];
    this.#receipts = null;
    this.#error = null;
  }

  clearError(): void {
    this.#error = null;
  }

  upsert(group: GroupView): void {
    this.#items = [...this.#items.filter((g) => g.id !== group.id), group];
  }

  async create(name: string, description: string, memberIds: readonly string[]): Promise<GroupView | null> {
    this.#busy = true;
    try {
      const result = await settle(this.#bridge.createGroup({ name, description, memberIds: [...memberIds] }));
      if (!result.ok) {
        this.#error = describeError(result.error);
        return null;
      }
      this.#error = null;
      this.upsert(result.value);
      return result.value;
    } finally {
      this.#busy = false;
    }
  }

  async openGroup(groupId: string): Promise<void> {
    this.#openId = groupId;
    this.#messages = [];
    this.#receipts = null;
    this.#error = null;
    const group = this.open;
    if (!group) return;
    const result = await settle(this.#bridge.openPage({ conversationId: group.conversationId, anchor: { kind: 'latest' }, limit: PAGE_SIZE }));
    if (result.ok && this.#openId === groupId) this.#messages = result.value.messages;
    const last = this.#messages.at(-1);
    if (last) void settle(this.#bridge.markRead({ conversationId: group.conversationId, upToMessageId: last.id }));
  }

  closeGroup(): void {
    this.#openId = null;
    this.#messages = [];
    this.#receipts = null;
  }

  /** A message of some conversation: added here when it is the open group's (and marked read). */
  onAdded(message: MessageView): boolean {
    const group = this.open;
    if (!group || group.conversationId !== message.conversationId) return false;
    if (!this.#messages.some((m) => m.id === message.id)) this.#messages = [...this.#messages, message];
    if (message.direction === 'incoming') void settle(this.#bridge.markRead({ conversationId: group.conversationId, upToMessageId: message.id }));
    return true;
  }

  onStatus(conversationId: string, messageId: string, status: MessageStatus): void {
    if (this.open?.conversationId !== conversationId) return;
    this.#messages = this.#messages.map((m) => (m.id === messageId ? { ...m, status } : m));
    if (this.#receipts?.messageId === messageId) void this.showReceipts(messageId);
  }

  async send(body: string): Promise<boolean> {
    const group = this.open;
    if (!group) return false;
    const result = await settle(this.#bridge.sendGroupMessage({ groupId: group.id, body }));
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    this.onAdded(result.value);
    return true;
  }

  async showReceipts(messageId: string): Promise<void> {
    const result = await settle(this.#bridge.groupReceipts({ messageId }));
    if (result.ok) this.#receipts = result.value;
    else this.#error = describeError(result.error);
  }

  hideReceipts(): void {
    this.#receipts = null;
  }

  /** One membership change of the open group; false (and the error shown) when refused. */
  async #change(call: () => Promise<ApiResult<GroupView>>): Promise<boolean> {
    this.#busy = true;
    try {
      const result = await settle(call());
      if (!result.ok) {
        this.#error = describeError(result.error);
        return false;
      }
      this.#error = null;
      this.upsert(result.value);
      return true;
    } finally {
      this.#busy = false;
    }
  }

  remove(memberId: string): Promise<boolean> {
    const groupId = this.#openId ?? '';
    return this.#change(() => this.#bridge.removeGroupMember({ groupId, memberId }));
  }

  setAdmin(memberId: string, admin: boolean): Promise<boolean> {
    const groupId = this.#openId ?? '';
    return this.#change(() => this.#bridge.setGroupAdmin({ groupId, memberId, admin }));
  }

  add(memberIds: readonly string[]): Promise<boolean> {
    const groupId = this.#openId ?? '';
    return this.#change(() => this.#bridge.addGroupMembers({ groupId, memberIds: [...memberIds] }));
  }

  rename(name: string): Promise<boolean> {
    const groupId = this.#openId ?? '';
    return this.#change(() => this.#bridge.renameGroup({ groupId, name }));
  }

  leave(): Promise<boolean> {
    const groupId = this.#openId ?? '';
    return this.#change(() => this.#bridge.leaveGroup({ groupId }));
  }
}
