/**
 * Rows of disappearing messages (DESIGN §3.8, docs/protocol.md §23): each conversation's current
 * timer, and the timed messages that are due. The timer of each message lives in its own row
 * (messages.expire_timer_seconds / expire_started_at / expires_at, written by insertMessage and
 * markReadUpTo). Does not own the rules (disappearing/timers.ts) or the deletion with its files
 * and events (disappearing/expiry.ts).
 */
import type { ReadDb, WriteDb } from './database.js';
import { sql } from './sql.js';

/** The conversation's timer in seconds (0 = off) and the sender time of the change that set it. */
export type ConversationTimer = { readonly seconds: number; readonly changedAt: number };

export function conversationTimer(db: ReadDb, conversationId: number): ConversationTimer {
  const r = db.get<{ seconds: number; changed_at: number }>(sql`SELECT seconds, changed_at FROM conversation_timers WHERE conversation_id = ${conversationId}`);
  return r ? { seconds: r.seconds, changedAt: r.changed_at } : { seconds: 0, changedAt: 0 };
}

/**
 * Applies a timer change made at `changedAt` (the changer's clock) unless the conversation holds
 * a change at least as new: the latest change wins everywhere, and a replayed or delayed older
 * one changes nothing. Returns whether it applied.
 */
export function applyTimerChange(db: WriteDb, conversationId: number, seconds: number, changedAt: number): boolean {
  return (
    db.run(sql`
      INSERT INTO conversation_timers (conversation_id, seconds, changed_at) VALUES (${conversationId}, ${seconds}, ${changedAt})
      ON CONFLICT (conversation_id) DO UPDATE SET seconds = excluded.seconds, changed_at = excluded.changed_at
        WHERE excluded.changed_at > conversation_timers.changed_at`).changes === 1
  );
}

/** The earliest deletion time of any timed row, or null. */
export function nextExpiry(db: ReadDb): number | null {
  return db.get<{ at: number | null }>(sql`SELECT min(expires_at) AS at FROM messages WHERE expires_at IS NOT NULL`)?.at ?? null;
}

/** Up to `limit` rows due at `now`, earliest first: id, conversation, whether a file belongs to it. */
export function dueForExpiry(db: ReadDb, now: number, limit: number): { readonly id: number; readonly conversationId: number; readonly attachment: boolean }[] {
  return db
    .all<{ id: number; conversation_id: number; attachment: number }>(sql`
      SELECT m.id, m.conversation_id, EXISTS (SELECT 1 FROM attachments a WHERE a.message_row_id = m.id) AS attachment
      FROM messages m WHERE m.expires_at IS NOT NULL AND m.expires_at <= ${now}
      ORDER BY m.expires_at LIMIT ${limit}`)
    .map((r) => ({ id: r.id, conversationId: r.conversation_id, attachment: r.attachment === 1 }));
}

/**
 * Own-device sync hook (helper `sync`, content 0x08–0x0B, not built here): another device of this
 * account first showed these incoming messages at `shownAt`, so their timers start as if shown
 * here. Returns the rows whose timer started.
 */
export function startTimersShownElsewhere(db: WriteDb, conversationId: number, messageIds: readonly Uint8Array[], shownAt: number): number {
  let started = 0;
  for (const messageId of messageIds) {
    started += db.run(sql`
      UPDATE messages SET expire_started_at = ${shownAt},
        expires_at = min(coalesce(expires_at, ${shownAt} + expire_timer_seconds * 1000), ${shownAt} + expire_timer_seconds * 1000)
      WHERE conversation_id = ${conversationId} AND direction = 'incoming' AND message_id = ${messageId}
        AND expire_timer_seconds IS NOT NULL AND expire_started_at IS NULL AND kind IN ('text', 'attachment')`).changes;
  }
  return started;
}
