/**
 * Field schemas and limits of the renderer↔engine contract: opaque ids (strings), timestamps
 * (numbers, ms since the epoch), usernames, relay addresses, passphrases. No bytes ever cross the
 * bridge: ids are decimal or hex strings, never keys. Does not own view models (view-models.ts) or
 * the method table (contract.ts).
 */
import { z } from 'zod';

/** A message body may encode to at most this many UTF-8 bytes (MESSAGE_TOO_LARGE beyond). */
export const MAX_MESSAGE_BODY_BYTES = 64 * 1024;
/**
 * Schema bound on the body string: generous, so an oversized body reaches the engine and gets the
 * specific MESSAGE_TOO_LARGE, while absurd input is refused before anything is allocated for it.
 */
export const MAX_MESSAGE_BODY_INPUT = 4 * MAX_MESSAGE_BODY_BYTES;
/** Messages per openPage call. */
export const MAX_PAGE_SIZE = 200;
/** Results per search call (newest first; the next page continues from a cursor). */
export const MAX_SEARCH_PAGE_SIZE = 50;
/** Search query input bound, in UTF-16 code units (the engine uses at most 16 terms of it). */
export const MAX_SEARCH_QUERY_LENGTH = 256;
/** New passphrases shorter than this (in Unicode code points, after NFC) are WEAK_PASSPHRASE. */
export const MIN_PASSPHRASE_LENGTH = 8;
export const MAX_PASSPHRASE_INPUT = 1024;
/** Raw username input bound (the username rule itself lives in shared/wire/username.ts). */
export const MAX_USERNAME_INPUT = 128;
export const MAX_RELAY_URL_LENGTH = 2048;
/**
 * Display name and about line input bounds, in UTF-16 code units: generous, so a too-long value
 * reaches the engine and gets INVALID_PROFILE (the rule is in UTF-8 bytes: shared/protocol/profile.ts).
 */
export const MAX_DISPLAY_NAME_INPUT = 512;
export const MAX_ABOUT_INPUT = 2048;
/** App lock idle timeout range, in minutes. */
export const MIN_APP_LOCK_MINUTES = 1;
export const MAX_APP_LOCK_MINUTES = 24 * 60;
/** One piece of a file the renderer hands to the engine (attachments:write), before base64. */
export const MAX_ATTACHMENT_CHUNK_BYTES = 1024 * 1024;
/** A file name as the renderer passes it (the engine sanitises it to at most 255 UTF-8 bytes). */
export const MAX_FILE_NAME_INPUT = 4096;
/** An attachment's caption (UTF-8 bytes; the E2E content's limit, docs/protocol.md §16). */
export const MAX_CAPTION_BYTES = 4096;
/** The longest disappearing-message timer (and the largest custom value): 4 weeks, in seconds (docs/protocol.md §23). */
export const MAX_EXPIRE_TIMER_SECONDS = 28 * 24 * 3600;
/**
 * The largest picture the renderer may hand over to become an avatar (profile:setAvatar), before
 * base64: a phone photo fits, and the request stays under the hosts' frame limit. The engine makes
 * it a WebP of at most 64 KiB (docs/protocol.md §18.2).
 */
export const MAX_AVATAR_PICTURE_BYTES = 10 * 1024 * 1024;
/** An avatar as the engine hands it to the renderer: base64 of a WebP of at most 64 KiB. */
export const MAX_AVATAR_BYTES = 64 * 1024;
/** base64 of up to `bytes` bytes. */
export function base64Schema(bytes: number) {
  return z.string().max(4 * Math.ceil(bytes / 3)).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64');
}

/** Engine-local row ids (conversations, messages): decimal strings (≤ 15 digits: safe integers), opaque to the renderer. */
const localId = z.string().regex(/^[1-9][0-9]{0,14}$/, 'not an id');
export const ConversationIdSchema = localId;
export const MessageIdSchema = localId;
/** A contact is named by its account id (public, random, 16 bytes) as 32 lowercase hex digits. */
export const ContactIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'not a contact id');
export const DeviceIdSchema = z.number().int().min(1).max(0xffffffff);
export const TimestampSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const CountSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const UsernameInputSchema = z.string().min(1).max(MAX_USERNAME_INPUT);
export const DisplayNameInputSchema = z.string().min(1).max(MAX_DISPLAY_NAME_INPUT);
export const AboutInputSchema = z.string().max(MAX_ABOUT_INPUT);
export const PassphraseInputSchema = z.string().min(1).max(MAX_PASSPHRASE_INPUT);

/**
 * The literal loopback addresses plain http may go to (DESIGN §4). Not `localhost`: a name is
 * resolved through the hosts file and the resolver, which another program (or a tampered hosts
 * file) can point anywhere. (The URL parser writes other spellings of these addresses, such as
 * `127.1` or `[0:0:0:0:0:0:0:1]`, in this form before the check; none of them is resolved.)
 */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]']);

/**
 * A relay address: an https URL, or http to a literal loopback address (development and tests).
 * Only origin and an optional path prefix; no credentials, query or fragment.
 */
export function isRelayUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username || url.password || url.search || url.hash) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

export const RelayUrlSchema = z.string().max(MAX_RELAY_URL_LENGTH).refine(isRelayUrl, 'not a relay address (https, or http on 127.0.0.1 or [::1])');
