import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertContact } from './contacts.js';
import { getOrCreateDirectConversation, listConversations } from './conversations.js';
import type { EngineDatabase } from './database.js';
import { displayTime, insertMessage, markReadUpTo, readPage, unreadCount, type MessageRecord } from './messages.js';
import { pendingReceipts, queueReceipt } from './receipts.js';
import { sql } from './sql.js';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';

let temp: TemporaryDatabase;
let db: EngineDatabase;
beforeAll(() => {
  temp = temporaryDatabase('parley-messages-');
  db = temp.db;
});
afterAll(() => temp.dispose());

/** Runs `fn` in a transaction that is always rolled back (one database for every property run). */
function scratch<T>(fn: () => T): T {
  let result!: T;
  const rollback = new Error('rollback');
  try {
    db.writer.transaction(() => {
      result = fn();
      throw rollback;
    });
  } catch (e) {
    if (e !== rollback) throw e;
  }
  return result;
}

const peers = [1, 2].map((i) => new Uint8Array(16).fill(i));

function setupConversations(): number[] {
  return peers.map((p, i) => {
    insertContact(db.writer, {
      accountId: p,
      username: `peer${i}`,
      accountKey: new Uint8Array(32).fill(9),
      deviceList: { signed: Uint8Array.of(0), version: 1, issuedAt: 0 },
      now: 0,
    });
    return getOrCreateDirectConversation(db.writer, p, 0).id;
  });
}

function add(conversationId: number, peer: Uint8Array, sentAt: number, receivedAt: number, body = 'x'): number {
  return insertMessage(db.writer, {
    conversationId,
    kind: 'text',
    direction: 'incoming',
    senderAccountId: peer,
    senderDeviceId: 1,
    messageId: randomBytes(16),
    sentAt,
    receivedAt,
    body,
    status: null,
    readAt: null,
  });
}

const ids = (ms: readonly MessageRecord[]) => ms.map((m) => m.id);

type Model = { id: number; displayAt: number }[];

/** Messages in two conversations (interleaved), with many equal display times. */
const history = fc.array(fc.record({ conversation: fc.nat(1), sentAt: fc.nat(30), delay: fc.integer({ min: -5, max: 10 }) }), {
  minLength: 1,
  maxLength: 80,
});

function build(rows: { conversation: number; sentAt: number; delay: number }[]): { conversations: number[]; models: Model[] } {
  const conversations = setupConversations();
  const models: Model[] = [[], []];
  for (const r of rows) {
    const receivedAt = 100 + r.sentAt + r.delay;
    const id = add(conversations[r.conversation]!, peers[r.conversation]!, r.sentAt + 100, receivedAt);
    models[r.conversation]!.push({ id, displayAt: displayTime(r.sentAt + 100, receivedAt) });
  }
  for (const m of models) m.sort((a, b) => a.displayAt - b.displayAt || a.id - b.id);
  return { conversations, models };
}

describe('keyset pagination', () => {
  it('latest / before / after pages are exactly the neighbouring slices of the display order', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 12 }), fc.nat(), (rows, limit, pick) =>
        scratch(() => {
          const { conversations, models } = build(rows);
          for (const [c, model] of models.entries()) {
            const conversationId = conversations[c]!;
            const latest = readPage(db.writer, conversationId, { kind: 'latest' }, limit);
            expect(ids(latest.messages)).toEqual(model.slice(-limit).map((m) => m.id));
            expect(latest.hasOlder).toBe(model.length > limit);
            expect(latest.hasNewer).toBe(false);
            if (model.length === 0) continue;
            const a = pick % model.length;
            const anchor = model[a]!;
            const before = readPage(db.writer, conversationId, { kind: 'before', message: anchor }, limit);
            expect(ids(before.messages)).toEqual(model.slice(Math.max(0, a - limit), a).map((m) => m.id));
            expect(before.hasOlder).toBe(a - limit > 0);
            const after = readPage(db.writer, conversationId, { kind: 'after', message: anchor }, limit);
            expect(ids(after.messages)).toEqual(model.slice(a + 1, a + 1 + limit).map((m) => m.id));
            expect(after.hasNewer).toBe(a + 1 + limit < model.length);
          }
        }),
      ),
      { numRuns: 150 },
    );
  });

  it('an around page is a contiguous window holding the anchor, centred when both sides allow', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 12 }), fc.nat(), (rows, limit, pick) =>
        scratch(() => {
          const { conversations, models } = build(rows);
          const model = models[0]!.length > 0 ? models[0]! : models[1]!;
          const conversationId = models[0]!.length > 0 ? conversations[0]! : conversations[1]!;
          const a = pick % model.length;
          const page = readPage(db.writer, conversationId, { kind: 'around', message: model[a]! }, limit);
          const got = ids(page.messages);
          const start = model.findIndex((m) => m.id === got[0]);
          expect(got).toEqual(model.slice(start, start + got.length).map((m) => m.id));
          expect(got).toContain(model[a]!.id);
          expect(got.length).toBe(Math.min(limit, model.length));
          expect(page.hasOlder).toBe(start > 0);
          expect(page.hasNewer).toBe(start + got.length < model.length);
          const olderRoom = Math.floor((limit - 1) / 2);
          if (a >= olderRoom && model.length - a - 1 >= limit - 1 - olderRoom) expect(a - start).toBe(olderRoom);
        }),
      ),
      { numRuns: 150 },
    );
  });

  it('walking back page by page from the newest visits every message exactly once, in order', () => {
    fc.assert(
      fc.property(history, fc.integer({ min: 1, max: 7 }), (rows, limit) =>
        scratch(() => {
          const { conversations, models } = build(rows);
          for (const [c, model] of models.entries()) {
            let page = readPage(db.writer, conversations[c]!, { kind: 'latest' }, limit);
            const seen = [...ids(page.messages)];
            while (page.hasOlder) {
              page = readPage(db.writer, conversations[c]!, { kind: 'before', message: page.messages[0]! }, limit);
              seen.unshift(...ids(page.messages));
            }
            expect(seen).toEqual(model.map((m) => m.id));
          }
        }),
      ),
      { numRuns: 100 },
    );
  });

  it('seeks through the messages_by_order index: no scan, no sort, no OFFSET', () => {
    const plan = db.reader
      .all<{ detail: string }>(sql`
        EXPLAIN QUERY PLAN SELECT * FROM messages WHERE conversation_id = ${1} AND (display_at, id) < (${5}, ${9})
        ORDER BY display_at DESC, id DESC LIMIT ${10}`)
      .map((r) => r.detail)
      .join('\n');
    expect(plan).toContain('messages_by_order');
    expect(plan).not.toMatch(/TEMP B-TREE|SCAN messages\b(?! USING)/);
  });
});

describe('display order and read state', () => {
  it('clamps a sender timestamp from the future to the receive time; late arrivals slot in by sender time', () => {
    scratch(() => {
      const [c] = setupConversations();
      const a = add(c!, peers[0]!, 1_000, 1_000);
      const future = add(c!, peers[0]!, 9_999_999, 2_000);
      const late = add(c!, peers[0]!, 500, 3_000);
      const page = readPage(db.writer, c!, { kind: 'latest' }, 10);
      expect(ids(page.messages)).toEqual([late, a, future]);
      expect(page.messages[2]!.displayAt).toBe(2_000);
    });
  });

  it('marks read up to a message and no further; unread counts follow', () => {
    scratch(() => {
      const [c] = setupConversations();
      const m = [1, 2, 3, 4].map((t) => add(c!, peers[0]!, t * 10, t * 10));
      expect(unreadCount(db.writer, c!)).toBe(4);
      const changed = markReadUpTo(db.writer, c!, { id: m[1]!, displayAt: 20 }, 99);
      expect(ids(changed)).toEqual([m[0], m[1]]);
      expect(unreadCount(db.writer, c!)).toBe(2);
      expect(markReadUpTo(db.writer, c!, { id: m[1]!, displayAt: 20 }, 100)).toEqual([]);
      const list = listConversations(db.writer, 120).find((r) => r.conversation.id === c);
      expect(list!.unreadCount).toBe(2);
      expect(list!.lastMessage!.id).toBe(m[3]);
    });
  });

  it('queued receipts name each message once, grouped per peer and kind', () => {
    scratch(() => {
      const [peer, other] = [peers[0]!, peers[1]!];
      const [a, b, c] = [randomBytes(16), randomBytes(16), randomBytes(16)];
      queueReceipt(db.writer, { peerAccountId: peer, kind: 'read', messageId: a }, 1);
      queueReceipt(db.writer, { peerAccountId: peer, kind: 'read', messageId: b }, 2);
      queueReceipt(db.writer, { peerAccountId: peer, kind: 'read', messageId: a }, 3);
      queueReceipt(db.writer, { peerAccountId: peer, kind: 'delivered', messageId: c }, 4);
      queueReceipt(db.writer, { peerAccountId: other, kind: 'delivered', messageId: c }, 5);
      const queued = pendingReceipts(db.writer);
      expect(queued.map((r) => [r.kind, r.messageIds.length])).toEqual([['read', 2], ['delivered', 1], ['delivered', 1]]);
      expect(queued[0]!.messageIds).toEqual([new Uint8Array(a), new Uint8Array(b)]);
    });
  });
});
