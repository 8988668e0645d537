/**
 * KeyError: the closed set of failures of the database-key providers. Messages never carry key
 * bytes, passphrases or the platform's error text (which may name the user's keyring).
 */
export type KeyErrorCode =
  /** No OS keychain answered (no Secret Service on Linux, locked or refused): use a passphrase. */
  | 'KEYCHAIN_UNAVAILABLE'
  /** The keychain (or key file) holds no usable key for this profile. */
  | 'KEY_MISSING'
  /** The passphrase does not open the key file. */
  | 'WRONG_PASSPHRASE'
  /** The key file is not a Parley key file, or is damaged. */
  | 'INVALID_KEY_FILE'
  /** Argon2id parameters outside m 64 MiB-1 GiB, t 3-10, p 1-4 (refused before any work). */
  | 'ARGON2_PARAMS_OUT_OF_RANGE';

export class KeyError extends Error {
  override readonly name = 'KeyError';
  constructor(
    readonly code: KeyErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isKeyError(e: unknown, code?: KeyErrorCode): e is KeyError {
  return e instanceof KeyError && (code === undefined || e.code === code);
}
