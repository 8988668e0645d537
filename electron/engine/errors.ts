/**
 * EngineError: a failure the engine reports to the renderer, carrying an API error code. Lower
 * layers keep their own closed error types (KeyError, StorageError, ProtocolError); `toApiError`
 * maps them at the boundary, and everything unexpected becomes a generic INTERNAL — never a
 * stringified error, which could carry a path, a platform message or worse.
 */
import { MAX_API_ERROR_MESSAGE_LENGTH, type ApiError, type ApiErrorCode } from '../../shared/api/errors.js';
import { StorageError } from './db/errors.js';
import { KeyError } from './keys/errors.js';
import { RelayClientError } from './relay/errors.js';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function toApiError(e: unknown): ApiError {
  if (e instanceof EngineError) return { code: e.code, message: e.message.slice(0, MAX_API_ERROR_MESSAGE_LENGTH) };
  if (e instanceof KeyError) {
    switch (e.code) {
      case 'KEYCHAIN_UNAVAILABLE':
        return { code: 'KEYCHAIN_UNAVAILABLE', message: 'the OS keychain is not available; choose a passphrase' };
      case 'KEY_MISSING':
        return { code: 'KEY_MISSING', message: 'no database key is stored for this profile' };
      case 'WRONG_PASSPHRASE':
        return { code: 'WRONG_PASSPHRASE', message: 'wrong passphrase' };
      case 'INVALID_KEY_FILE':
      case 'ARGON2_PARAMS_OUT_OF_RANGE':
        return { code: 'STORAGE_FAILURE', message: 'the key file is damaged or not a Parley key file' };
    }
  }
  if (e instanceof StorageError) {
    switch (e.code) {
      case 'WRONG_KEY':
        return { code: 'STORAGE_FAILURE', message: 'the database does not open with the stored key' };
      case 'TOO_NEW':
        return { code: 'STORAGE_FAILURE', message: 'the database was written by a newer version of Parley' };
      case 'CORRUPT':
        return { code: 'STORAGE_FAILURE', message: 'the database file is damaged' };
      case 'IO':
        return { code: 'STORAGE_FAILURE', message: 'the database could not be read or written' };
    }
  }
  if (e instanceof RelayClientError) return relayApiError(e);
  return { code: 'INTERNAL', message: 'internal error' };
}

/** The relay's (and the relay client's) codes as API errors; the relay's message is not passed on. */
function relayApiError(e: RelayClientError): ApiError {
  switch (e.code) {
    case 'USERNAME_TAKEN':
      return { code: 'USERNAME_TAKEN', message: 'that username is taken' };
    case 'INVALID_USERNAME':
      return { code: 'INVALID_USERNAME', message: 'a username is 3-32 of a-z, 0-9, "_" and "."' };
    case 'NOT_FOUND':
      return { code: 'NOT_FOUND', message: 'no such account' };
    case 'RATE_LIMITED':
      return { code: 'RATE_LIMITED', message: 'the relay asks to slow down; try again later' };
    case 'NETWORK':
    case 'TIMEOUT':
    case 'DISCONNECTED':
    case 'CLOSED':
    case 'UNAVAILABLE':
    case 'BAD_RESPONSE':
    case 'INTERNAL':
    case 'TOO_MANY_CONNECTIONS':
      return { code: 'RELAY_UNAVAILABLE', message: 'the relay could not be reached' };
    case 'RELAY_ID_MISMATCH':
      return { code: 'RELAY_UNAVAILABLE', message: 'the relay answered as another relay than the one this account is registered at' };
    case 'INSECURE_TRANSPORT':
      return { code: 'RELAY_UNAVAILABLE', message: 'a relay is reached over https, or plain http only on 127.0.0.1 or [::1]' };
    default:
      return { code: 'INTERNAL', message: 'internal error' };
  }
}
