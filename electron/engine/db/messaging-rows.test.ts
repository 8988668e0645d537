/**
 * The phase-2 rows over a real (SQLCipher) database: skipped-key TTL (lookups ignore expired keys,
 * the sweep deletes them, a conversation's disappearing timer shortens the TTL), envelope hashes,
 * resend requests, delivery statuses that only move forward, prekey upload tracking.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SKIPPED_KEY_TTL_MS } from '../../../shared/protocol/constants.js';
import { insertContact } from './contacts.js';
import { getOrCreateDirectConversation } from './conversations.js';
import type { EngineDatabase } from './database.js';
import { pruneEnvelopes, recordEnvelope, wasEnvelopeProcessed } from './inbound.js';
import { insertMessage, markFailed, markSending, markSent, outgoingSince, upgradeStatusOf } from './messages.js';
import { completeSend, deferSend, dueAfterClockChange, dueSends, enqueueSend } from './outbox.js';
import { completeResend, requestResend, resendRequests } from './resends.js';
import { applySkippedKeyChanges, countSkippedKeys, skippedKeyReader, skippedKeyTtl, sweepExpiredSkippedKeys } from './skipped-keys.js';
import { sql } from './sql.js';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';

const DAY = 24 * 3600_000;
const PEER = new Uint8Array(16).fill(7);
const OTHER = new Uint8Array(16).fill(8);
const SELF = new Uint8Array(16).fill(9);
const LIST = { signed: new Uint8Array(200), version: 1, issuedAt: 0 };

let temp: TemporaryDatabase;
let db: EngineDatabase;
beforeAll(() => {
  temp = temporaryDatabase('parley-rows-');
  db = temp.db;
  db.writer.transaction(() => {
    for (const id of [PEER, OTHER]) insertContact(db.writer, { accountId: id, username: 'x', accountKey: new Uint8Array(32), deviceList: LIST, now: 0 });
  });
});
afterAll(() => temp.dispose());

describe('skipped-key TTL (protocol.md §8.6)', () => {
  const key = (i: number) => ({ ratchetKey: new Uint8Array(32).fill(i), counter: i, seed: new Uint8Array(32).fill(100 + i) });

  it('lookups ignore keys at or past min(30 days, the conversation timer); the sweep deletes them per peer', () => {
    const s1 = new Uint8Array(16).fill(1);
    const s2 = new Uint8Array(16).fill(2);
    db.writer.transaction(() => {
      applySkippedKeyChanges(db.writer, s1, PEER, { added: [key(1)] }, 0);
      applySkippedKeyChanges(db.writer, s1, PEER, { added: [key(2)] }, DAY);
      applySkippedKeyChanges(db.writer, s2, OTHER, { added: [key(3)] }, 0);
    });
    expect(skippedKeyTtl(db.reader, PEER)).toBe(SKIPPED_KEY_TTL_MS);
    const at = (now: number) => skippedKeyReader(db.reader, s1, { now, ttlMs: skippedKeyTtl(db.reader, PEER) });
    expect(at(SKIPPED_KEY_TTL_MS - 1).get(key(1).ratchetKey, 1)).toBeDefined();
    expect(at(SKIPPED_KEY_TTL_MS).get(key(1).ratchetKey, 1)).toBeUndefined();
    expect(at(SKIPPED_KEY_TTL_MS).get(key(2).ratchetKey, 2)).toBeDefined();

    // A one-hour disappearing timer on the conversation with PEER: its keys live an hour.
    db.writer.transaction(() => {
      getOrCreateDirectConversation(db.writer, PEER, 0);
      db.writer.run(sql`UPDATE conversations SET expire_timer_ms = ${3600_000} WHERE peer_account_id = ${PEER}`);
    });
    expect(skippedKeyTtl(db.reader, PEER)).toBe(3600_000);
    expect(at(3600_000).get(key(1).ratchetKey, 1)).toBeUndefined();
    expect(at(DAY + 3600_000 - 1).get(key(2).ratchetKey, 2)).toBeDefined();

    expect(db.writer.transaction(() => sweepExpiredSkippedKeys(db.writer, 3600_000))).toBe(1); // PEER's first key only
    expect(countSkippedKeys(db.reader, s1)).toBe(1);
    expect(countSkippedKeys(db.reader, s2)).toBe(1); // OTHER keeps 30 days
    expect(db.writer.transaction(() => sweepExpiredSkippedKeys(db.writer, SKIPPED_KEY_TTL_MS))).toBe(2);
    expect(countSkippedKeys(db.reader)).toBe(0);
  });
});

describe('inbound envelope hashes', () => {
  it('are recorded once and pruned after the retention', () => {
    const h = new Uint8Array(32).fill(5);
    expect(wasEnvelopeProcessed(db.reader, h)).toBe(false);
    db.writer.transaction(() => {
      recordEnvelope(db.writer, h, 100);
      recordEnvelope(db.writer, h, 200);
    });
    expect(wasEnvelopeProcessed(db.reader, h)).toBe(true);
    expect(db.writer.transaction(() => pruneEnvelopes(db.writer, 100))).toBe(0);
    expect(db.writer.transaction(() => pruneEnvelopes(db.writer, 101))).toBe(1);
  });
});

describe('resend requests', () => {
  it('keep the earliest timestamp and any rebuild; completing removes only the request as read', () => {
    db.writer.transaction(() => requestResend(db.writer, { peerAccountId: PEER, peerDeviceId: 1, after: 500, rebuild: false }, 1));
    const [read] = resendRequests(db.reader);
    db.writer.transaction(() => requestResend(db.writer, { peerAccountId: PEER, peerDeviceId: 1, after: 900, rebuild: true }, 2));
    expect(resendRequests(db.reader)).toEqual([expect.objectContaining({ after: 500, rebuild: true })]);
    db.writer.transaction(() => completeResend(db.writer, read!));
    expect(resendRequests(db.reader)).toHaveLength(1);
    db.writer.transaction(() => completeResend(db.writer, resendRequests(db.writer)[0]!));
    expect(resendRequests(db.reader)).toEqual([]);
  });
});

describe('delivery status', () => {
  it('moves forward only: sent by the relay, delivered/read by receipts naming the message (which also settle failed)', () => {
    const conversation = db.writer.transaction(() => getOrCreateDirectConversation(db.writer, OTHER, 0));
    const ids = new Map<number, Uint8Array>();
    const out = (sentAt: number) => {
      const messageId = randomBytes(16);
      const id = db.writer.transaction(() =>
        insertMessage(db.writer, {
          conversationId: conversation.id,
          kind: 'text',
          direction: 'outgoing',
          senderAccountId: SELF,
          senderDeviceId: 1,
          messageId,
          sentAt,
          receivedAt: sentAt,
          body: 'b',
          status: 'sending',
          readAt: null,
        }),
      );
      ids.set(id, new Uint8Array(messageId));
      return id;
    };
    const [a, b, c] = [out(10), out(20), out(30)];
    expect(db.writer.transaction(() => markSent(db.writer, a, 1_000))?.status).toBe('sent');
    expect(db.writer.transaction(() => markSent(db.writer, a, 2_000))).toBeUndefined();
    expect(db.writer.transaction(() => markFailed(db.writer, b))?.status).toBe('failed');
    expect(outgoingSince(db.reader, conversation.id, 1_000).map((m) => m.id)).toEqual([a, c]); // c: not accepted yet; b: failed
    const unknown = randomBytes(16);
    const read = db.writer.transaction(() => upgradeStatusOf(db.writer, conversation.id, [ids.get(b)!, unknown, ids.get(a)!], 'read'));
    expect(read.map((m) => [m.id, m.status])).toEqual([[a, 'read'], [b, 'read']]);
    // Only what a receipt names: c (sent after a and b) stays as it was until one names it.
    expect(db.writer.transaction(() => upgradeStatusOf(db.writer, conversation.id, [ids.get(a)!, ids.get(b)!], 'delivered'))).toEqual([]);
    expect(db.writer.transaction(() => upgradeStatusOf(db.writer, conversation.id, [ids.get(c)!], 'delivered')).map((m) => m.id)).toEqual([c]);
    expect(db.writer.transaction(() => markSending(db.writer, c))).toBeUndefined(); // only failed messages are retried
  });
});

describe('outbox due times', () => {
  it('a new send is due whatever the clock says; a deferral far beyond the longest delay is due again (clock set back)', () => {
    const id = db.writer.transaction(() =>
      enqueueSend(db.writer, { kind: 'receipt', messageRowId: null, recipientAccountId: PEER, envelopes: [], now: 1_000_000, content: Uint8Array.of(1) }),
    );
    expect(dueSends(db.reader, 0, 10).map((s) => s.id)).toContain(id);
    db.writer.transaction(() => deferSend(db.writer, id, 1_000_000 + 60_000, 'NETWORK'));
    expect(dueSends(db.reader, 1_000_000, 10).map((s) => s.id)).not.toContain(id);
    // The clock went back an hour: the deferral is now more than the 5-minute maximum away.
    const back = 1_000_000 - 3600_000;
    expect(db.writer.transaction(() => dueAfterClockChange(db.writer, back, 5 * 60_000))).toBe(1);
    expect(dueSends(db.reader, back, 10).map((s) => s.id)).toContain(id);
    db.writer.transaction(() => completeSend(db.writer, id));
  });
});
