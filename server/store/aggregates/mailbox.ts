/**
 * The mailbox aggregate: per-device, sequence-numbered envelopes, committed and acked in batches
 * (group commit, ADR 0002) and read page by page. Owns the table `mailbox` and the `next_seq`
 * counter of each device row. Does not decide when to commit or deliver (core/mailboxes.ts).
 *
 * Sharp edges:
 *  - Seqs come from a per-device counter updated in the same transaction as the insert, so a
 *    device's envelopes commit in seq order on either backend. A batch updates all its counters with
 *    one `UPDATE … FROM (VALUES …)` and deletes all its acked envelopes with one
 *    `DELETE … WHERE (device_key, seq) IN (VALUES …)`; VALUES columns are `column1, column2` and their
 *    parameters are cast to BIGINT, which SQLite and PostgreSQL read the same way.
 *  - The counters are read and bumped in one transaction; on PostgreSQL the read locks the device rows
 *    (`FOR UPDATE`), so a concurrent batch for the same device waits and then reads the new counter.
 *  - Every per-envelope query is compiled once per shape (context.ts, `QueryShapes`).
 *  - The mailbox cap counts each recipient device's stored envelopes once per batch (an index range
 *    count on the primary key), plus what the batch's earlier sends add.
 */
import { sql } from 'kysely';
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { Database } from '../schema.js';
import { sendParts, type MailboxStore, type MismatchedAccount, type SendOutcome, type StoredEnvelope } from '../store.js';
import { bytes, chunks, compareBytes, compilable, INSERT_CHUNK_ROWS, mapKey, num, pairValues, type StoreContext } from './context.js';

export function mailboxStore({ db, durable, rowLocks, shapes }: StoreContext): MailboxStore {
  return {
    async commitBatch(batch) {
      const result = await db.transaction().execute(async (trx) => {
        const outcomes: SendOutcome[] = [];
        if (batch.sends.length > 0) {
          const recipients = new Map<string, Uint8Array>();
          for (const s of batch.sends) for (const p of sendParts(s)) recipients.set(mapKey(p.to), p.to);
          // On PostgreSQL the recipients' device rows are locked (FOR UPDATE, in the order of
          // device-rows.ts, across chunks too), so that concurrent batches take turns on a seq counter.
          const ids = [...recipients.values()];
          if (rowLocks) ids.sort(compareBytes);
          const known = new Set<string>();
          const devicesByAccount = new Map<string, Map<number, { deviceKey: number; nextSeq: number }>>();
          for (const part of chunks(ids, INSERT_CHUNK_ROWS)) {
            const accounts = await shapes.run(
              trx,
              `accounts-in:${part.length}`,
              () => trx.selectFrom('accounts').select('account_id').where('account_id', 'in', part),
              part,
            );
            for (const row of accounts.rows) known.add(mapKey(row.account_id));
            const { rows } = await shapes.run(
              trx,
              `devices-in:${part.length}`,
              () =>
                trx
                  .selectFrom('devices')
                  .select(['device_key', 'account_id', 'device_id', 'next_seq'])
                  .where('account_id', 'in', part)
                  .$if(rowLocks, (qb) => qb.orderBy('account_id').orderBy('device_key').forUpdate()),
              part,
            );
            for (const row of rows) {
              const hex = mapKey(row.account_id);
              let devices = devicesByAccount.get(hex);
              if (!devices) devicesByAccount.set(hex, (devices = new Map()));
              devices.set(num(row.device_id), { deviceKey: num(row.device_key), nextSeq: num(row.next_seq) });
            }
          }

          const cap = batch.maxMailboxEnvelopes;
          const stored = new Map<number, number>();
          if (cap !== undefined) {
            const deviceKeys = [...devicesByAccount.values()].flatMap((m) => [...m.values()].map((d) => d.deviceKey));
            for (const part of chunks(deviceKeys, INSERT_CHUNK_ROWS)) {
              const { rows } = await shapes.run(
                trx,
                `mailbox-counts:${part.length}`,
                () =>
                  trx
                    .selectFrom('mailbox')
                    .select((eb) => ['device_key', eb.fn.countAll().as('n')])
                    .where('device_key', 'in', part)
                    .groupBy('device_key'),
                part,
              );
              for (const row of rows) stored.set(num(row.device_key), num(row.n));
            }
          }

          const nextSeq = new Map<number, number>();
          const rows: Database['mailbox'][] = [];
          for (const send of batch.sends) {
            const parts = sendParts(send);
            if (parts.some((p) => !known.has(mapKey(p.to)))) {
              outcomes.push({ status: 'unknown-recipient' });
              continue;
            }
            // Every part is checked before anything of the send is stored: a multi-account send
            // commits whole or not at all.
            const from = send.from;
            const mismatched: MismatchedAccount[] = [];
            const targets: { device: { deviceKey: number; nextSeq: number }; content: Uint8Array }[] = [];
            for (const part of parts) {
              const current = devicesByAccount.get(mapKey(part.to)) ?? new Map<number, { deviceKey: number; nextSeq: number }>();
              // A sealed send (no sender) names every current device; a send to the own account all but the sender.
              const toSelf = from !== null && bytesEqual(part.to, from.accountId);
              const expected = [...current.keys()].filter((id) => !(toSelf && id === from.deviceId));
              const named = new Set(part.messages.map((m) => m.deviceId));
              const missing = expected.filter((id) => !named.has(id)).sort((a, b) => a - b);
              const stale = [...named].filter((id) => !expected.includes(id)).sort((a, b) => a - b);
              if (missing.length > 0 || stale.length > 0) {
                mismatched.push({ accountId: part.to, missing, stale });
                continue;
              }
              for (const message of part.messages) targets.push({ device: current.get(message.deviceId)!, content: message.content });
            }
            if (mismatched.length > 0) {
              outcomes.push('recipients' in send ? { status: 'mismatched-accounts', accounts: mismatched } : { status: 'mismatched', missing: mismatched[0]!.missing, stale: mismatched[0]!.stale });
              continue;
            }
            if (cap !== undefined) {
              const keys = targets.map((t) => t.device.deviceKey);
              if (keys.some((k) => (stored.get(k) ?? 0) >= cap)) {
                outcomes.push({ status: 'mailbox-full' });
                continue;
              }
              for (const k of keys) stored.set(k, (stored.get(k) ?? 0) + 1);
            }
            const deliveries: { deviceKey: number; envelope: StoredEnvelope }[] = [];
            for (const { device, content } of targets) {
              const seq = nextSeq.get(device.deviceKey) ?? device.nextSeq;
              nextSeq.set(device.deviceKey, seq + 1);
              rows.push({
                device_key: device.deviceKey,
                seq,
                source_account: from?.accountId ?? null,
                source_device: from?.deviceId ?? null,
                server_ts: batch.now,
                content,
              });
              deliveries.push({
                deviceKey: device.deviceKey,
                envelope: {
                  seq,
                  sourceAccount: from?.accountId ?? null,
                  sourceDevice: from?.deviceId ?? null,
                  serverTimestamp: batch.now,
                  content,
                },
              });
            }
            outcomes.push({ status: 'committed', deliveries });
          }
          for (const part of chunks(rows, INSERT_CHUNK_ROWS)) {
            // Bound in column order, row by row.
            const parameters = part.flatMap((r) => [r.device_key, r.seq, r.source_account, r.source_device, r.server_ts, r.content]);
            await shapes.run(trx, `mailbox-insert:${part.length}`, () => trx.insertInto('mailbox').values(part), parameters);
          }
          for (const part of chunks([...nextSeq], INSERT_CHUNK_ROWS)) {
            await shapes.run(
              trx,
              `devices-next-seq:${part.length}`,
              () => compilable(trx, sql`update devices set next_seq = v.column2 from (values ${pairValues(part)}) as v where devices.device_key = v.column1`),
              part.flat(),
            );
          }
        }
        let acked = 0;
        const acks = batch.acks.flatMap((a) => a.seqs.map((seq): [number, number] => [a.deviceKey, seq]));
        for (const part of chunks(acks, INSERT_CHUNK_ROWS)) {
          const result = await shapes.run(
            trx,
            `mailbox-ack:${part.length}`,
            () => compilable(trx, sql`delete from mailbox where (device_key, seq) in (values ${pairValues(part)})`),
            part.flat(),
          );
          acked += num(result.numAffectedRows ?? 0);
        }
        return { sends: outcomes, acked };
      });
      return { ...result, durable: durable() };
    },

    async readMailbox(deviceKey, afterSeq, limit) {
      // The counter is read first, without a transaction: every seq below it was committed before the
      // page query starts, so an empty page proves the device has nothing below `nextSeq` left to
      // deliver — on SQLite and under PostgreSQL's READ COMMITTED alike.
      const counter = await shapes.run(
        db,
        'device-next-seq',
        () => db.selectFrom('devices').select('next_seq').where('device_key', '=', deviceKey),
        [deviceKey],
      );
      const device = counter.rows[0];
      if (!device) return { nextSeq: undefined, envelopes: [] };
      const { rows } = await shapes.run(
        db,
        'mailbox-page',
        () =>
          db
            .selectFrom('mailbox')
            .select(['seq', 'source_account', 'source_device', 'server_ts', 'content'])
            .where('device_key', '=', deviceKey)
            .where('seq', '>', afterSeq)
            .orderBy('seq')
            .limit(limit),
        [deviceKey, afterSeq, limit],
      );
      return {
        nextSeq: num(device.next_seq),
        envelopes: rows.map((r) => ({
          seq: num(r.seq),
          sourceAccount: r.source_account && bytes(r.source_account),
          sourceDevice: r.source_device === null ? null : num(r.source_device),
          serverTimestamp: num(r.server_ts),
          content: bytes(r.content),
        })),
      };
    },

    async countEnvelopes() {
      const row = await db.selectFrom('mailbox').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
      return num(row.n);
    },
  };
}
