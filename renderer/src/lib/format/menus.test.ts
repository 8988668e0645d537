import { describe, expect, it } from 'vitest';
import type { ConversationView, MessageView } from '../../../../shared/api/types.js';
import { conversationMenu, messageMenu } from './menus.js';

const message = (over: Partial<MessageView> = {}): MessageView =>
  ({
    id: '7',
    conversationId: '1',
    kind: 'text',
    direction: 'incoming',
    senderId: 'aa'.repeat(16),
    body: 'The code is 4711',
    displayAt: 0,
    sentAt: 0,
    status: null,
    read: true,
    ...over,
  }) as MessageView;

const conversation = (over: Partial<ConversationView> = {}): ConversationView =>
  ({
    id: '1',
    kind: 'direct',
    contactId: 'bb'.repeat(16),
    title: 'bob',
    unreadCount: 0,
    lastMessage: { id: '9', kind: 'text', direction: 'incoming', preview: 'hi', displayAt: 0, status: null },
    presence: { state: 'unknown', lastSeenAt: null },
    verified: false,
    quantumResistant: true,
    sealedSender: 'sealed',
    keyChangePending: false,
    lastActivityAt: 0,
    ...over,
  }) as ConversationView;

const labels = (menu: ReturnType<typeof messageMenu>) => menu.map((group) => group.map((item) => item.label));

describe('context menus', () => {
  it('Delete for everyone is offered for an own text or file within 24 hours of sending, and nothing else', () => {
    const calls: string[] = [];
    const actions = { copy: () => undefined, retry: () => undefined, info: () => undefined, deleteForMe: () => undefined, deleteForEveryone: (id: string) => calls.push(`everyone ${id}`) };
    const sentAt = 1_000_000;
    const own = message({ direction: 'outgoing', senderId: null, status: 'read', sentAt });
    const menu = messageMenu(own, '', actions, sentAt + 24 * 3600_000);
    expect(labels(menu)).toEqual([['Copy text'], ['Info'], ['Delete for me', 'Delete for everyone']]);
    menu[2]![1]!.run();
    expect(calls).toEqual(['everyone 7']);
    expect(labels(messageMenu(own, '', actions, sentAt + 24 * 3600_000 + 1))).toEqual([['Copy text'], ['Info'], ['Delete for me']]);
    expect(labels(messageMenu(message({ sentAt }), '', actions, sentAt))).toEqual([['Copy text'], ['Info'], ['Delete for me']]);
    expect(labels(messageMenu(message({ kind: 'deleted', body: null, direction: 'outgoing', sentAt }), '', actions, sentAt))).toEqual([['Delete for me']]);
    expect(labels(messageMenu(message({ kind: 'attachment', body: null, direction: 'outgoing', sentAt }), '', actions, sentAt))).toEqual([['Info'], ['Delete for me', 'Delete for everyone']]);
  });

  it('a message copies its whole text, and the selected part when part of it is selected', () => {
    const copied: string[] = [];
    const actions = { copy: (t: string) => copied.push(t), retry: () => undefined, info: () => undefined, deleteForMe: () => undefined };
    expect(labels(messageMenu(message(), '', actions))).toEqual([['Copy text'], ['Info'], ['Delete for me']]);
    const menu = messageMenu(message(), ' 4711 ', actions);
    expect(labels(menu)).toEqual([['Copy selected text', 'Copy text'], ['Info'], ['Delete for me']]);
    for (const item of menu[0]!) item.run();
    expect(copied).toEqual(['4711', 'The code is 4711']);
    // A selection reaching outside the message is not offered as "selected text".
    expect(labels(messageMenu(message(), 'The code is 4711 and more', actions))[0]).toEqual(['Copy text']);
  });

  it('a failed outgoing message can be sent again; notices have nothing to copy and no info, but can be deleted', () => {
    const calls: string[] = [];
    const actions = {
      copy: () => undefined,
      retry: (id: string) => calls.push(`retry ${id}`),
      info: (id: string) => calls.push(`info ${id}`),
      deleteForMe: (id: string) => calls.push(`delete ${id}`),
    };
    const failed = messageMenu(message({ direction: 'outgoing', status: 'failed' }), '', actions);
    expect(labels(failed)).toEqual([['Copy text'], ['Send again'], ['Info'], ['Delete for me']]);
    for (const group of failed.slice(1)) group[0]!.run();
    expect(calls).toEqual(['retry 7', 'info 7', 'delete 7']);
    expect(failed[3]![0]!.danger).toBe(true);
    expect(labels(messageMenu(message({ kind: 'key-changed', body: null }), '', actions))).toEqual([['Delete for me']]);
    // A file has Info and Delete for me, nothing to copy.
    expect(labels(messageMenu(message({ kind: 'attachment', body: null }), '', actions))).toEqual([['Info'], ['Delete for me']]);
  });

  it('a conversation offers Mark as read only with something unread, up to its newest message, Delete conversation (not for a request) and Block', () => {
    const calls: string[] = [];
    const actions = {
      open: (id: string) => calls.push(`open ${id}`),
      markRead: (id: string, upTo: string) => calls.push(`read ${id} ${upTo}`),
      verify: (contact: string, id: string) => calls.push(`verify ${contact.slice(0, 2)} ${id}`),
      block: (contact: string) => calls.push(`block ${contact.slice(0, 2)}`),
      delete: (id: string) => calls.push(`delete ${id}`),
    };
    expect(labels(conversationMenu(conversation(), actions))).toEqual([['Open'], ['Verify safety number'], ['Delete conversation…'], ['Block']]);
    const unread = conversationMenu(conversation({ unreadCount: 2, verified: true }), actions);
    expect(labels(unread)).toEqual([['Open', 'Mark as read'], ['Safety number'], ['Delete conversation…'], ['Block']]);
    expect(unread[2]![0]!.danger).toBe(true);
    expect(unread[3]![0]!.danger).toBe(true);
    for (const group of unread) for (const item of group) item.run();
    expect(calls).toEqual(['open 1', 'read 1 9', 'verify bb 1', 'delete 1', 'block bb']);
    // A request has its own Delete (in its banner): the menu keeps to Open, safety number and Block.
    expect(labels(conversationMenu(conversation({ request: true }), actions))).toEqual([['Open'], ['Verify safety number'], ['Block']]);
  });
});
