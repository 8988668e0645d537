/**
 * The relay's REST surface (Express 5, DESIGN §5): every route of shared/wire ROUTES, each body
 * parsed with a per-route size limit derived from its schema's worst case (wire-size.ts) and
 * validated with its zod schema; bearer-token authentication; per-IP request limits; JSON error
 * bodies with a closed code set for everything that goes wrong, including unknown routes, bad JSON,
 * oversized bodies and bugs (INTERNAL, logged, never echoed). Latency is recorded per route template,
 * never per path (paths carry account ids). Does not own any business rule (server/core).
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { z } from 'zod';
import { fromBase64Url, toBase64Url } from '../../shared/crypto/bytes.js';
import { HTTP_STATUS, type ErrorObject } from '../../shared/wire/errors.js';
import {
  CHALLENGE_TTL_MS,
  MAX_ACK_BATCH,
  MAX_AUTH_CLOCK_SKEW_MS,
  MAX_CONNECTIONS_PER_DEVICE,
  MAX_CONTACTS,
  MAX_DEVICES_PER_ACCOUNT,
  MAX_ENVELOPE_CONTENT,
  MAX_ENCRYPTED_PROFILE_BYTES,
  MAX_PRESENCE_QUERY,
  MAX_PREKEYS_PER_UPLOAD,
  MAILBOX_RETENTION_MS,
  SESSION_TOKEN_LENGTH,
  SESSION_TOKEN_TTL_MS,
} from '../../shared/wire/limits.js';
import { ATTACHMENTS_PATH } from '../../shared/wire/attachments.js';
import { BACKUPS_PATH } from '../../shared/wire/backup.js';
import { AccountIdSchema, DeviceIdSchema } from '../../shared/wire/primitives.js';
import {
  ChallengeRequestSchema,
  ContactsRequestSchema,
  DeleteAccountRequestSchema,
  PresenceQuerySchema,
  PrekeyUploadSchema,
  PutProfileRequestSchema,
  PutDeviceListRequestSchema,
  RegisterRequestSchema,
  ROUTES,
  SendRequestSchema,
  SessionRequestSchema,
  SettingsRequestSchema,
  type RouteName,
} from '../../shared/wire/rest.js';
import {
  CreateProvisioningChannelRequestSchema,
  JoinProvisioningChannelRequestSchema,
  MAX_PROVISIONING_BODY_BYTES,
  MAX_PROVISIONING_MESSAGES,
  PROVISIONING_TOKEN_LENGTH,
  ProvisioningChannelIdSchema,
  ProvisioningMessageRequestSchema,
} from '../../shared/wire/provisioning.js';
import {
  MAX_SEALED_BODY_BYTES,
  MAX_SEALED_ENVELOPE_BYTES,
  MAX_SEALED_RECIPIENTS_PER_UPLOAD,
  MAX_SEALED_UPLOAD_BYTES,
  PutDeliveryTokenRequestSchema,
  SealedSendRequestSchema,
} from '../../shared/wire/sealed.js';
import { MAX_SENDER_CERTIFICATE_LIFETIME_MS } from '../../shared/protocol/constants.js';
import { WIRE_VERSION } from '../../shared/wire/version.js';
import {
  MAX_CLIENT_FRAME_BYTES,
  MAX_CONTACTS_BODY_BYTES,
  MAX_PREKEY_BODY_BYTES,
  MAX_PROFILE_BODY_BYTES,
  MAX_REGISTER_BODY_BYTES,
  MAX_SEND_BODY_BYTES,
  MAX_SMALL_BODY_BYTES,
} from '../../shared/wire/wire-size.js';
import type { AttachmentService } from '../blobs/attachments.js';
import type { BackupService } from '../blobs/backups.js';
import type { AccountService } from '../core/accounts.js';
import type { AuthService } from '../core/auth.js';
import type { AuthenticatedDevice, RelayContext } from '../core/context.js';
import { RelayError, spend, toErrorObject } from '../core/errors.js';
import type { Mailboxes } from '../core/mailboxes.js';
import { presenceEntryWire, type PresenceService } from '../core/presence.js';
import type { PrekeyService } from '../core/prekeys.js';
import type { ProfileService } from '../core/profiles.js';
import { CERTIFICATE_KEY_ID, type SealedService } from '../core/sealed.js';
import type { ProvisioningCredential, ProvisioningService } from '../core/provisioning.js';
import { parseOrThrow } from '../core/validation.js';
import { addressKey } from '../limits/address.js';
import { metricsAuthorizer, type MetricsOptions } from './metrics-endpoint.js';
import { accountJson, bundleJson } from './serialize.js';

export type HttpServices = {
  readonly auth: AuthService;
  readonly attachments: AttachmentService;
  /** Absent: the relay serves no backups (and does not announce them). */
  readonly backups?: BackupService;
  readonly accounts: AccountService;
  readonly prekeys: PrekeyService;
  readonly mailboxes: Mailboxes;
  readonly presence: PresenceService;
  readonly profiles: ProfileService;
  readonly provisioning: ProvisioningService;
  readonly sealed: SealedService;
};

export type HttpState = {
  draining: boolean;
  /** Whether store writes succeed (core/storage-health.ts). */
  readonly writable: () => boolean;
};

const ALLOWED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH']);
const BEARER = /^Bearer ([A-Za-z0-9_-]{1,128})$/;
const CHANNEL_TOKEN = /^Channel ([A-Za-z0-9_-]{1,128})$/;

type Locals = { device?: AuthenticatedDevice; started: number; route?: string };

function locals(res: Response): Locals {
  return res.locals as Locals;
}

/** The key per-address limits count this client under (its IPv4 address or IPv6 /64). */
export function clientAddress(req: Request): string {
  return addressKey(req.ip ?? req.socket.remoteAddress ?? 'unknown');
}

/**
 * The address key of a request Express does not route (a WebSocket upgrade), under the app's
 * `trust proxy` rule: read through the app's request prototype, as Express reads `req.ip`.
 */
export function upgradeAddress(app: express.Express, request: IncomingMessage): string {
  const view = Object.create(app.request, { socket: { value: request.socket }, headers: { value: request.headers } }) as Request;
  return clientAddress(view);
}

/** An empty body is not JSON (body-parser would call it `{}`). */
function refuseEmpty(_req: unknown, _res: unknown, buffer: Buffer): void {
  if (buffer.length === 0) throw new RelayError('MALFORMED', 'expected a JSON body');
}

function json(limit: number): RequestHandler {
  return express.json({ limit, strict: true, type: 'application/json', verify: refuseEmpty });
}

function body<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  if (req.body === undefined) throw new RelayError('MALFORMED', 'expected an application/json body');
  return parseOrThrow(schema, req.body);
}

function param<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new RelayError('MALFORMED', 'invalid path parameter');
  return result.data;
}

export function device(res: Response): AuthenticatedDevice {
  return locals(res).device!;
}

export function sendError(res: Response, error: ErrorObject): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error.retryAfterMs !== undefined) res.set('Retry-After', String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))));
  res.status(HTTP_STATUS[error.code]).json({ error });
}

export function createHttpApp(
  ctx: RelayContext,
  services: HttpServices,
  state: HttpState,
  metricsOptions: MetricsOptions = {},
): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);

  const requireAuth: RequestHandler = async (req, res, next) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    let token: Uint8Array | undefined;
    try {
      token = match ? fromBase64Url(match[1]!) : undefined;
    } catch {
      token = undefined;
    }
    if (!token || token.length !== SESSION_TOKEN_LENGTH) throw new RelayError('UNAUTHORIZED', 'a bearer session token is required');
    try {
      locals(res).device = await services.auth.authenticate(token);
    } finally {
      token.fill(0);
    }
    next();
  };

  /**
   * Who is asking on a provisioning channel: the new device (`Authorization: Channel <token>`) or
   * an authenticated device (`Bearer <session token>`, as requireAuth checks it).
   */
  const provisioningCredential = async (req: Request, res: Response): Promise<ProvisioningCredential> => {
    const header = req.get('authorization') ?? '';
    const channel = CHANNEL_TOKEN.exec(header);
    if (!channel) {
      await new Promise<void>((resolve, reject) => {
        Promise.resolve(requireAuth(req, res, (e?: unknown) => (e ? reject(e) : resolve()))).catch(reject);
      });
      return { kind: 'device', device: device(res) };
    }
    let token: Uint8Array;
    try {
      token = fromBase64Url(channel[1]!);
    } catch {
      throw new RelayError('UNAUTHORIZED', 'a channel token is required');
    }
    if (token.length !== PROVISIONING_TOKEN_LENGTH) throw new RelayError('UNAUTHORIZED', 'a channel token is required');
    return { kind: 'token', token };
  };

  /** Registers a route from the shared table, recording its template for metrics. */
  const route = (name: RouteName, ...handlers: RequestHandler[]): void => {
    const { method, path } = ROUTES[name];
    const tag: RequestHandler = (_req, res, next) => {
      locals(res).route = path;
      next();
    };
    const verb = method.toLowerCase() as 'get' | 'post' | 'put' | 'delete';
    app[verb](path, tag, ...handlers);
  };

  app.use(async (req, res, next) => {
    locals(res).started = performance.now();
    res.on('finish', () => {
      const l = locals(res);
      ctx.metrics.httpDuration.observe(
        { method: req.method, route: l.route ?? 'unmatched', status: String(res.statusCode) },
        (performance.now() - l.started) / 1000,
      );
    });
    if (!ALLOWED_METHODS.has(req.method)) throw new RelayError('NOT_FOUND', 'no such route');
    if (state.draining && req.path !== ROUTES.health.path) {
      throw new RelayError('UNAVAILABLE', 'the relay is shutting down', { retryAfterMs: 1_000 });
    }
    await spend(ctx.limits.requests, clientAddress(req), 'requests from this address');
    next();
  });

  // ── Relay description and operations ──
  route('health', (_req, res) => {
    const status = state.draining ? 'draining' : state.writable() ? 'ok' : 'storage-failing';
    res.status(status === 'ok' ? 200 : 503).json({ status });
  });
  // Served here only with a token (metrics-endpoint.ts); without one it is an unknown route.
  const metricsAuthorized = metricsOptions.token === undefined ? undefined : metricsAuthorizer(metricsOptions.token);
  route('metrics', async (req, res) => {
    if (!metricsAuthorized) throw new RelayError('NOT_FOUND', 'no such route');
    if (!metricsAuthorized(req.get('authorization'))) throw new RelayError('UNAUTHORIZED', 'a bearer metrics token is required');
    res.set('Content-Type', ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  route('wellKnown', (_req, res) => {
    res.json({
      wireVersion: WIRE_VERSION,
      relayId: toBase64Url(ctx.identity.relayId),
      certificateKey: toBase64Url(ctx.identity.certificateKey.publicKey),
      treeHeadKey: toBase64Url(ctx.identity.treeHeadKey.publicKey),
      limits: {
        maxEnvelopeContent: MAX_ENVELOPE_CONTENT,
        maxDevicesPerAccount: MAX_DEVICES_PER_ACCOUNT,
        maxConnectionsPerDevice: MAX_CONNECTIONS_PER_DEVICE,
        maxFrameBytes: MAX_CLIENT_FRAME_BYTES,
        maxPrekeysPerUpload: MAX_PREKEYS_PER_UPLOAD,
        maxContacts: MAX_CONTACTS,
        maxAckBatch: MAX_ACK_BATCH,
        maxPresenceQuery: MAX_PRESENCE_QUERY,
        maxProfileBytes: MAX_ENCRYPTED_PROFILE_BYTES,
        mailboxRetentionMs: MAILBOX_RETENTION_MS,
        sessionTokenTtlMs: SESSION_TOKEN_TTL_MS,
        challengeTtlMs: CHALLENGE_TTL_MS,
        maxAuthClockSkewMs: MAX_AUTH_CLOCK_SKEW_MS,
      },
      attachments: services.attachments.announce(),
      ...(services.backups && { backups: services.backups.announce() }),
      sealed: {
        certificateKeyId: CERTIFICATE_KEY_ID,
        certificateLifetimeMs: MAX_SENDER_CERTIFICATE_LIFETIME_MS,
        maxUploadBytes: MAX_SEALED_UPLOAD_BYTES,
        maxEnvelopeBytes: MAX_SEALED_ENVELOPE_BYTES,
        maxRecipients: MAX_SEALED_RECIPIENTS_PER_UPLOAD,
      },
    });
  });

  // ── Auth ──
  route('challenge', json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    const { accountId, deviceId } = body(ChallengeRequestSchema, req);
    const c = await services.auth.challenge(clientAddress(req), accountId, deviceId);
    res.json({ nonce: toBase64Url(c.nonce), relayId: toBase64Url(c.relayId), serverTime: c.serverTime });
  });
  route('session', json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    const request = body(SessionRequestSchema, req);
    res.json(await services.auth.session(clientAddress(req), request));
  });

  // ── Accounts ──
  route('register', json(MAX_REGISTER_BODY_BYTES), async (req, res) => {
    const r = await services.accounts.register(clientAddress(req), body(RegisterRequestSchema, req));
    res.status(201).json({ accountId: toBase64Url(r.accountId), username: r.username, deviceId: r.deviceId });
  });
  route('putDeviceList', requireAuth, json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    const { deviceList } = body(PutDeviceListRequestSchema, req);
    res.json(await services.accounts.putDeviceList(device(res), deviceList));
  });
  route('restoreDeviceList', json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    const accountId = param(AccountIdSchema, req.params.accountId);
    const { deviceList } = body(PutDeviceListRequestSchema, req);
    res.json(await services.accounts.restoreDeviceList(clientAddress(req), accountId, deviceList));
  });
  route('putSettings', requireAuth, json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    const { presenceVisible } = body(SettingsRequestSchema, req);
    await services.presence.setVisible(device(res), presenceVisible);
    res.status(204).end();
  });
  route('deleteAccount', requireAuth, json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    await services.accounts.deleteAccount(device(res), body(DeleteAccountRequestSchema, req));
    res.status(204).end();
  });
  route('ownDevices', requireAuth, async (_req, res) => {
    res.json({ devices: await services.accounts.ownDevices(device(res)) });
  });
  route('unregisterDevice', requireAuth, async (_req, res) => {
    await services.accounts.unregisterDevice(device(res));
    res.status(204).end();
  });
  route('lookupAccount', requireAuth, async (req, res) => {
    res.json(accountJson(await services.accounts.lookup(device(res), param(AccountIdSchema, req.params.accountId))));
  });
  route('lookupUsername', requireAuth, async (req, res) => {
    const raw = req.params.username;
    if (typeof raw !== 'string') throw new RelayError('MALFORMED', 'invalid path parameter');
    res.json(accountJson(await services.accounts.lookupUsername(device(res), raw)));
  });

  // ── Prekeys ──
  route('uploadPrekeys', requireAuth, json(MAX_PREKEY_BODY_BYTES), async (req, res) => {
    res.json(await services.prekeys.upload(device(res), body(PrekeyUploadSchema, req)));
  });
  route('prekeyCounts', requireAuth, async (_req, res) => {
    res.json(await services.prekeys.counts(device(res)));
  });
  route('bundles', requireAuth, async (req, res) => {
    const target = param(AccountIdSchema, req.params.accountId);
    const bundles = await services.prekeys.bundles(clientAddress(req), device(res), target);
    res.json({ accountId: toBase64Url(target), bundles: bundles.map(bundleJson) });
  });
  route('deviceBundle', requireAuth, async (req, res) => {
    const target = param(AccountIdSchema, req.params.accountId);
    const deviceIdText = req.params.deviceId;
    if (typeof deviceIdText !== 'string' || !/^[1-9][0-9]{0,9}$/.test(deviceIdText)) throw new RelayError('MALFORMED', 'invalid device id');
    const deviceId = param(DeviceIdSchema, Number(deviceIdText));
    const bundles = await services.prekeys.bundles(clientAddress(req), device(res), target, deviceId);
    res.json({ accountId: toBase64Url(target), bundles: bundles.map(bundleJson) });
  });

  // ── Messages ──
  route('send', requireAuth, json(MAX_SEND_BODY_BYTES), async (req, res) => {
    const { to, messages } = body(SendRequestSchema, req);
    res.json(await services.mailboxes.send(device(res), to, messages));
  });

  // ── Contacts and presence ──
  route('putContacts', requireAuth, json(MAX_CONTACTS_BODY_BYTES), async (req, res) => {
    await services.presence.replaceContacts(device(res), body(ContactsRequestSchema, req).contacts);
    res.status(204).end();
  });
  route('getContacts', requireAuth, async (_req, res) => {
    const c = await services.presence.contacts(device(res));
    res.json({ contacts: c.contacts.map(toBase64Url), presenceVisible: c.presenceVisible });
  });
  route('deleteContacts', requireAuth, async (_req, res) => {
    await services.presence.replaceContacts(device(res), []);
    res.status(204).end();
  });
  route('presenceQuery', requireAuth, json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    const requester = device(res);
    await spend(ctx.limits.lookups, requester.accountHex, 'presence queries');
    const entries = await services.presence.snapshot(requester, body(PresenceQuerySchema, req).accounts);
    res.json({ entries: entries.map(presenceEntryWire) });
  });

  // ── Profiles (encrypted; the relay never sees a name) ──
  route('putProfile', requireAuth, json(MAX_PROFILE_BODY_BYTES), async (req, res) => {
    await services.profiles.put(device(res), body(PutProfileRequestSchema, req).profile);
    res.status(204).end();
  });
  route('getProfile', requireAuth, async (req, res) => {
    const accountId = param(AccountIdSchema, req.params.accountId);
    const stored = await services.profiles.get(device(res), accountId);
    res.json({ accountId: toBase64Url(accountId), profile: toBase64Url(stored.profile), updatedAt: stored.updatedAt });
  });
  // ── Sealed sender (docs/protocol.md §21, ADR 0029) ──
  route('putDeliveryToken', requireAuth, json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    await services.sealed.setTokenHash(device(res), body(PutDeliveryTokenRequestSchema, req).tokenHash);
    res.status(204).end();
  });
  route('senderCertificate', requireAuth, async (_req, res) => {
    const c = await services.sealed.certificate(device(res));
    res.json({ certificate: toBase64Url(c.certificate), keyId: c.keyId, expiresAt: c.expiresAt });
  });
  // Never authenticated: the relay must not learn who sends (an Authorization header is ignored).
  route('sealedSend', json(MAX_SEALED_BODY_BYTES), async (req, res) => {
    const { to, token, upload, online } = body(SealedSendRequestSchema, req);
    res.json(await services.sealed.send(clientAddress(req), { to, token, upload, online: online ?? false }));
  });

  // ── Provisioning channels (device linking; opaque messages, ADR 0024) ──
  route('createProvisioningChannel', json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    body(CreateProvisioningChannelRequestSchema, req);
    const c = await services.provisioning.create(clientAddress(req));
    res.status(201).json({ channelId: toBase64Url(c.channelId), rendezvous: c.rendezvous, token: toBase64Url(c.token), expiresAt: c.expiresAt });
  });
  route('joinProvisioningChannel', requireAuth, json(MAX_SMALL_BODY_BYTES), async (req, res) => {
    const r = await services.provisioning.join(device(res), body(JoinProvisioningChannelRequestSchema, req));
    res.json({ channelId: toBase64Url(r.channelId), expiresAt: r.expiresAt });
  });
  route('sendProvisioningMessage', json(MAX_PROVISIONING_BODY_BYTES), async (req, res) => {
    const channelId = param(ProvisioningChannelIdSchema, req.params.channelId);
    const who = await provisioningCredential(req, res);
    const { body: message } = body(ProvisioningMessageRequestSchema, req);
    res.status(201).json(await services.provisioning.send(channelId, who, message));
  });
  route('provisioningInbox', async (req, res) => {
    const channelId = param(ProvisioningChannelIdSchema, req.params.channelId);
    const afterText = req.params.after;
    if (typeof afterText !== 'string' || !/^(0|[1-9][0-9]?)$/.test(afterText) || Number(afterText) > MAX_PROVISIONING_MESSAGES) {
      throw new RelayError('MALFORMED', 'invalid sequence number');
    }
    const who = await provisioningCredential(req, res);
    const inbox = await services.provisioning.inbox(channelId, who, Number(afterText));
    res.json({
      messages: inbox.messages.map((m) => ({ seq: m.seq, body: toBase64Url(m.body) })),
      joined: inbox.joined,
      expiresAt: inbox.expiresAt,
    });
  });

  // ── Attachments (tus uploads, range downloads; server/blobs) ──
  app.use((req, res, next) => {
    if (req.path === ATTACHMENTS_PATH || req.path.startsWith(`${ATTACHMENTS_PATH}/`)) locals(res).route = `${ATTACHMENTS_PATH}/:id`;
    next();
  });
  app.use(services.attachments.router(requireAuth));

  // ── Backups (signed by the backup key, never a session token; server/blobs/backups.ts) ──
  if (services.backups) {
    app.use((req, res, next) => {
      if (req.path.startsWith(`${BACKUPS_PATH}/`)) locals(res).route = req.path === `${BACKUPS_PATH}/challenge` ? req.path : `${BACKUPS_PATH}/:id`;
      next();
    });
    app.use(services.backups.router());
  }

  app.use(() => {
    throw new RelayError('NOT_FOUND', 'no such route');
  });

  // Express recognises error handlers by their four parameters.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = httpErrorObject(err);
    if (error.code === 'INTERNAL') ctx.log.error({ err, event: 'http.internal', route: locals(res).route }, 'internal error');
    ctx.metrics.errors.inc({ code: error.code, transport: 'http' });
    sendError(res, error);
  });

  return app;
}

/** body-parser and router errors carry `type` / `status`; map them onto the wire codes. */
function httpErrorObject(err: unknown): ErrorObject {
  if (err instanceof RelayError) return err.toErrorObject();
  const e = err as { type?: unknown; status?: unknown } | null;
  if (e && e.type === 'entity.too.large') return { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' };
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return { code: 'MALFORMED', message: 'malformed request' };
  }
  return toErrorObject(err);
}
