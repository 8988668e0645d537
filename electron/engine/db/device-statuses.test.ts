import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { insertContact } from './contacts.js';
import { getOrCreateDirectConversation } from './conversations.js';
import { deviceStatusesOf, recordDeviceReceipt, recordDeviceSent } from './device-statuses.js';
import { deleteMessage, insertMessage } from './messages.js';
import { temporaryDatabase, type TemporaryDatabase } from '../../../test/support/database.js';

const temps: TemporaryDatabase[] = [];
afterEach(() => {
  for (const t of temps.splice(0)) t.dispose();
});

const PEER = new Uint8Array(16).fill(7);

function setup() {
  const temp = temporaryDatabase('parley-device-statuses-');
  temps.push(temp);
  const db = temp.db.writer;
  insertContact(db, { accountId: PEER, username: 'bob', accountKey: new Uint8Array(32).fill(9), deviceList: { signed: Uint8Array.of(0), version: 1, issuedAt: 0 }, now: 0 });
  const conversationId = getOrCreateDirectConversation(db, PEER, 0).id;
  const messageId = randomBytes(16);
  const rowId = insertMessage(db, {
    conversationId,
    kind: 'text',
    direction: 'outgoing',
    senderAccountId: new Uint8Array(16).fill(1),
    senderDeviceId: 1,
    messageId,
    sentAt: 100,
    receivedAt: 100,
    body: 'hi',
    status: 'sending',
    readAt: null,
  });
  return { temp, db, conversationId, messageId, rowId };
}

describe('per-device statuses', () => {
  it('keeps the first time of each step per device; a read receipt settles delivery; ids of other messages change nothing', () => {
    const { db, conversationId, messageId, rowId } = setup();
    const receipt = (deviceId: number, kind: 'delivered' | 'read', at: number, ids = [messageId]) =>
      recordDeviceReceipt(db, { conversationId, accountId: PEER, deviceId, kind, messageIds: ids, at });
    recordDeviceSent(db, rowId, PEER, [1, 2], 1_000);
    recordDeviceSent(db, rowId, PEER, [1, 2], 2_000); // a resend: the first accept stays
    expect(receipt(1, 'delivered', 1_100)).toBe(1);
    expect(receipt(1, 'delivered', 1_900)).toBe(1);
    expect(receipt(2, 'read', 1_500)).toBe(1); // read before any delivery receipt of that device
    expect(receipt(1, 'read', 3_000)).toBe(1);
    expect(receipt(2, 'read', 4_000, [randomBytes(16)])).toBe(0);
    expect(deviceStatusesOf(db, rowId).map(({ deviceId, sentAt, deliveredAt, readAt }) => ({ deviceId, sentAt, deliveredAt, readAt }))).toEqual([
      { deviceId: 1, sentAt: 1_000, deliveredAt: 1_100, readAt: 3_000 },
      { deviceId: 2, sentAt: 1_000, deliveredAt: 1_500, readAt: 1_500 },
    ]);
  });

  it('rows go with their message, and an accept for a message deleted meanwhile records nothing (and does not throw)', () => {
    const { db, rowId } = setup();
    recordDeviceSent(db, rowId, PEER, [1], 1_000);
    expect(deviceStatusesOf(db, rowId)).toHaveLength(1);
    expect(deleteMessage(db, rowId)).toBe(true);
    expect(deviceStatusesOf(db, rowId)).toEqual([]);
    recordDeviceSent(db, rowId, PEER, [1, 2], 2_000);
    expect(deviceStatusesOf(db, rowId)).toEqual([]);
    expect(deleteMessage(db, rowId)).toBe(false);
  });
});
