/**
 * Relay authentication for one device (DESIGN §5 "Auth"): the relay's challenge (nonce, relay id) is
 * signed with the device's Ed25519 identity key and exchanged for a short-lived session token, which
 * is cached and renewed TOKEN_REFRESH_MARGIN_MS before it expires; concurrent callers share one
 * authentication. `call` is a REST call with the token, renewed once when the relay answers
 * UNAUTHORIZED (it may have restarted its sessions or expired the token early).
 *
 * The relay id is pinned (issue 10 item 7): the id this device registered under, stored with the
 * account. A challenge naming another relay id is refused before anything is signed, so a relay
 * that forwards another relay's challenge cannot turn this device's signature into a session token
 * there; an account deletion statement always names the pinned id. A client with no pinned id
 * (an account from before the pin existed) pins the id of the first challenge and reports it
 * (`onRelayId`) so the engine stores it.
 *
 * Does not own the transport (rest.ts) or the live channel, which asks here for its token
 * (socket.ts).
 */
import type { z } from 'zod';
import { bytesEqual, toBase64Url } from '../../../shared/crypto/bytes.js';
import { ed25519Sign } from '../../../shared/crypto/ed25519.js';
import type { Clock } from '../../../shared/crypto/random.js';
import { relayAuthSignatureInput } from '../../../shared/wire/auth.js';
import { ChallengeResponseSchema, SessionResponseSchema, type RouteName } from '../../../shared/wire/rest.js';
import { RelayClientError } from './errors.js';
import { restCall } from './rest.js';

/** A token is renewed when it has less than this left. */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;

export type DeviceCredentials = {
  readonly accountId: Uint8Array;
  readonly deviceId: number;
  /** This device's Ed25519 identity private key (32-byte seed); used only to sign relay challenges. */
  readonly identitySigningKey: Uint8Array;
  /** The relay id this device registered under; challenges naming another are refused. */
  readonly relayId?: Uint8Array | null;
  /** Called once when a client without a pinned relay id pins the one of its first challenge. */
  readonly onRelayId?: (relayId: Uint8Array) => void;
};

export class RelayAuth {
  private token: { readonly value: string; readonly expiresAt: number } | undefined;
  private authenticating: Promise<string> | undefined;
  private relay: Uint8Array | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly device: DeviceCredentials,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
  ) {
    if (device.relayId) this.relay = device.relayId.slice();
  }

  /** A valid session token, fetching a new one (challenge → signature → session) when needed. */
  sessionToken(): Promise<string> {
    if (this.token && this.token.expiresAt - this.clock() > TOKEN_REFRESH_MARGIN_MS) return Promise.resolve(this.token.value);
    this.authenticating ??= this.authenticate().finally(() => {
      this.authenticating = undefined;
    });
    return this.authenticating;
  }

  /** The pinned relay id (learnt from the first challenge, authenticating first, when none was pinned). */
  async relayId(): Promise<Uint8Array> {
    if (!this.relay) await this.sessionToken();
    return this.relay!;
  }

  /**
   * Pins `relayId` (registration: the id the relay's well-known description names). Throws
   * RELAY_ID_MISMATCH if another id is pinned already.
   */
  pin(relayId: Uint8Array): void {
    if (this.relay === undefined) this.relay = relayId.slice();
    else if (!bytesEqual(this.relay, relayId)) throw new RelayClientError('RELAY_ID_MISMATCH', 'the relay describes itself with another relay id than the one pinned');
  }

  /** Drops the cached token (the relay refused it); the next call authenticates again. */
  forgetToken(): void {
    this.token = undefined;
  }

  /** A REST call with the session token, renewed once if the relay no longer accepts it. */
  async call<S extends z.ZodType>(
    route: RouteName,
    options: { readonly params?: Readonly<Record<string, string>>; readonly body?: unknown; readonly headers?: Readonly<Record<string, string>>; readonly schema?: S } = {},
  ): Promise<z.output<S>> {
    for (let attempt = 0; ; attempt++) {
      const token = await this.sessionToken();
      try {
        return await restCall(this.baseUrl, route, { ...options, token, timeoutMs: this.timeoutMs });
      } catch (e) {
        if (attempt === 0 && e instanceof RelayClientError && e.code === 'UNAUTHORIZED') {
          this.forgetToken();
          continue;
        }
        throw e;
      }
    }
  }

  private async authenticate(): Promise<string> {
    const { accountId, deviceId, identitySigningKey } = this.device;
    const accountIdText = toBase64Url(accountId);
    const challenge = await restCall(this.baseUrl, 'challenge', {
      body: { accountId: accountIdText, deviceId },
      schema: ChallengeResponseSchema,
      timeoutMs: this.timeoutMs,
    });
    if (this.relay === undefined) {
      this.relay = challenge.relayId;
      this.device.onRelayId?.(challenge.relayId.slice());
    } else if (!bytesEqual(challenge.relayId, this.relay)) {
      throw new RelayClientError('RELAY_ID_MISMATCH', 'the relay answered with another relay id than the one this device registered under');
    }
    const time = this.clock();
    const signature = ed25519Sign(identitySigningKey, relayAuthSignatureInput(challenge.relayId, challenge.nonce, time, accountId, deviceId));
    const session = await restCall(this.baseUrl, 'session', {
      body: { accountId: accountIdText, deviceId, nonce: toBase64Url(challenge.nonce), time, signature: toBase64Url(signature) },
      schema: SessionResponseSchema,
      timeoutMs: this.timeoutMs,
    });
    this.token = { value: session.token, expiresAt: session.expiresAt };
    return session.token;
  }
}
