/**
 * Group rows (issue 16, migration 0018, docs/adr/0032-groups.md): groups and their conversations,
 * this device's own sender-key chain and who was given it, the sender-key records of other
 * devices, the capped queues of group messages and membership records that wait, the group
 * outbox and per-member receipts. Stores bytes the protocol serialized; decides nothing
 * (electron/engine/groups/).
 */
import type { ReadDb, WriteDb } from './database.js';
import { blob } from './rows.js';
import { sql } from './sql.js';

export type GroupStanding = 'member' | 'removed' | 'left';

export type GroupRow = {
  readonly groupId: Uint8Array;
  readonly conversationId: number;
  readonly membership: Uint8Array;
  readonly standing: GroupStanding;
  readonly createdAt: number;
  readonly updatedAt: number;
};

type GroupSqlRow = { group_id: Uint8Array; conversation_id: number; membership: Uint8Array; standing: GroupStanding; created_at: number; updated_at: number };

function toGroup(r: GroupSqlRow): GroupRow {
  return {
    groupId: blob(r.group_id),
    conversationId: r.conversation_id,
    membership: blob(r.membership),
    standing: r.standing,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** A new group with its conversation (kind 'group', no peer). */
export function insertGroup(db: WriteDb, g: { groupId: Uint8Array; membership: Uint8Array; now: number }): GroupRow {
  const { lastInsertRowid } = db.run(sql`INSERT INTO conversations (kind, peer_account_id, created_at, last_activity_at) VALUES ('group', NULL, ${g.now}, ${g.now})`);
  db.run(sql`
    INSERT INTO groups (group_id, conversation_id, membership, standing, created_at, updated_at)
    VALUES (${g.groupId}, ${lastInsertRowid}, ${g.membership}, 'member', ${g.now}, ${g.now})`);
  return getGroup(db, g.groupId)!;
}

export function getGroup(db: ReadDb, groupId: Uint8Array): GroupRow | undefined {
  const r = db.get<GroupSqlRow>(sql`SELECT * FROM groups WHERE group_id = ${groupId}`);
  return r && toGroup(r);
}

export function groupByConversation(db: ReadDb, conversationId: number): GroupRow | undefined {
  const r = db.get<GroupSqlRow>(sql`SELECT * FROM groups WHERE conversation_id = ${conversationId}`);
  return r && toGroup(r);
}

/** Groups, most recently active first. */
export function listGroups(db: ReadDb): GroupRow[] {
  return db
    .all<GroupSqlRow>(sql`SELECT g.* FROM groups g JOIN conversations c ON c.id = g.conversation_id ORDER BY c.last_activity_at DESC, c.id DESC`)
    .map(toGroup);
}

export function updateGroup(db: WriteDb, groupId: Uint8Array, membership: Uint8Array, standing: GroupStanding, now: number): void {
  db.run(sql`UPDATE groups SET membership = ${membership}, standing = ${standing}, updated_at = ${now} WHERE group_id = ${groupId}`);
}

// ── The own chain ──

export function ownChain(db: ReadDb, groupId: Uint8Array): { readonly state: Uint8Array; readonly rotate: boolean } | undefined {
  const r = db.get<{ state: Uint8Array; rotate: number }>(sql`SELECT state, rotate FROM group_own_chains WHERE group_id = ${groupId}`);
  return r && { state: blob(r.state), rotate: r.rotate === 1 };
}

export function putOwnChain(db: WriteDb, groupId: Uint8Array, state: Uint8Array): void {
  db.run(sql`
    INSERT INTO group_own_chains (group_id, state, rotate) VALUES (${groupId}, ${state}, 0)
    ON CONFLICT (group_id) DO UPDATE SET state = excluded.state, rotate = 0`);
}

/** The own chain must be replaced before the next send (a member or member device went). */
export function markRotate(db: WriteDb, groupId: Uint8Array): void {
  db.run(sql`UPDATE group_own_chains SET rotate = 1 WHERE group_id = ${groupId}`);
}

export function dropOwnChain(db: WriteDb, groupId: Uint8Array): void {
  db.run(sql`DELETE FROM group_own_chains WHERE group_id = ${groupId}`);
  db.run(sql`DELETE FROM group_chain_devices WHERE group_id = ${groupId}`);
}

/** The devices given the chain `distributionId`, with the iteration each got. */
export function chainDevices(db: ReadDb, groupId: Uint8Array, distributionId: Uint8Array): { accountId: Uint8Array; deviceId: number; iteration: number }[] {
  return db
    .all<{ account_id: Uint8Array; device_id: number; iteration: number }>(
      sql`SELECT account_id, device_id, iteration FROM group_chain_devices WHERE group_id = ${groupId} AND distribution_id = ${distributionId}`,
    )
    .map((r) => ({ accountId: blob(r.account_id), deviceId: r.device_id, iteration: r.iteration }));
}

export function recordChainDevice(db: WriteDb, g: { groupId: Uint8Array; distributionId: Uint8Array; accountId: Uint8Array; deviceId: number; iteration: number }): void {
  db.run(sql`
    INSERT INTO group_chain_devices (group_id, distribution_id, account_id, device_id, iteration)
    VALUES (${g.groupId}, ${g.distributionId}, ${g.accountId}, ${g.deviceId}, ${g.iteration})
    ON CONFLICT DO NOTHING`);
}

/** Forgets who had chains other than `keep` (after a rotation). */
export function pruneChainDevices(db: WriteDb, groupId: Uint8Array, keep: Uint8Array): void {
  db.run(sql`DELETE FROM group_chain_devices WHERE group_id = ${groupId} AND distribution_id <> ${keep}`);
}

// ── Other devices' sender keys ──

export function senderKeyRecord(db: ReadDb, groupId: Uint8Array, accountId: Uint8Array, deviceId: number): Uint8Array | undefined {
  const r = db.get<{ record: Uint8Array }>(
    sql`SELECT record FROM group_sender_keys WHERE group_id = ${groupId} AND sender_account_id = ${accountId} AND sender_device_id = ${deviceId}`,
  );
  return r && blob(r.record);
}

export function putSenderKeyRecord(db: WriteDb, groupId: Uint8Array, accountId: Uint8Array, deviceId: number, record: Uint8Array): void {
  db.run(sql`
    INSERT INTO group_sender_keys (group_id, sender_account_id, sender_device_id, record) VALUES (${groupId}, ${accountId}, ${deviceId}, ${record})
    ON CONFLICT (group_id, sender_account_id, sender_device_id) DO UPDATE SET record = excluded.record`);
}

/** Every record of the group (tests read a removed member's full state through this). */
export function senderKeyRecords(db: ReadDb, groupId: Uint8Array): { accountId: Uint8Array; deviceId: number; record: Uint8Array }[] {
  return db
    .all<{ sender_account_id: Uint8Array; sender_device_id: number; record: Uint8Array }>(
      sql`SELECT sender_account_id, sender_device_id, record FROM group_sender_keys WHERE group_id = ${groupId}`,
    )
    .map((r) => ({ accountId: blob(r.sender_account_id), deviceId: r.sender_device_id, record: blob(r.record) }));
}

export function dropSenderKeys(db: WriteDb, groupId: Uint8Array, accountId?: Uint8Array): void {
  if (accountId) db.run(sql`DELETE FROM group_sender_keys WHERE group_id = ${groupId} AND sender_account_id = ${accountId}`);
  else db.run(sql`DELETE FROM group_sender_keys WHERE group_id = ${groupId}`);
}

// ── Waiting group messages ──

export type PendingGroupMessage = {
  readonly id: number;
  readonly groupId: Uint8Array;
  readonly senderAccountId: Uint8Array;
  readonly senderDeviceId: number;
  readonly distributionId: Uint8Array;
  readonly iteration: number;
  readonly message: Uint8Array;
  readonly serverTimestamp: number;
  readonly receivedAt: number;
  readonly requestedAt: number | null;
};

export function countPendingMessages(db: ReadDb, groupId: Uint8Array): number {
  return db.get<{ n: number }>(sql`SELECT count(*) AS n FROM group_pending_messages WHERE group_id = ${groupId}`)!.n;
}

export function insertPendingMessage(db: WriteDb, m: Omit<PendingGroupMessage, 'id' | 'requestedAt'>): number {
  return db.run(sql`
    INSERT INTO group_pending_messages (group_id, sender_account_id, sender_device_id, distribution_id, iteration, message, server_timestamp, received_at)
    VALUES (${m.groupId}, ${m.senderAccountId}, ${m.senderDeviceId}, ${m.distributionId}, ${m.iteration}, ${m.message}, ${m.serverTimestamp}, ${m.receivedAt})`).lastInsertRowid;
}

export function pendingMessages(db: ReadDb, groupId: Uint8Array): PendingGroupMessage[] {
  return db
    .all<{
      id: number;
      group_id: Uint8Array;
      sender_account_id: Uint8Array;
      sender_device_id: number;
      distribution_id: Uint8Array;
      iteration: number;
      message: Uint8Array;
      server_timestamp: number;
      received_at: number;
      requested_at: number | null;
    }>(sql`SELECT * FROM group_pending_messages WHERE group_id = ${groupId} ORDER BY id`)
    .map((r) => ({
      id: r.id,
      groupId: blob(r.group_id),
      senderAccountId: blob(r.sender_account_id),
      senderDeviceId: r.sender_device_id,
      distributionId: blob(r.distribution_id),
      iteration: r.iteration,
      message: blob(r.message),
      serverTimestamp: r.server_timestamp,
      receivedAt: r.received_at,
      requestedAt: r.requested_at,
    }));
}

export function deletePendingMessage(db: WriteDb, id: number): void {
  db.run(sql`DELETE FROM group_pending_messages WHERE id = ${id}`);
}

export function markPendingRequested(db: WriteDb, id: number, now: number): void {
  db.run(sql`UPDATE group_pending_messages SET requested_at = ${now} WHERE id = ${id}`);
}

/** The oldest waiting message of the group goes (the queue is capped). */
export function dropOldestPendingMessage(db: WriteDb, groupId: Uint8Array): void {
  db.run(sql`DELETE FROM group_pending_messages WHERE id = (SELECT min(id) FROM group_pending_messages WHERE group_id = ${groupId})`);
}

// ── Waiting membership records ──

export function countPendingRecords(db: ReadDb, groupId: Uint8Array): number {
  return db.get<{ n: number }>(sql`SELECT count(*) AS n FROM group_pending_records WHERE group_id = ${groupId}`)!.n;
}

export function insertPendingRecord(db: WriteDb, groupId: Uint8Array, hash: Uint8Array, record: Uint8Array, fromAccountId: Uint8Array, now: number): void {
  db.run(sql`
    INSERT INTO group_pending_records (group_id, hash, record, from_account_id, received_at) VALUES (${groupId}, ${hash}, ${record}, ${fromAccountId}, ${now})
    ON CONFLICT DO NOTHING`);
}

export function pendingRecords(db: ReadDb, groupId: Uint8Array): { hash: Uint8Array; record: Uint8Array; fromAccountId: Uint8Array }[] {
  return db
    .all<{ hash: Uint8Array; record: Uint8Array; from_account_id: Uint8Array }>(
      sql`SELECT hash, record, from_account_id FROM group_pending_records WHERE group_id = ${groupId} ORDER BY received_at`,
    )
    .map((r) => ({ hash: blob(r.hash), record: blob(r.record), fromAccountId: blob(r.from_account_id) }));
}

export function deletePendingRecord(db: WriteDb, groupId: Uint8Array, hash: Uint8Array): void {
  db.run(sql`DELETE FROM group_pending_records WHERE group_id = ${groupId} AND hash = ${hash}`);
}

// ── Group outbox ──

export type GroupSend = {
  readonly id: number;
  readonly groupId: Uint8Array;
  readonly messageRowId: number | null;
  readonly message: Uint8Array;
  readonly online: boolean;
  readonly attempts: number;
};

export function enqueueGroupSend(db: WriteDb, s: { groupId: Uint8Array; messageRowId: number | null; message: Uint8Array; online: boolean; now: number }): number {
  return db.run(sql`
    INSERT INTO group_outbox (group_id, message_row_id, message, online, created_at) VALUES (${s.groupId}, ${s.messageRowId}, ${s.message}, ${s.online}, ${s.now})`)
    .lastInsertRowid;
}

export function groupSends(db: ReadDb): GroupSend[] {
  return db
    .all<{ id: number; group_id: Uint8Array; message_row_id: number | null; message: Uint8Array; online: number; attempts: number }>(
      sql`SELECT id, group_id, message_row_id, message, online, attempts FROM group_outbox ORDER BY id`,
    )
    .map((r) => ({ id: r.id, groupId: blob(r.group_id), messageRowId: r.message_row_id, message: blob(r.message), online: r.online === 1, attempts: r.attempts }));
}

export function countGroupSends(db: ReadDb): number {
  return db.get<{ n: number }>(sql`SELECT count(*) AS n FROM group_outbox`)!.n;
}

export function deleteGroupSend(db: WriteDb, id: number): void {
  db.run(sql`DELETE FROM group_outbox WHERE id = ${id}`);
}

export function bumpGroupSend(db: WriteDb, id: number): void {
  db.run(sql`UPDATE group_outbox SET attempts = attempts + 1 WHERE id = ${id}`);
}

// ── Per-member receipts of own group messages ──

/** Records a member's receipt; true when it moved (delivered, then read). */
export function recordGroupReceipt(db: WriteDb, messageRowId: number, accountId: Uint8Array, kind: 'delivered' | 'read', at: number): boolean {
  db.run(sql`INSERT INTO group_receipts (message_row_id, account_id) VALUES (${messageRowId}, ${accountId}) ON CONFLICT DO NOTHING`);
  const changed =
    kind === 'read'
      ? db.run(sql`UPDATE group_receipts SET read_at = ${at}, delivered_at = coalesce(delivered_at, ${at}) WHERE message_row_id = ${messageRowId} AND account_id = ${accountId} AND read_at IS NULL`)
      : db.run(sql`UPDATE group_receipts SET delivered_at = ${at} WHERE message_row_id = ${messageRowId} AND account_id = ${accountId} AND delivered_at IS NULL`);
  return changed.changes === 1;
}

export function groupReceipts(db: ReadDb, messageRowId: number): { accountId: Uint8Array; deliveredAt: number | null; readAt: number | null }[] {
  return db
    .all<{ account_id: Uint8Array; delivered_at: number | null; read_at: number | null }>(
      sql`SELECT account_id, delivered_at, read_at FROM group_receipts WHERE message_row_id = ${messageRowId}`,
    )
    .map((r) => ({ accountId: blob(r.account_id), deliveredAt: r.delivered_at, readAt: r.read_at }));
}
