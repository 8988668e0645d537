/**
 * The auth aggregate: one-shot challenges and session-token hashes (ADR 0007). Owns the tables
 * `challenges` and `sessions`. Neither is flushed to disk before answering: losing one costs a client
 * a new challenge, never a message. Does not verify signatures or compare secrets (core/auth.ts).
 */
import type { AuthStore } from '../store.js';
import { bytes, num, type StoreContext } from './context.js';
import { toDevice } from './device-rows.js';

export function authStore({ db }: StoreContext): AuthStore {
  return {
    async putChallenge(c) {
      await db
        .insertInto('challenges')
        .values({ nonce: c.nonce, account_id: c.accountId, device_id: c.deviceId, expires_at: c.expiresAt })
        .execute();
    },

    async takeChallenge(nonce) {
      const row = await db
        .deleteFrom('challenges')
        .where('nonce', '=', nonce)
        .returning(['account_id', 'device_id', 'expires_at'])
        .executeTakeFirst();
      return row && { accountId: bytes(row.account_id), deviceId: num(row.device_id), expiresAt: num(row.expires_at) };
    },

    async putSession(s) {
      await db
        .insertInto('sessions')
        .values({ token_id: s.tokenId, secret_hash: s.secretHash, device_key: s.deviceKey, expires_at: s.expiresAt })
        .execute();
    },

    async getSession(tokenId) {
      const row = await db
        .selectFrom('sessions as s')
        .innerJoin('devices as d', 'd.device_key', 's.device_key')
        .select(['s.secret_hash', 's.expires_at', 'd.device_key', 'd.account_id', 'd.device_id', 'd.identity_signing_key', 'd.identity_dh_key'])
        .where('s.token_id', '=', tokenId)
        .executeTakeFirst();
      return row && { secretHash: bytes(row.secret_hash), expiresAt: num(row.expires_at), device: toDevice(row) };
    },
  };
}
