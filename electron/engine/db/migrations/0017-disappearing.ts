/**
 * Schema version 17: disappearing messages and delete for everyone (DESIGN §3.8,
 * docs/protocol.md §23, docs/adr/0030-disappearing-messages.md).
 *
 *  - messages.expire_timer_seconds: a text's or file's own timer (null: none); for a
 *    `timer-changed` notice, the value it set (0 = off).
 *  - messages.expire_started_at: when the timer started (outgoing: the send; incoming: when the
 *    message was first shown in a visible, focused window); null while it has not.
 *  - messages.expires_at: when the row is deleted (the started timer, or the maximum lifetime of
 *    a message not shown yet); null for untimed rows. `messages_expiring` finds the next ones.
 *  - conversation_timers: the conversation's current timer (0 = off) and the sender time of the
 *    change that set it (a change no newer than that is ignored).
 */
import type { Migration } from '../migrate.js';

export const migration0017: Migration = {
  version: 17,
  name: 'disappearing',
  up(db) {
    db.exec(`
      ALTER TABLE messages ADD COLUMN expire_timer_seconds INTEGER CHECK (expire_timer_seconds IS NULL OR expire_timer_seconds >= 0);
      ALTER TABLE messages ADD COLUMN expire_started_at INTEGER;
      ALTER TABLE messages ADD COLUMN expires_at INTEGER;
      CREATE INDEX messages_expiring ON messages (expires_at) WHERE expires_at IS NOT NULL;
      CREATE TABLE conversation_timers (
        conversation_id INTEGER PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
        seconds INTEGER NOT NULL CHECK (seconds >= 0),
        changed_at INTEGER NOT NULL
      ) STRICT;`);
  },
};
