/**
 * The relay's backup endpoints (issue 18, docs/protocol.md §25.8, ADR 0033): one current blob per
 * backup id, stored, served and deleted only for a request signed by the backup auth key that the
 * recovery key derives. No session token and no account: a backup id is all the relay can name.
 *
 *   POST   BACKUPS_PATH/challenge   { backupId }  →  { nonce, relayId, serverTime }   (single-use nonce)
 *   PUT    BACKUPS_PATH/<id>        body = the blob (Content-Length ≤ maxBytes)    →  204
 *   GET    BACKUPS_PATH/<id>        (Range: bytes=a- | a-b allowed)                 →  200 / 206
 *   DELETE BACKUPS_PATH/<id>                                                        →  204
 *
 * PUT, GET and DELETE carry `Authorization: Backup <base64url(authPublicKey (32) ‖ nonce (32) ‖
 * u64 time ‖ signature (64))>`, the signature over §25.8's input for that operation. Owns the wire
 * names, the header layout and its strict parse; not the checks (server/blobs/backups.ts).
 */
import { z } from 'zod';
import { fromBase64Url, toBase64Url } from '../crypto/bytes.js';
import { BACKUP_ID_LENGTH, RELAY_ID_LENGTH } from '../protocol/constants.js';
import { CHALLENGE_NONCE_LENGTH } from './limits.js';
import { bytesField, TimestampSchema } from './primitives.js';

export const BACKUPS_PATH = '/v1/backups';
export const BackupIdSchema = bytesField({ length: BACKUP_ID_LENGTH });

export const BackupChallengeRequestSchema = z.strictObject({ backupId: BackupIdSchema });
export const BackupChallengeResponseSchema = z.object({
  nonce: bytesField({ length: CHALLENGE_NONCE_LENGTH }),
  relayId: bytesField({ length: RELAY_ID_LENGTH }),
  serverTime: TimestampSchema,
});

/** What /.well-known/parley announces under `backups`. */
export const BackupLimitsSchema = z.object({
  path: z.string(),
  /** The largest blob one backup id may hold. */
  maxBytes: z.number().int().positive(),
  /** A backup not replaced for this long is deleted. */
  retentionMs: z.number().int().positive(),
});
export type BackupLimits = z.output<typeof BackupLimitsSchema>;

export type BackupAuthorization = {
  readonly authPublicKey: Uint8Array;
  readonly nonce: Uint8Array;
  readonly time: number;
  readonly signature: Uint8Array;
};

const AUTH_BYTES = 32 + CHALLENGE_NONCE_LENGTH + 8 + 64;
const AUTH_HEADER = /^Backup ([A-Za-z0-9_-]{182})$/;

/** The Authorization header value of a signed backup request. */
export function encodeBackupAuthorization(a: BackupAuthorization): string {
  const out = new Uint8Array(AUTH_BYTES);
  out.set(a.authPublicKey, 0);
  out.set(a.nonce, 32);
  new DataView(out.buffer).setBigUint64(64, BigInt(a.time), false);
  out.set(a.signature, 72);
  return `Backup ${toBase64Url(out)}`;
}

/** The parts of a backup Authorization header, or undefined for anything else (the relay answers UNAUTHORIZED). */
export function parseBackupAuthorization(header: string | undefined): BackupAuthorization | undefined {
  const match = AUTH_HEADER.exec(header ?? '');
  if (!match) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = fromBase64Url(match[1]!);
  } catch {
    return undefined;
  }
  if (bytes.length !== AUTH_BYTES) return undefined;
  const time = new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(64, false);
  if (time > BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  return { authPublicKey: bytes.slice(0, 32), nonce: bytes.slice(32, 64), time: Number(time), signature: bytes.slice(72) };
}
