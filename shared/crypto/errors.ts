/**
 * The closed set of errors the primitive adapters raise. Messages name the check that failed and
 * never carry key bytes; callers switch on `code`.
 */
export type CryptoErrorCode =
  | 'INVALID_LENGTH'
  | 'INVALID_KEY_TYPE'
  | 'NON_CANONICAL_KEY'
  | 'SMALL_ORDER_KEY'
  | 'ZERO_SHARED_SECRET'
  | 'INVALID_SIGNATURE_ENCODING'
  | 'AEAD_AUTH_FAILED'
  | 'INVALID_ENCODING';

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  constructor(
    readonly code: CryptoErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Throws INVALID_LENGTH unless `bytes` is a Uint8Array of exactly `length` bytes. */
export function assertLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw new CryptoError('INVALID_LENGTH', `${what} must be ${length} bytes`);
  }
}
