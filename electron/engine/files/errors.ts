/**
 * FileCipherError: the closed set of failures of the engine's file encryption and decryption
 * (electron/engine/files/). The cipher's own checks keep the codes of docs/protocol.md §17.6; the
 * rest are about files and the worker. Messages name the check, never a path, a key or plaintext.
 */
import type { ProtocolErrorCode } from '../../../shared/protocol/errors.js';

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

/** An fs error as IO, with what was being done and the system code (ENOENT, EACCES…), never the path. */
export function ioError(doing: string, e: unknown): FileCipherError {
  const code = typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : 'unknown error';
  return new FileCipherError('IO', `could not ${doing} (${code})`);
}
