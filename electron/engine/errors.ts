/**
 * EngineError: a failure the engine reports to the renderer, carrying an API error code. Lower
 * layers keep their own closed error types (KeyError, StorageError, ProtocolError); `toApiError`
 * maps them at the boundary, and everything unexpected becomes a generic INTERNAL — never a
 * stringified error, which could carry a path, a platform message or worse.
 */
import { MAX_API_ERROR_MESSAGE_LENGTH, type ApiError, type ApiErrorCode } from '../../shared/api/errors.js';
import { StorageError } from './db/errors.js';
import { KeyError } from './keys/errors.js';

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
  return { code: 'INTERNAL', message: 'internal error' };
}
