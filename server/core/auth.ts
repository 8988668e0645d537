/**
 * Relay authentication (DESIGN §5, docs/adr/0007-relay-wire-auth-and-limits.md): challenge → signature → short-lived session token.
 *  - A challenge is a random 32-byte nonce bound to (account id, device id), single-use (taken with
 *    DELETE … RETURNING) and valid CHALLENGE_TTL_MS. It is issued for any account id, so asking for
 *    one reveals nothing about which accounts exist.
 *  - The device signs relayAuthSignatureInput (shared/wire/auth.ts) with the Ed25519 identity key of
 *    its entry in the account's current signed device list; the signed time must be within
 *    MAX_AUTH_CLOCK_SKEW_MS of the relay's clock. Every failure is the same UNAUTHORIZED.
 *  - The token is id (16 bytes) ‖ secret (32 bytes); the store keeps SHA-256(secret), compared in
 *    constant time. Tokens live SESSION_TOKEN_TTL_MS and die with their device.
 *  - A device the account's primary removed (a newer signed list dropped it) that signs a valid
 *    request with the key it had gets DEVICE_REMOVED with the current signed list — the proof it
 *    verifies before wiping itself (ADR 0027); nobody else learns that a device was removed.
 *  - Each token records the device's UTC day of activity (Linked devices' "last active").
 * Does not own transport (HTTP bearer parsing, the WebSocket auth frame) or rate-limit policy values.
 */
import { concatBytes, constantTimeEqual, toBase64Url, toHex } from '../../shared/crypto/bytes.js';
import { ed25519Verify } from '../../shared/crypto/ed25519.js';
import { sha256 } from '../../shared/crypto/sha256.js';
import { relayAuthSignatureInput } from '../../shared/wire/auth.js';
import {
  CHALLENGE_NONCE_LENGTH,
  CHALLENGE_TTL_MS,
  MAX_AUTH_CLOCK_SKEW_MS,
  SESSION_TOKEN_ID_LENGTH,
  SESSION_TOKEN_LENGTH,
  SESSION_TOKEN_SECRET_LENGTH,
  SESSION_TOKEN_TTL_MS,
} from '../../shared/wire/limits.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';
import { RelayError, spend } from './errors.js';

/** Activity is kept by UTC day (migration 0005): the relay stores no finer trace of use. */
export const DAY_MS = 86_400_000;

const unauthorized = (): RelayError => new RelayError('UNAUTHORIZED', 'authentication failed');

export class AuthService {
  constructor(private readonly ctx: RelayContext) {}

  /**
   * `address` is the client's address key (server/limits/address.ts). The per-device limit counts
   * per (address, device): keyed on the device alone, anyone who knows an account id could spend
   * the device's challenges and keep it from ever getting a token.
   */
  async challenge(address: string, accountId: Uint8Array, deviceId: number): Promise<{ nonce: Uint8Array; relayId: Uint8Array; serverTime: number }> {
    const { limits } = this.ctx;
    await spend(limits.authIp, address, 'challenges');
    await spend(limits.challenges, `${address} ${toHex(accountId)}:${deviceId}`, 'challenges for this device');
    const now = this.ctx.clock();
    const nonce = this.ctx.rng(CHALLENGE_NONCE_LENGTH);
    await this.ctx.store.putChallenge({ nonce, accountId, deviceId, expiresAt: now + CHALLENGE_TTL_MS });
    return { nonce, relayId: this.ctx.identity.relayId, serverTime: now };
  }

  async session(
    address: string,
    request: { accountId: Uint8Array; deviceId: number; nonce: Uint8Array; time: number; signature: Uint8Array },
  ): Promise<{ token: string; expiresAt: number }> {
    await spend(this.ctx.limits.authIp, address, 'session requests');
    // Taken before anything else is checked: a nonce gets exactly one attempt.
    const challenge = await this.ctx.store.takeChallenge(request.nonce);
    const now = this.ctx.clock();
    if (
      !challenge ||
      challenge.expiresAt < now ||
      !constantTimeEqual(challenge.accountId, request.accountId) ||
      challenge.deviceId !== request.deviceId ||
      Math.abs(request.time - now) > MAX_AUTH_CLOCK_SKEW_MS
    ) {
      throw unauthorized();
    }
    const device = await this.ctx.store.getDevice(request.accountId, request.deviceId);
    const input = relayAuthSignatureInput(this.ctx.identity.relayId, request.nonce, request.time, request.accountId, request.deviceId);
    if (!device) {
      await this.removed(request.accountId, request.deviceId, input, request.signature);
      throw unauthorized();
    }
    if (!ed25519Verify(device.identitySigningKey, input, request.signature)) throw unauthorized();
    await this.ctx.store.touchDevice(device.deviceKey, Math.floor(now / DAY_MS));

    const tokenId = this.ctx.rng(SESSION_TOKEN_ID_LENGTH);
    const secret = this.ctx.rng(SESSION_TOKEN_SECRET_LENGTH);
    const expiresAt = now + SESSION_TOKEN_TTL_MS;
    await this.ctx.store.putSession({ tokenId, secretHash: sha256(secret), deviceKey: device.deviceKey, expiresAt });
    const token = concatBytes(tokenId, secret);
    const text = toBase64Url(token);
    token.fill(0);
    secret.fill(0);
    return { token: text, expiresAt };
  }

  /**
   * A device no list names any more: when the primary removed it and the request is signed by the
   * key it had, DEVICE_REMOVED with the current list (which the device checks under its account
   * key). Returns (the caller answers UNAUTHORIZED) for anything else.
   */
  private async removed(accountId: Uint8Array, deviceId: number, input: Uint8Array, signature: Uint8Array): Promise<void> {
    const removed = await this.ctx.store.getRemovedDevice(accountId, deviceId);
    if (!removed || !ed25519Verify(removed.identitySigningKey, input, signature)) return;
    const account = await this.ctx.store.getAccount(accountId);
    if (!account) return;
    throw new RelayError('DEVICE_REMOVED', 'this device was removed from its account', { deviceList: account.deviceList });
  }

  /** Resolves a session token (48 bytes) to its device, or UNAUTHORIZED. */
  async authenticate(token: Uint8Array): Promise<AuthenticatedDevice> {
    if (token.length !== SESSION_TOKEN_LENGTH) throw unauthorized();
    const session = await this.ctx.store.getSession(token.subarray(0, SESSION_TOKEN_ID_LENGTH));
    const hash = sha256(token.subarray(SESSION_TOKEN_ID_LENGTH));
    if (!session || !constantTimeEqual(hash, session.secretHash) || session.expiresAt <= this.ctx.clock()) throw unauthorized();
    const { device } = session;
    return {
      accountId: device.accountId,
      accountHex: toHex(device.accountId),
      deviceId: device.deviceId,
      deviceKey: device.deviceKey,
      identitySigningKey: device.identitySigningKey,
    };
  }
}
