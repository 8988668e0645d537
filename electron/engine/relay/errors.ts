/**
 * The relay client's one error class (electron/engine/relay): a closed code set made of the relay's
 * codes (shared/wire/errors.ts) plus the client's own — NETWORK (unreachable), TIMEOUT, BAD_RESPONSE
 * (a body or frame that breaks the wire schema), DISCONNECTED (the live channel closed under a
 * request), CLOSED (the client was closed, or the relay removed this device), RELAY_ID_MISMATCH (a
 * challenge named another relay than the one this device registered under: nothing was signed),
 * INSECURE_TRANSPORT (a plain http/ws address that is not a literal loopback address: nothing
 * was sent). The engine maps these
 * onto API errors at its boundary (electron/engine/errors.ts).
 */
import type { ErrorCode } from '../../../shared/wire/errors.js';

export type RelayClientErrorCode = ErrorCode | 'NETWORK' | 'TIMEOUT' | 'BAD_RESPONSE' | 'DISCONNECTED' | 'CLOSED' | 'RELAY_ID_MISMATCH' | 'INSECURE_TRANSPORT';

export class RelayClientError extends Error {
  override readonly name = 'RelayClientError';
  constructor(
    readonly code: RelayClientErrorCode,
    message: string,
    readonly details: {
      readonly status?: number;
      readonly retryAfterMs?: number;
      readonly missing?: readonly number[];
      readonly stale?: readonly number[];
      /** DEVICE_REMOVED: the account's current signed list (base64url), the proof checked before a wipe. */
      readonly deviceList?: string;
      /** A multi-account sealed upload (ADR 0032): the accounts (base64url ids) a refusal concerns. */
      readonly accounts?: readonly { readonly accountId: string; readonly missing?: readonly number[]; readonly stale?: readonly number[] }[];
    } = {},
  ) {
    super(message);
  }
}
