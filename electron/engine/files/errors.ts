/**
 * FileCipherError: the closed set of failures of the engine's file encryption and decryption
 * (electron/engine/files/). The cipher's own checks keep the codes of docs/protocol.md §17.6; the
 * rest are about files and the worker. Messages name the check, never a path, a key or plaintext.
 */
import type { ProtocolErrorCode } from '../../../shared/protocol/errors.js';
import type { ErrorCode } from '../../../shared/wire/errors.js';

/** The cipher's codes, as docs/protocol.md §17.6 names them. */
export type AttachmentCheckCode = Extract<
  ProtocolErrorCode,
  'MALFORMED' | 'KEY_COMMITMENT_MISMATCH' | 'SEGMENT_AUTH_FAILED' | 'TRUNCATED' | 'TRAILING_DATA' | 'DIGEST_MISMATCH'
>;

export const ATTACHMENT_CHECK_CODES: ReadonlySet<string> = new Set<AttachmentCheckCode>([
  'MALFORMED',
  'KEY_COMMITMENT_MISMATCH',
  'SEGMENT_AUTH_FAILED',
  'TRUNCATED',
  'TRAILING_DATA',
  'DIGEST_MISMATCH',
]);

export type FileCipherErrorCode =
  | AttachmentCheckCode
  /** The file's ciphertext would exceed the limit the caller gave (the relay's maximum). */
  | 'TOO_LARGE'
  /** The source is not a regular file (a directory, a device, a pipe). */
  | 'NOT_A_FILE'
  /** The source changed while it was encrypted (its length, or its modification time); the spool is discarded. */
  | 'SOURCE_CHANGED'
  /** A file could not be opened, read or written; the message carries the system's error code only. */
  | 'IO'
  /** The caller cancelled; nothing is left behind. */
  | 'CANCELLED'
  /** The worker thread died or stopped answering. */
  | 'WORKER_FAILED';

export class FileCipherError extends Error {
  override readonly name = 'FileCipherError';
  constructor(
    readonly code: FileCipherErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isFileCipherError(e: unknown, code?: FileCipherErrorCode): e is FileCipherError {
  return e instanceof FileCipherError && (code === undefined || e.code === code);
}

function systemCode(e: unknown): string {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : 'unknown error';
}

/** An fs error as IO, with what was being done and the system code (ENOENT, EACCES…), never the path. */
export function ioError(doing: string, e: unknown): FileCipherError {
  return new FileCipherError('IO', `could not ${doing} (${systemCode(e)})`);
}

/** The same for transfers. */
export function transferIoError(doing: string, e: unknown): TransferError {
  return new TransferError('IO', `could not ${doing} (${systemCode(e)})`);
}

/**
 * TransferError: the closed set of failures of uploads and downloads (transfer.ts): the relay's wire
 * codes as it answered them (ATTACHMENT_TOO_LARGE, QUOTA_EXCEEDED, TOO_MANY_UPLOADS,
 * ATTACHMENT_EXPIRED, NOT_FOUND, UNAUTHORIZED, RATE_LIMITED, UNAVAILABLE…), plus the client's own.
 */
export type TransferErrorCode =
  | ErrorCode
  /** The relay could not be reached, or stopped answering mid-transfer. */
  | 'NETWORK'
  /** An answer that is not what the protocol allows. */
  | 'BAD_RESPONSE'
  /** The relay holds another offset than the one sent from (tus 409), or dropped the upload: ask again. */
  | 'OFFSET_CONFLICT'
  /** The relay holds an attachment of another size than the message announced. */
  | 'SIZE_MISMATCH'
  /** A relay URL that is neither https nor plain http on a loopback address. */
  | 'INSECURE_URL'
  | 'CANCELLED'
  /** A local file could not be read or written (the system code only). */
  | 'IO';

export class TransferError extends Error {
  override readonly name = 'TransferError';
  constructor(
    readonly code: TransferErrorCode,
    message: string,
    readonly details: { readonly status?: number | undefined; readonly retryAfterMs?: number | undefined } = {},
  ) {
    super(message);
  }
}

export function isTransferError(e: unknown, code?: TransferErrorCode): e is TransferError {
  return e instanceof TransferError && (code === undefined || e.code === code);
}
