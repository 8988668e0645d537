/**
 * RelayError: the one error type of the relay's services, carrying a wire error code (shared/wire
 * errors.ts) and its details. HTTP and WebSocket layers turn it into an error body or frame; any
 * other thrown value is a bug and becomes INTERNAL without its message reaching the client.
 */
import { toBase64Url } from '../../shared/crypto/bytes.js';
import type { ErrorCode, ErrorObject } from '../../shared/wire/errors.js';
import type { Limiter } from '../limits/limiter.js';

export type RelayErrorDetails = {
  readonly retryAfterMs?: number;
  readonly missing?: readonly number[];
  readonly stale?: readonly number[];
  /** DEVICE_REMOVED: the signed list that no longer names the device. */
  readonly deviceList?: Uint8Array;
  /** A multi-account sealed upload: the accounts a refusal concerns (with their mismatch, if any). */
  readonly accounts?: readonly { readonly accountId: Uint8Array; readonly missing?: readonly number[]; readonly stale?: readonly number[] }[];
};

export class RelayError extends Error {
  override readonly name = 'RelayError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: RelayErrorDetails = {},
  ) {
    super(message);
  }

  toErrorObject(): ErrorObject {
    const out: ErrorObject = { code: this.code, message: this.message };
    if (this.details.retryAfterMs !== undefined) out.retryAfterMs = Math.ceil(this.details.retryAfterMs);
    if (this.details.missing) out.missing = [...this.details.missing];
    if (this.details.stale) out.stale = [...this.details.stale];
    if (this.details.deviceList) out.deviceList = toBase64Url(this.details.deviceList);
    if (this.details.accounts) {
      out.accounts = this.details.accounts.map((a) => ({
        accountId: toBase64Url(a.accountId),
        ...(a.missing && { missing: [...a.missing] }),
        ...(a.stale && { stale: [...a.stale] }),
      }));
    }
    return out;
  }
}

export function rateLimited(retryAfterMs: number, what: string): RelayError {
  return new RelayError('RATE_LIMITED', `too many ${what}; retry later`, { retryAfterMs });
}

/** Spends `cost` points of `key` under `limiter`, or throws RATE_LIMITED naming `what`. */
export async function spend(limiter: Limiter, key: string, what: string, cost = 1): Promise<void> {
  const wait = await limiter.consume(key, cost);
  if (wait) throw rateLimited(wait, what);
}

/** The wire form of any thrown value: RelayErrors as they are, everything else as INTERNAL. */
export function toErrorObject(e: unknown): ErrorObject {
  if (e instanceof RelayError) return e.toErrorObject();
  return { code: 'INTERNAL', message: 'internal error' };
}
