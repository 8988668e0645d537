/**
 * The words the UI uses for engine values: error codes, message statuses, presence. One place, so
 * every screen says the same thing and each closed set is switched on exhaustively (STYLE "one
 * error type per layer").
 */
import type { ApiError, ApiErrorCode, MessageStatus, Presence } from '../../../../shared/api/types.js';
import { formatWhen } from './time.js';

/** What the person reads for a failed request. */
export function describeError(error: ApiError): string {
  const code: ApiErrorCode = error.code;
  switch (code) {
    case 'INVALID_REQUEST':
      return error.message === 'unknown channel' ? 'This version of Parley cannot do that yet.' : 'Parley did not accept that input.';
    case 'NEEDS_ACCOUNT':
      return 'Create an account first.';
    case 'LOCKED':
      return 'Parley is locked. Unlock it first.';
    case 'ACCOUNT_EXISTS':
      return 'This profile already has an account.';
    case 'KEYCHAIN_UNAVAILABLE':
      return 'The system keychain is not available. Choose a passphrase instead.';
    case 'KEY_MISSING':
      return 'The system keychain no longer holds the key of this profile.';
    case 'WRONG_PASSPHRASE':
      return 'That passphrase is not correct.';
    case 'WEAK_PASSPHRASE':
      return 'Choose a passphrase of at least 8 characters.';
    case 'PASSPHRASE_NOT_SET':
      return 'Set a passphrase first: the app lock needs one.';
    case 'INVALID_USERNAME':
      return 'A username has 3 to 32 characters: letters, digits, “_” and “.”.';
    case 'USERNAME_TAKEN':
      return 'That username is taken. Choose another one.';
    case 'NOT_FOUND':
      return 'No account with that username was found.';
    case 'KEY_CHANGE_PENDING':
      return 'The safety number changed. Accept or verify it before sending.';
    case 'MESSAGE_TOO_LARGE':
      return 'That message is too long.';
    case 'NOT_RETRYABLE':
      return 'That message cannot be sent again.';
    case 'UNTRUSTED_DEVICE_LIST':
      return 'This contact’s devices could not be verified.';
    case 'RELAY_UNAVAILABLE':
      return 'The relay cannot be reached. Parley keeps trying.';
    case 'RATE_LIMITED':
      return 'Too many requests. Try again in a moment.';
    case 'INVALID_PROFILE':
      return 'A display name is one line of at most 128 bytes, an about line one line of at most 512.';
    case 'INVALID_IMAGE':
      // The engine's message names the reason (not a picture, too many pixels) and nothing of the file.
      return `That picture cannot be your profile photo: ${error.message}.`;
    case 'CONTACT_BLOCKED':
      return 'You blocked this person. Unblock them in Settings first.';
    case 'NOT_PRIMARY_DEVICE':
      return 'Only the device that created the account can delete it. Log out this device instead.';
    case 'SEARCH_DISABLED':
      return 'Search is turned off in Settings.';
    case 'ATTACHMENT_TOO_LARGE':
      return 'That file is larger than the relay accepts.';
    case 'QUOTA_EXCEEDED':
      return 'Your storage at the relay is full. Older attachments expire after 30 days.';
    case 'ATTACHMENT_EXPIRED':
      return 'That attachment is no longer available.';
    case 'ATTACHMENT_DAMAGED':
      return 'That attachment was damaged or tampered with; nothing was saved.';
    case 'METADATA_NOT_REMOVED':
      return 'The photo’s metadata could not be removed, so it was not sent. Choose “Send as file” to send it unchanged.';
    case 'ATTACHMENT_NOT_READY':
      return 'That attachment is not ready yet.';
    case 'ATTACHMENT_WITHHELD':
      return 'This image is from someone you have not accepted. Choose “Show image” first.';
    case 'LINK_INVALID':
      return 'That is not a link from a new Parley device. Copy the whole text, or type the 14 digits it shows.';
    case 'LINK_WRONG_CODE':
      return 'The code did not match. Start again on the new device: it shows a new code.';
    case 'LINK_TAMPERED':
      return 'The devices could not confirm each other, so nothing was linked. Someone may have interfered; try again.';
    case 'LINK_EXPIRED':
      return 'The link ended (it expired, was already used, or the other device stopped). Start again on the new device.';
    case 'LINK_ATTEMPTS_EXCEEDED':
      return 'Too many devices were linked lately. Try again later.';
    case 'TOO_MANY_DEVICES':
      return 'This account already has 6 devices. Remove one from the list of devices below first.';
    case 'LINK_NOT_STARTED':
      return 'No link is in progress. Start again.';
    case 'LINK_ACCOUNT_TOO_LARGE':
      return 'This account has too many contacts to link a device yet (a link carries about 400). Nothing was changed.';
    case 'INVALID_DEVICE_NAME':
      return 'A device name needs 1 to 128 bytes of text, without line breaks, control characters or < >.';
    case 'CANNOT_REMOVE_THIS_DEVICE':
      return 'The primary device cannot remove itself.';
    case 'HISTORY_TAMPERED':
      return 'The message history did not arrive intact, so none of it was added. The device is linked; new messages arrive as usual.';
    case 'HISTORY_CANCELLED':
      return 'The history transfer was cancelled. Nothing was added.';
    case 'HISTORY_TOO_LARGE':
      return 'The message history is too large for the relay. Try “Last 30 days” instead.';
    case 'HISTORY_NOT_FOUND':
      return 'That history transfer has already ended.';
    case 'TIMERS_UNSUPPORTED':
      return 'A device of this person is on an older version of Parley that cannot make messages disappear or delete them for everyone. Nothing was sent.';
    case 'NOT_DELETABLE':
      return 'Only your own messages can be deleted for everyone.';
    case 'DELETE_WINDOW_PASSED':
      return 'Messages can be deleted for everyone only within 24 hours of sending.';
    case 'BACKUP_BAD_WORD':
      return 'One of the words is not a recovery word, or there are not 24 of them. Check each word.';
    case 'BACKUP_BAD_CHECKSUM':
      return 'These words do not fit together. Look for a typo, or two words in the wrong order.';
    case 'BACKUP_WRONG_RECOVERY_KEY':
      return 'These recovery words belong to another backup.';
    case 'BACKUP_PASSPHRASE_REQUIRED':
      return 'This backup has a passphrase. Enter it to restore.';
    case 'BACKUP_WRONG_PASSPHRASE':
      return 'That is not the backup passphrase.';
    case 'BACKUP_TAMPERED':
      return 'The backup was changed or cut short, so nothing was restored.';
    case 'BACKUP_UNSUPPORTED_VERSION':
      return 'This backup was made by a newer version of Parley. Update Parley to restore it.';
    case 'BACKUP_PARAMS_OUT_OF_BOUNDS':
      return 'This backup asks for settings Parley does not accept, so it was not opened.';
    case 'BACKUP_NOT_A_BACKUP':
      return 'This file is not a Parley backup.';
    case 'BACKUP_NOT_FOUND':
      return 'The relay holds no backup for these words.';
    case 'BACKUP_NOT_ENABLED':
      return 'Turn backups on and confirm the recovery words first.';
    case 'BACKUP_WORDS_MISMATCH':
      return 'Those words do not match. Look at your recovery words again.';
    case 'BACKUP_IN_PROGRESS':
      return 'A backup is already running.';
    case 'BACKUP_CANCELLED':
      return 'The backup was cancelled. Nothing was stored.';
    case 'BACKUP_TOO_LARGE':
      return 'The backup is larger than the relay accepts. Export it to a file, or leave attachments out.';
    case 'STORAGE_FAILURE':
      return 'Parley could not read or write its data.';
    case 'INTERNAL':
      return 'Something went wrong in Parley.';
  }
}

/** The accessible name (and tooltip) of a status's ticks. */
export function statusLabel(status: MessageStatus): string {
  switch (status) {
    case 'sending':
      return 'Sending';
    case 'sent':
      return 'Sent';
    case 'delivered':
      return 'Delivered';
    case 'read':
      return 'Read';
    case 'failed':
      return 'Not sent';
  }
}

/**
 * "Online", "Last seen today at 2:34 PM", "Offline" (a shared presence this device has not seen
 * online), or null when nothing is shared: strangers, contacts who have not added us back, hidden
 * presence, and while this device is offline (issue 12 "Presence").
 */
export function presenceLabel(presence: Presence, now: number, locale: string, timeZone: string): string | null {
  switch (presence.state) {
    case 'online':
      return 'Online';
    case 'offline':
      return presence.lastSeenAt === null ? 'Offline' : `Last seen ${lowerFirst(formatWhen(presence.lastSeenAt, now, locale, timeZone), locale)}`;
    case 'not-shared':
    case 'unknown':
      return null;
  }
}

function lowerFirst(text: string, locale: string): string {
  const [first = '', ...rest] = [...text];
  return first.toLocaleLowerCase(locale) + rest.join('');
}

/**
 * The text of a notice about devices (ADR 0027): in the note to self, a change of this account's
 * devices that this device did not make (`name`: the device's name, when known); in a contact's
 * conversation, their devices changed. Null for other kinds.
 */
export function deviceNoticeText(kind: string, name: string | null, title: string): string | null {
  switch (kind) {
    case 'device-linked':
      return `A new device${name ? ` “${name}”` : ''} was linked to your account. If that was not you, remove it on your primary device in Settings → Linked devices.`;
    case 'device-removed':
      return `${name ? `“${name}”` : 'A device'} was removed from your account.`;
    case 'contact-devices-changed':
      return `${title}’s devices changed.`;
    default:
      return null;
  }
}
