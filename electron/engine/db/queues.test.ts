import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertContact } from './contacts.js';
import { getOrCreateDirectConversation } from './conversations.js';
import type { EngineDatabase } from './database.js';
import { pruneReceived, recordReceived, wasReceived } from './inbound.js';
import { getMessage, insertMessage, updateMessageStatus } from './messages.js';
import { completeSend, countOutbox, deferSend, dueSends, enqueueSend } from './outbox.js';
import { pendingReceipts, queueReceipt, removeReceipts } from './receipts.js';
import { bindable, sql } from './sql.js';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';

let temp: TemporaryDatabase;
let db: EngineDatabase;
beforeAll(() => {
  temp = temporaryDatabase('parley-queues-');
  db = temp.db;
});
afterAll(() => temp.dispose());

const PEER = new Uint8Array(16).fill(3);
const SELF = new Uint8Array(16).fill(4);

describe('sql tag', () => {
  it('turns every value into a parameter, splices fragments with theirs, and binds bytes and booleans', () => {
    const inner = sql`AND b = ${'two'}`;
    const q = sql`SELECT * FROM t WHERE a = ${1} ${inner} AND c = ${true} AND d = ${Uint8Array.of(1, 2)}`;
    expect(q.text).toBe('SELECT * FROM t WHERE a = ? AND b = ? AND c = ? AND d = ?');
    expect(q.params).toEqual([1, 'two', 1, Uint8Array.of(1, 2)]);
    expect(Buffer.isBuffer(bindable(q.params)[3])).toBe(true);
  });
});

describe('outbox', () => {
  it('keeps a send with all its envelopes until the relay acknowledges it; a failure defers it', () => {
    const id = db.writer.transaction(() =>
      enqueueSend(db.writer, {
        kind: 'message',
        messageRowId: null,
        recipientAccountId: PEER,
        envelopes: [
          { deviceId: 2, envelope: Uint8Array.of(2) },
          { deviceId: 1, envelope: Uint8Array.of(1) },
        ],
        now: 100,
      }),
    );
    const [due] = dueSends(db.reader, 100, 10);
    expect(due).toMatchObject({ id, kind: 'message', attempts: 0 });
    expect(due!.envelopes).toEqual([
      { deviceId: 1, envelope: Uint8Array.of(1) },
      { deviceId: 2, envelope: Uint8Array.of(2) },
    ]);
    db.writer.transaction(() => deferSend(db.writer, id, 5_000, 'RELAY_UNAVAILABLE'));
    expect(dueSends(db.reader, 4_999, 10)).toEqual([]);
    expect(dueSends(db.reader, 5_000, 10)[0]!.attempts).toBe(1);
    db.writer.transaction(() => completeSend(db.writer, id));
    expect(countOutbox(db.reader)).toBe(0);
    expect(db.reader.all(sql`SELECT * FROM outbox_envelopes`)).toEqual([]);
  });
});

describe('inbound de-duplication', () => {
  it('records (sender account, device, message id) once; a redelivery is a duplicate', () => {
    const k = { senderAccountId: PEER, senderDeviceId: 1, messageId: randomBytes(16) };
    expect(wasReceived(db.reader, k)).toBe(false);
    expect(db.writer.transaction(() => recordReceived(db.writer, k, 1_000))).toBe(true);
    expect(db.writer.transaction(() => recordReceived(db.writer, k, 2_000))).toBe(false);
    expect(wasReceived(db.reader, k)).toBe(true);
    // Another device of the same account may use the same id.
    expect(db.writer.transaction(() => recordReceived(db.writer, { ...k, senderDeviceId: 2 }, 1_000))).toBe(true);
    expect(db.writer.transaction(() => pruneReceived(db.writer, 1_001))).toBe(2);
    expect(wasReceived(db.reader, k)).toBe(false);
  });
});

describe('statuses and receipts', () => {
  it('updates the status of outgoing messages only', () => {
    const ids = db.writer.transaction(() => {
      insertContact(db.writer, { accountId: PEER, username: 'p', accountKey: new Uint8Array(32), deviceList: { signed: Uint8Array.of(0), version: 1, issuedAt: 0 }, now: 0 });
      const c = getOrCreateDirectConversation(db.writer, PEER, 0).id;
      const base = { conversationId: c, kind: 'text' as const, senderDeviceId: 1, sentAt: 1, receivedAt: 1, body: 'b', readAt: null };
      return [
        insertMessage(db.writer, { ...base, direction: 'outgoing', senderAccountId: SELF, messageId: randomBytes(16), status: 'sending' }),
        insertMessage(db.writer, { ...base, direction: 'incoming', senderAccountId: PEER, messageId: randomBytes(16), status: null }),
      ];
    });
    expect(db.writer.transaction(() => updateMessageStatus(db.writer, ids[0]!, 'delivered'))).toBe(true);
    expect(db.writer.transaction(() => updateMessageStatus(db.writer, ids[1]!, 'delivered'))).toBe(false);
    expect(getMessage(db.reader, ids[0]!)!.status).toBe('delivered');
    expect(getMessage(db.reader, ids[1]!)!.status).toBeNull();
  });

  it('removing sent receipts keeps the ids queued meanwhile', () => {
    const first = randomBytes(16);
    const later = randomBytes(16);
    db.writer.transaction(() => queueReceipt(db.writer, { peerAccountId: PEER, kind: 'delivered', messageId: first }, 1));
    const sent = pendingReceipts(db.reader);
    db.writer.transaction(() => queueReceipt(db.writer, { peerAccountId: PEER, kind: 'delivered', messageId: later }, 2));
    db.writer.transaction(() => removeReceipts(db.writer, sent[0]!));
    expect(pendingReceipts(db.reader).map((r) => r.messageIds)).toEqual([[new Uint8Array(later)]]);
  });
});
