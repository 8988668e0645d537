/**
 * One REST call to the relay (DESIGN §5; routes and body schemas in shared/wire/rest.ts): fetch with
 * a timeout, the bearer token when given, the answer parsed with its schema, and every failure as a
 * RelayClientError — the relay's error body when it sent one, NETWORK or TIMEOUT when it could not be
 * reached, BAD_RESPONSE when what came back breaks the wire format. Also the two calls that need no
 * session: the relay's well-known description and registration.
 *
 * Transport (DESIGN §4): nothing is sent to a relay address other than https, or plain http on the
 * literal loopback addresses 127.0.0.1 and [::1] (shared/api's isRelayUrl, the rule onboarding
 * applies) — INSECURE_TRANSPORT, also for an account stored by an older build with `localhost`.
 *
 * `relayHealthy` asks `/healthz` whether the relay is up and not draining (the live channel's probe
 * while the relay cannot be reached, socket.ts).
 *
 * Does not own tokens (auth.ts) or the live channel (socket.ts).
 */
import type { z } from 'zod';
import { isRelayUrl } from '../../../shared/api/primitives.js';
import { ErrorBodySchema } from '../../../shared/wire/errors.js';
import { HealthSchema, RegisterResponseSchema, ROUTES, WellKnownSchema, type RegisterRequestInput, type RouteName, type WellKnown } from '../../../shared/wire/rest.js';
import { PROVISIONING_AUTH_SCHEME } from '../../../shared/wire/provisioning.js';
import { RelayClientError } from './errors.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export type RestCallOptions<S extends z.ZodType> = {
  readonly params?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly token?: string;
  /** The new device's side of a provisioning channel: `Authorization: Channel <token>` (ADR 0024). */
  readonly channelToken?: string;
  /** Extra request headers (e.g. `Parley-Tree-Size` of a lookup). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Without a schema the answer's body is not read into the result. */
  readonly schema?: S;
  readonly timeoutMs: number;
};

function fillPath(path: string, params: Readonly<Record<string, string>>): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RelayClientError('BAD_RESPONSE', `relay answered ${response.status} with a body that is not JSON`, { status: response.status });
  }
}

function errorFromBody(status: number, body: unknown): RelayClientError {
  const parsed = ErrorBodySchema.safeParse(body);
  if (!parsed.success) return new RelayClientError('BAD_RESPONSE', `relay answered ${status} without an error body`, { status });
  const { code, message, ...details } = parsed.data.error;
  return new RelayClientError(code, message, { status, ...details });
}

/** Throws INSECURE_TRANSPORT unless `baseUrl` is https, or http on 127.0.0.1 or [::1]. */
export function checkRelayTransport(baseUrl: string): void {
  if (!isRelayUrl(baseUrl.replace(/\/+$/, ''))) {
    throw new RelayClientError('INSECURE_TRANSPORT', 'a relay is reached over https, or plain http only on 127.0.0.1 or [::1]');
  }
}

export async function restCall<S extends z.ZodType>(baseUrl: string, route: RouteName, options: RestCallOptions<S>): Promise<z.output<S>> {
  checkRelayTransport(baseUrl);
  const { method, path } = ROUTES[route];
  const headers: Record<string, string> = { ...options.headers };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  else if (options.channelToken) headers.authorization = `${PROVISIONING_AUTH_SCHEME} ${options.channelToken}`;
  let response: Response;
  try {
    response = await fetch(new URL(fillPath(path, options.params ?? {}), baseUrl), {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (e) {
    const timeout = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    throw new RelayClientError(timeout ? 'TIMEOUT' : 'NETWORK', timeout ? 'relay request timed out' : 'relay unreachable');
  }
  const body = await readJson(response);
  if (!response.ok) throw errorFromBody(response.status, body);
  if (!options.schema) return undefined as z.output<S>;
  const parsed = options.schema.safeParse(body);
  if (!parsed.success) throw new RelayClientError('BAD_RESPONSE', `unexpected response to ${route}`, { status: response.status });
  return parsed.data;
}

/** The relay's public description (`/.well-known/parley`). */
export function fetchWellKnown(url: string, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<WellKnown> {
  return restCall(url, 'wellKnown', { schema: WellKnownSchema, timeoutMs });
}

/** Registers an account with its first device (the device list names exactly that device). */
export function registerAccount(url: string, request: RegisterRequestInput, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<z.output<typeof RegisterResponseSchema>> {
  return restCall(url, 'register', { body: request, schema: RegisterResponseSchema, timeoutMs });
}

/** Whether the relay answers `/healthz` with 200 {status: "ok"} within `timeoutMs` (never throws). */
export async function relayHealthy(url: string, timeoutMs: number): Promise<boolean> {
  try {
    return (await restCall(url, 'health', { schema: HealthSchema, timeoutMs })).status === 'ok';
  } catch {
    return false;
  }
}
