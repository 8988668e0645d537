/**
 * What the context menus of a message and of a conversation offer (issue 12 "Rough edges"), as data:
 * groups of items, separated in the menu, each with its label and what it does. Only what exists
 * today is offered; later actions join as new items or groups here, the menu component
 * (ContextMenu.svelte) does not change.
 *
 * TODO(issue 12): "Reply" and "React" need engine channels that do not exist yet.
 */
import type { ConversationView, MessageView } from '../../../../shared/api/types.js';

export type MenuItem = {
  /** Stable key (also what tests and later code refer to). */
  readonly id: string;
  readonly label: string;
  /** Shown in the danger colour (delete, block). */
  readonly danger?: boolean;
  readonly run: () => void;
};

/** Groups of items; the menu draws a separator between groups. Empty groups are dropped. */
export type Menu = readonly (readonly MenuItem[])[];

export type MessageMenuActions = {
  /** Puts text on the clipboard. */
  readonly copy: (text: string) => void;
  readonly retry: (messageId: string) => void;
  /** Opens Message info (exact times, status per device). */
  readonly info: (messageId: string) => void;
  /** Asks, then deletes the message from this device only. */
  readonly deleteForMe: (messageId: string) => void;
  /** Asks, then deletes one of this account's own messages for everyone (within 24 hours). */
  readonly deleteForEveryone?: (messageId: string) => void;
};

/** Delete for everyone is offered for this long after sending (the engine enforces it too). */
export const DELETE_FOR_EVERYONE_WINDOW_MS = 24 * 3600_000;

/**
 * A message's menu: copy (the selected part when the person selected some of it, and the whole
 * text), retry for a message that failed, Info for a text or a file, Delete for me (notices
 * too: they are only on this device anyway), and Delete for everyone for an own text or file
 * within 24 hours of sending.
 */
export function messageMenu(message: MessageView, selection: string, actions: MessageMenuActions, now: number = Date.now()): Menu {
  const copy: MenuItem[] = [];
  if (message.kind === 'text' && message.body !== null) {
    const body = message.body;
    const part = selection.trim();
    if (part !== '' && part !== body.trim() && body.includes(part)) {
      copy.push({ id: 'copy-selection', label: 'Copy selected text', run: () => actions.copy(part) });
    }
    copy.push({ id: 'copy', label: 'Copy text', run: () => actions.copy(body) });
  }
  const send: MenuItem[] = [];
  if (message.direction === 'outgoing' && message.status === 'failed') {
    send.push({ id: 'retry', label: 'Send again', run: () => actions.retry(message.id) });
  }
  const info: MenuItem[] = [];
  if (message.kind === 'text' || message.kind === 'attachment') info.push({ id: 'info', label: 'Info', run: () => actions.info(message.id) });
  const remove: MenuItem[] = [{ id: 'delete-for-me', label: 'Delete for me', danger: true, run: () => actions.deleteForMe(message.id) }];
  const forEveryone = actions.deleteForEveryone;
  if (
    forEveryone &&
    message.direction === 'outgoing' &&
    (message.kind === 'text' || message.kind === 'attachment') &&
    now - message.sentAt <= DELETE_FOR_EVERYONE_WINDOW_MS
  ) {
    remove.push({ id: 'delete-for-everyone', label: 'Delete for everyone', danger: true, run: () => forEveryone(message.id) });
  }
  return [copy, send, info, remove].filter((group) => group.length > 0);
}

export type ConversationMenuActions = {
  readonly open: (conversationId: string) => void;
  readonly markRead: (conversationId: string, upToMessageId: string) => void;
  readonly verify: (contactId: string, conversationId: string) => void;
  readonly block: (contactId: string, title: string) => void;
  /** Asks first (the list shows the question), then deletes the conversation from this device. */
  readonly delete: (conversationId: string, title: string) => void;
};

/**
 * A conversation's menu: open it, mark it read (when something is unread), its safety number,
 * delete it (not for a request: its banner has Delete), block.
 */
export function conversationMenu(conversation: ConversationView, actions: ConversationMenuActions): Menu {
  const open: MenuItem[] = [{ id: 'open', label: 'Open', run: () => actions.open(conversation.id) }];
  const last = conversation.lastMessage;
  if (conversation.unreadCount > 0 && last !== null) {
    open.push({ id: 'mark-read', label: 'Mark as read', run: () => actions.markRead(conversation.id, last.id) });
  }
  const remove: MenuItem[] = conversation.request
    ? []
    : [{ id: 'delete', label: 'Delete conversation…', danger: true, run: () => actions.delete(conversation.id, conversation.title) }];
  // A note to self has no one to verify or block.
  if (conversation.kind === 'note-to-self') return [open, remove].filter((group) => group.length > 0);
  const safety: MenuItem[] = [
    {
      id: 'verify',
      label: conversation.verified ? 'Safety number' : 'Verify safety number',
      run: () => actions.verify(conversation.contactId, conversation.id),
    },
  ];
  const block: MenuItem[] = [{ id: 'block', label: 'Block', danger: true, run: () => actions.block(conversation.contactId, conversation.title) }];
  return [open, safety, remove, block].filter((group) => group.length > 0);
}
