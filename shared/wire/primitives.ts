/**
 * Field schemas every REST body and frame is built from: strict base64url byte fields (no padding,
 * canonical, exact or bounded decoded length, decoded to `Uint8Array`), account ids (16 bytes),
 * device ids (u32 ≥ 1), sequence numbers, timestamps, request ids. Does not own any message shape
 * (rest.ts, frames.ts) or any check needing keys (the relay's services do signatures).
 */
import { z } from 'zod';
import { fromBase64Url } from '../crypto/bytes.js';
import { ED25519_PUBLIC_KEY_LENGTH, ED25519_SIGNATURE_LENGTH } from '../crypto/ed25519.js';
import { MLKEM768_PUBLIC_KEY_LENGTH } from '../crypto/ml-kem-768.js';
import { X25519_KEY_LENGTH } from '../crypto/x25519.js';
import { ACCOUNT_ID_LENGTH } from '../protocol/constants.js';

/** Base64url (no padding) length of `n` bytes. */
export function base64UrlLength(n: number): number {
  return Math.ceil((n * 4) / 3);
}

/**
 * A byte field: a strict base64url string whose decoded length is exactly `length`, or within
 * [min, max]. The string length is checked before decoding, so a huge field costs no decode.
 */
export function bytesField(spec: { readonly length: number } | { readonly min: number; readonly max: number }) {
  const min = 'length' in spec ? spec.length : spec.min;
  const max = 'length' in spec ? spec.length : spec.max;
  return z
    .string()
    .min(base64UrlLength(min))
    .max(base64UrlLength(max))
    .transform((text, ctx): Uint8Array => {
      let bytes: Uint8Array;
      try {
        bytes = fromBase64Url(text);
      } catch {
        ctx.issues.push({ code: 'custom', message: 'not strict base64url', input: text });
        return z.NEVER;
      }
      if (bytes.length < min || bytes.length > max) {
        ctx.issues.push({ code: 'custom', message: 'wrong decoded length', input: text });
        return z.NEVER;
      }
      return bytes;
    });
}

export const MAX_U32 = 0xffffffff;

export const AccountIdSchema = bytesField({ length: ACCOUNT_ID_LENGTH });
export const DeviceIdSchema = z.number().int().min(1).max(MAX_U32);
export const KeyIdSchema = z.number().int().min(0).max(MAX_U32);
/** Mailbox sequence numbers are per device, start at 1 and never repeat for a device. */
export const SeqSchema = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
/** Milliseconds since the Unix epoch. */
export const TimestampSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const Ed25519PublicKeySchema = bytesField({ length: ED25519_PUBLIC_KEY_LENGTH });
export const X25519PublicKeySchema = bytesField({ length: X25519_KEY_LENGTH });
export const MlKemPublicKeySchema = bytesField({ length: MLKEM768_PUBLIC_KEY_LENGTH });
export const SignatureSchema = bytesField({ length: ED25519_SIGNATURE_LENGTH });

/** Client-chosen id of a frame that expects a reply; echoed as `ref`. */
export const MAX_REQUEST_ID_LENGTH = 64;
export const RequestIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
