/**
 * Errors as values across the renderer↔engine bridge (STYLE "IPC"): every method answers
 * `{ ok: true, value }` or `{ ok: false, error: { code, message } }`, with `code` from one closed
 * set the renderer switches on exhaustively. Messages are short English text for logs and
 * fallbacks; they never carry key bytes, plaintext, contact names or a stringified crypto error.
 * Does not own the relay's error vocabulary (shared/wire/errors.ts); the engine maps those codes
 * onto these.
 */
import { z } from 'zod';

export const API_ERROR_CODES = [
  /** The request failed its schema (wrong shape, unknown key, out-of-range value) or names no channel. */
  'INVALID_REQUEST',
  /** No account exists in this profile yet: create one first. */
  'NEEDS_ACCOUNT',
  /** The database is locked (app lock or passphrase protection): unlock first. */
  'LOCKED',
  /** createAccount on a profile that already has an account. */
  'ACCOUNT_EXISTS',
  /** No OS keychain (Secret Service) is reachable: protect the database with a passphrase instead. */
  'KEYCHAIN_UNAVAILABLE',
  /** The OS keychain holds no key for this profile's database (removed outside Parley). */
  'KEY_MISSING',
  /** The passphrase does not unlock the key file. */
  'WRONG_PASSPHRASE',
  /** The new passphrase is shorter than the minimum. */
  'WEAK_PASSPHRASE',
  /** lock / app lock need a passphrase-protected database. */
  'PASSPHRASE_NOT_SET',
  /** The username breaks the rule (3-32 of [a-z0-9_.] after NFKC and lowercasing). */
  'INVALID_USERNAME',
  /** The username belongs to another account. */
  'USERNAME_TAKEN',
  /** No such contact, conversation, message, or no account with that username. */
  'NOT_FOUND',
  /** The contact's account key changed: sending is blocked until acceptKeyChange. */
  'KEY_CHANGE_PENDING',
  /** The message is larger than MAX_MESSAGE_BODY_BYTES. */
  'MESSAGE_TOO_LARGE',
  /** retry on a message that has not failed. */
  'NOT_RETRYABLE',
  /** A contact's device list failed verification (bad signature, rollback, conflicting version). */
  'UNTRUSTED_DEVICE_LIST',
  /** The relay could not be reached; queued work is kept and retried. */
  'RELAY_UNAVAILABLE',
  /** The relay refused for rate; try again later. */
  'RATE_LIMITED',
  /** A display name or about line that breaks the rule (empty, too long, control characters). */
  'INVALID_PROFILE',
  /** A picture that cannot become an avatar (not an image Parley reads, too many pixels): nothing changed. */
  'INVALID_IMAGE',
  /** Sending to (or accepting) a blocked person: unblock first. */
  'CONTACT_BLOCKED',
  /** Only the primary device (the one that holds the account key) can delete the account. */
  'NOT_PRIMARY_DEVICE',
  /** search while the searchEnabled setting is off (there is no index to search). */
  'SEARCH_DISABLED',
  /** A file larger than the relay accepts (refused before any byte is uploaded). */
  'ATTACHMENT_TOO_LARGE',
  /** The relay's storage quota for this account is used up. */
  'QUOTA_EXCEEDED',
  /** The attachment is no longer at the relay (expired after its retention, or never completed). */
  'ATTACHMENT_EXPIRED',
  /** The attachment did not verify (tampered, truncated, a digest that differs): nothing was released. */
  'ATTACHMENT_DAMAGED',
  /** A photo's metadata could not be removed (the image process failed): nothing was sent; "send as file" sends it unchanged. */
  'METADATA_NOT_REMOVED',
  /** The attachment is not ready for that (still uploading, a staged file incomplete, not downloaded). */
  'ATTACHMENT_NOT_READY',
  /** An image in a message request that the person has not asked to see (attachments:reveal first). */
  'ATTACHMENT_WITHHELD',
  /** A link offer or short code that is not one (wrong prefix, length, digits): nothing was sent (ADR 0025). */
  'LINK_INVALID',
  /** The short code did not match (the PAKE failed): the channel is spent; the new device shows a new code. */
  'LINK_WRONG_CODE',
  /** The devices did not confirm the same keys (a relay substituted a key, or a frame was changed): nothing was signed. */
  'LINK_TAMPERED',
  /** The link's channel expired, or the other device stopped the link (cancelled, or it failed there): start again. */
  'LINK_EXPIRED',
  /** This account started too many device links lately; try again later. */
  'LINK_ATTEMPTS_EXCEEDED',
  /** The account already has the most devices a relay allows (6): remove one first. */
  'TOO_MANY_DEVICES',
  /** No link in progress to answer (link:accept without link:start, or after it ended). */
  'LINK_NOT_STARTED',
  /** The account state does not fit the link (more than about 400 contacts): nothing was signed (ADR 0028, Roadmap). */
  'LINK_ACCOUNT_TOO_LARGE',
  /** A device name that is empty, longer than 128 bytes, or holds control characters or markup (< >): nothing changed. */
  'INVALID_DEVICE_NAME',
  /** devices:remove naming this device itself (the primary holds the account key and cannot be removed from itself). */
  'CANNOT_REMOVE_THIS_DEVICE',
  /** The history archive did not check out (a relay changed or swapped it, or it is malformed): nothing was imported (docs/protocol.md §22). */
  'HISTORY_TAMPERED',
  /** The history transfer was cancelled on this or the other device: nothing was imported, the upload is deleted. */
  'HISTORY_CANCELLED',
  /** The history archive is larger than the relay takes; choose the last 30 days instead. */
  'HISTORY_TOO_LARGE',
  /** No history transfer by that id on this device. */
  'HISTORY_NOT_FOUND',
  /**
   * A device of the person (or of this account) is on an older version that cannot honour
   * disappearing-message timers or delete for everyone (capability `timers`): nothing was sent.
   */
  'TIMERS_UNSUPPORTED',
  /** Delete for everyone: only this account's own texts and files can be deleted for everyone. */
  'NOT_DELETABLE',
  /** Delete for everyone: the message is older than the 24-hour window. */
  'DELETE_WINDOW_PASSED',
  /** Recovery words with a word not in the list, or not 24 words (docs/protocol.md §25.1). */
  'BACKUP_BAD_WORD',
  /** 24 list words that do not check out: a typo that hit another word, or two words swapped. */
  'BACKUP_BAD_CHECKSUM',
  /** The words are valid but belong to another backup (or the relay holds none for them). */
  'BACKUP_WRONG_RECOVERY_KEY',
  /** The backup was made with a passphrase: ask for it. */
  'BACKUP_PASSPHRASE_REQUIRED',
  /** The right words with a wrong passphrase. */
  'BACKUP_WRONG_PASSPHRASE',
  /** The backup was changed or cut short (on the relay or in the file): nothing was restored, the profile stays empty. */
  'BACKUP_TAMPERED',
  /** A backup made by a newer Parley: update to restore it. */
  'BACKUP_UNSUPPORTED_VERSION',
  /** The backup's Argon2id parameters are outside the bounds Parley accepts: refused before running. */
  'BACKUP_PARAMS_OUT_OF_BOUNDS',
  /** Not a Parley backup file. */
  'BACKUP_NOT_A_BACKUP',
  /** No backup is stored for these words at this relay (none made, deleted, or expired). */
  'BACKUP_NOT_FOUND',
  /** Backups are off (turn them on first), or the words were not confirmed yet. */
  'BACKUP_NOT_ENABLED',
  /** The three confirmation words do not match. */
  'BACKUP_WORDS_MISMATCH',
  /** A backup is running already. */
  'BACKUP_IN_PROGRESS',
  /** The backup was cancelled: nothing was uploaded or written. */
  'BACKUP_CANCELLED',
  /** The backup is larger than the relay takes; export it to a file, or leave attachments out. */
  'BACKUP_TOO_LARGE',
  /** The local database could not be read or written (disk full, corrupt, written by a newer Parley). */
  'STORAGE_FAILURE',
  /** A bug in the engine; the message is generic on purpose. */
  'INTERNAL',
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export const ApiErrorCodeSchema = z.enum(API_ERROR_CODES);

export const MAX_API_ERROR_MESSAGE_LENGTH = 300;

export const ApiErrorSchema = z.strictObject({
  code: ApiErrorCodeSchema,
  message: z.string().max(MAX_API_ERROR_MESSAGE_LENGTH),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;

export type ApiResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError };

/** The result schema for a given value schema (used by hosts that validate what they forward). */
export function resultSchema<T extends z.ZodType>(value: T) {
  return z.discriminatedUnion('ok', [
    z.strictObject({ ok: z.literal(true), value }),
    z.strictObject({ ok: z.literal(false), error: ApiErrorSchema }),
  ]);
}
