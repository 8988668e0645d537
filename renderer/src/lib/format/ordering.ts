/**
 * Display order of messages and conversations in the renderer (DESIGN §4 "ordered for display by
 * sender timestamp clamped to the receive time, stable tiebreak"). The engine computes `displayAt`
 * and pages in (displayAt, id) order; these helpers keep the renderer's window of a conversation
 * in the same order when events insert, replace or trim rows, so a late arrival slots in where the
 * engine would page it. Ids are decimal strings of safe integers, compared numerically.
 *
 * Not here: fetching pages (state/chat.svelte.ts), formatting times (time.ts).
 */
import type { ConversationView, MessageView } from '../../../../shared/api/types.js';

type Ordered = Pick<MessageView, 'id' | 'displayAt'>;

function idNumber(id: string): number {
  return Number(id);
}

/** Negative when `a` is shown before `b`. */
export function compareMessages(a: Ordered, b: Ordered): number {
  return a.displayAt - b.displayAt || idNumber(a.id) - idNumber(b.id);
}

/**
 * Inserts or replaces `message` in an ordered list (returns a new array). A message with a known id
 * is replaced in place of the old one and moved if its order changed.
 */
export function upsertMessage<T extends Ordered>(list: readonly T[], message: T): T[] {
  const without = list.filter((m) => m.id !== message.id);
  // Binary search for the first element that sorts after `message`.
  let lo = 0;
  let hi = without.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareMessages(without[mid]!, message) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return [...without.slice(0, lo), message, ...without.slice(lo)];
}

/** Whether a message belongs inside a window [first, last] that has more rows beyond its edges. */
export function fallsInWindow(list: readonly Ordered[], message: Ordered, edges: { hasOlder: boolean; hasNewer: boolean }): boolean {
  const first = list[0];
  const last = list[list.length - 1];
  if (first === undefined || last === undefined) return !edges.hasOlder && !edges.hasNewer;
  if (edges.hasOlder && compareMessages(message, first) < 0) return false;
  if (edges.hasNewer && compareMessages(message, last) > 0) return false;
  return true;
}

/** Conversation list order: newest activity first, then the higher id. */
export function compareConversations(a: Pick<ConversationView, 'id' | 'lastActivityAt'>, b: Pick<ConversationView, 'id' | 'lastActivityAt'>): number {
  return b.lastActivityAt - a.lastActivityAt || idNumber(b.id) - idNumber(a.id);
}

/** A row of the chat list: a message, or the day separator before the first message of a day. */
export type ChatRow<M extends Ordered = MessageView> =
  | { readonly kind: 'day'; readonly key: string; readonly at: number }
  | { readonly kind: 'message'; readonly key: string; readonly message: M };

/**
 * Messages interleaved with day separators. `dayOf` maps an instant to its calendar day (in the
 * viewer's time zone). A separator is placed before the first message of each day in the window;
 * the window's first message gets one too, so a scrolled-back window always says which day it shows.
 */
export function withDaySeparators<M extends Ordered>(messages: readonly M[], dayOf: (ts: number) => number): ChatRow<M>[] {
  const rows: ChatRow<M>[] = [];
  let previous: number | null = null;
  for (const message of messages) {
    const day = dayOf(message.displayAt);
    if (day !== previous) {
      rows.push({ kind: 'day', key: `day-${day}`, at: message.displayAt });
      previous = day;
    }
    rows.push({ kind: 'message', key: `m-${message.id}`, message });
  }
  return rows;
}
