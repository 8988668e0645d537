/**
 * Assembles one relay instance (DESIGN §5): data dir and identity, store (SQLite in the data dir, or
 * PostgreSQL; migrated), bus, services, the Express app and the WebSocket gateway on one HTTP
 * server, the expiry sweeper, and an orderly drain. `startRelay` is what the `parley-relay` bin
 * (main.ts) runs and what in-process tests use; everything it needs from outside (clock, randomness,
 * limits, log level) is injectable.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { LevelWithSilent } from 'pino';
import { systemClock, systemRng, type Clock, type Rng } from '../shared/crypto/random.js';
import { ACCOUNT_ID_LENGTH } from '../shared/protocol/constants.js';
import { CHALLENGE_NONCE_LENGTH, MAILBOX_RETENTION_MS } from '../shared/wire/limits.js';
import { AttachmentService, type AttachmentSweepResult } from './blobs/attachments.js';
import { BackupService, type BackupSweepResult } from './blobs/backups.js';
import { LocalBus } from './bus/local-bus.js';
import { AccountService } from './core/accounts.js';
import { AuthService } from './core/auth.js';
import type { RelayContext } from './core/context.js';
import { Mailboxes } from './core/mailboxes.js';
import { PresenceService } from './core/presence.js';
import { PrekeyService } from './core/prekeys.js';
import { ProfileService } from './core/profiles.js';
import { SealedService } from './core/sealed.js';
import { ProvisioningService } from './core/provisioning.js';
import { StorageHealth, watchWrites } from './core/storage-health.js';
import { clientAddress, createHttpApp, device, upgradeAddress, type HttpState } from './http/app.js';
import { startMetricsListener, type MetricsOptions } from './http/metrics-endpoint.js';
import { loadOrCreateIdentity, type RelayIdentity } from './identity.js';
import type { LimiterBackend } from './limits/limiter.js';
import { RateLimits, resolveLimits, type LimitsOverride } from './limits/relay-limits.js';
import { createLogger, type Logger } from './logger.js';
import { RelayMetrics } from './metrics.js';
import { openPostgresStore } from './store/postgres.js';
import { openSqliteStore, type SqliteSynchronous } from './store/sqlite.js';
import type { RelayStore, SweepResult } from './store/store.js';
import { openWorkerStore } from './store/worker-store.js';
import { WsGateway } from './ws/gateway.js';

export const DATABASE_FILE = 'relay.sqlite';
/** How often expired envelopes, challenges, sessions and username holds are deleted. */
export const DEFAULT_SWEEP_INTERVAL_MS = 10 * 60_000;
const SWEEP_BATCH_SIZE = 5_000;
/** How long a drain waits for in-flight HTTP requests before cutting them. */
const HTTP_DRAIN_MS = 5_000;

export type RelayOptions = {
  readonly dataDir: string;
  readonly host?: string;
  readonly port?: number;
  readonly clock?: Clock;
  readonly rng?: Rng;
  readonly limits?: LimitsOverride;
  readonly logLevel?: LevelWithSilent;
  readonly logger?: Logger;
  /** Where the shared rate limits count (limits/limiter.ts); in memory by default. */
  readonly limiterBackend?: LimiterBackend;
  readonly sweepIntervalMs?: number;
  /** Where /metrics is served (http/metrics-endpoint.ts); by default nowhere. */
  readonly metrics?: MetricsOptions;
  /** Express `trust proxy` (for per-IP limits behind a reverse proxy); off by default. */
  readonly trustProxy?: boolean | string | number;
  /** SQLite's synchronous mode; production is NORMAL plus the WAL barrier (store/sqlite.ts). */
  readonly synchronous?: SqliteSynchronous;
  /**
   * Where the SQLite store runs: on its own worker thread (the `parley-relay` bin; SQLite and Kysely
   * off the event loop, two cores in use) or inline on the event loop (the default for in-process
   * use, e.g. tests that run TypeScript sources, where no compiled worker script exists).
   */
  readonly storeThread?: 'worker' | 'inline';
  /**
   * Keep the database in PostgreSQL at this URL instead of the SQLite file in the data dir (which
   * then holds only the identity). One relay per database until the scale-out issue.
   */
  readonly postgresUrl?: string;
};

export type Relay = {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly identity: RelayIdentity;
  readonly store: RelayStore;
  readonly metrics: RelayMetrics;
  /** The separate metrics listener's /metrics URL, when one was asked for. */
  readonly metricsUrl: string | undefined;
  /** Runs the expiry sweep now (mailboxes, tokens, attachments, provisioning channels, backups). */
  sweep(): Promise<SweepResult & { readonly attachments: AttachmentSweepResult; readonly provisioning: { readonly messages: number; readonly channels: number }; readonly backups: BackupSweepResult }>;
  /** Drains (no new connections, sockets closed with 1001, queued commits finished) and closes. */
  close(): Promise<void>;
};

export async function startRelay(options: RelayOptions): Promise<Relay> {
  const clock = options.clock ?? systemClock;
  const rng = options.rng ?? systemRng;
  const log = options.logger ?? createLogger(options.logLevel ?? 'info');
  const dataDir = path.resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const identity = loadOrCreateIdentity(dataDir, rng, (message) => log.warn({ event: 'identity.permissions' }, message));
  const file = path.join(dataDir, DATABASE_FILE);
  const synchronous = options.synchronous ?? 'NORMAL';
  const rawStore: RelayStore =
    options.postgresUrl !== undefined
      ? await openPostgresStore(options.postgresUrl)
      : options.storeThread === 'worker'
        ? await openWorkerStore(file, { synchronous })
        : await openSqliteStore(file, { synchronous });
  try {
    await rawStore.migrate();
  } catch (e) {
    await rawStore.close();
    throw e;
  }
  const bus = new LocalBus((e) => log.error({ err: e, event: 'bus.handler-failed' }, 'bus handler failed'));
  const limits = new RateLimits(resolveLimits(options.limits), options.limiterBackend);

  // The metrics read from parts created after them (which themselves need the metrics).
  const parts: { gateway?: WsGateway; mailboxes?: Mailboxes } = {};
  const metrics = new RelayMetrics({
    connections: () => parts.gateway?.connections ?? { unauthenticated: 0, authenticated: 0 },
    queueDepth: () => parts.mailboxes?.storedEnvelopes ?? 0,
    commitQueueDepth: () => parts.mailboxes?.pending ?? 0,
    attachments: () => store.attachmentTotals(),
  });
  // Every write reports to the storage health (disk full: logged once, /healthz 503, UNAVAILABLE).
  const health: StorageHealth = new StorageHealth({
    log,
    metrics,
    now: clock,
    probe: async () => {
      const nonce = rng(CHALLENGE_NONCE_LENGTH);
      await store.putChallenge({ nonce, accountId: new Uint8Array(ACCOUNT_ID_LENGTH), deviceId: 1, expiresAt: 0 });
      await store.takeChallenge(nonce);
    },
  });
  const store = watchWrites(rawStore, health);
  const ctx: RelayContext = { store, bus, clock, rng, identity, limits, metrics, log };
  const mailboxes = (parts.mailboxes = new Mailboxes(ctx));
  await mailboxes.init();
  const auth = new AuthService(ctx);
  const presence = new PresenceService(ctx);
  const accounts = new AccountService(ctx, mailboxes);
  const prekeys = new PrekeyService(ctx);
  const profiles = new ProfileService(ctx);
  const sealed = new SealedService(ctx, mailboxes);
  const provisioning = new ProvisioningService(ctx);
  const l = limits.config;
  const attachments = new AttachmentService(ctx, {
    dataDir,
    limits: {
      maxBytes: l.attachmentMaxBytes,
      quotaBytes: l.attachmentQuotaBytes,
      maxConcurrentUploads: l.attachmentMaxConcurrentUploads,
      retentionMs: l.attachmentRetentionMs,
      partialUploadMaxAgeMs: l.attachmentPartialMaxAgeMs,
      tombstoneMs: l.attachmentTombstoneMs,
    },
    addressOf: clientAddress,
    takeDownload: (address) => limits.attachmentDownloads.consume(address),
    deviceOf: device,
  });
  await attachments.init();
  const backups = new BackupService(ctx, { dataDir, maxBytes: l.backupMaxBytes, retentionMs: l.backupRetentionMs, addressOf: clientAddress });
  await backups.init();

  const state: HttpState = { draining: false, writable: () => health.writable };
  const app = createHttpApp(ctx, { auth, accounts, prekeys, mailboxes, presence, profiles, attachments, backups, provisioning, sealed }, state, options.metrics);
  if (options.trustProxy !== undefined) app.set('trust proxy', options.trustProxy);
  const gateway = (parts.gateway = new WsGateway(ctx, { auth, mailboxes, presence }, (request) => upgradeAddress(app, request)));
  const server: Server = createServer(app);
  server.headersTimeout = 20_000;
  // A request body may take this long: an attachment PATCH of a client's chunk on a slow link.
  server.requestTimeout = 300_000;
  server.keepAliveTimeout = 30_000;
  server.on('upgrade', (request, socket, head) => gateway.handleUpgrade(request, socket, head));

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let metricsListener: Awaited<ReturnType<typeof startMetricsListener>> | undefined;
  if (options.metrics?.listener) {
    try {
      metricsListener = await startMetricsListener(metrics, { ...options.metrics, listener: options.metrics.listener });
    } catch (e) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await gateway.drain();
      await bus.close();
      await store.close();
      throw e;
    }
  }
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  const sweep = async (): Promise<SweepResult & { readonly attachments: AttachmentSweepResult; readonly provisioning: { readonly messages: number; readonly channels: number }; readonly backups: BackupSweepResult }> => {
    const now = clock();
    const result = await store.sweep({ now, mailboxCutoff: now - MAILBOX_RETENTION_MS, batchSize: SWEEP_BATCH_SIZE });
    mailboxes.forgotten(result.envelopes);
    if (result.envelopes > 0) log.info({ event: 'mailbox.expired', envelopes: result.envelopes }, 'expired envelopes deleted');
    const swept = await attachments.sweep();
    if (swept.partial + swept.expired + swept.orphans > 0) log.info({ event: 'attachments.swept', ...swept }, 'attachments removed');
    const links = await provisioning.sweep();
    if (links.channels + links.messages > 0) log.info({ event: 'provisioning.swept', ...links }, 'expired provisioning channels removed');
    const backupsSwept = await backups.sweep();
    if (backupsSwept.expired + backupsSwept.orphans > 0) log.info({ event: 'backups.swept', ...backupsSwept }, 'expired backups removed');
    return { ...result, attachments: swept, provisioning: links, backups: backupsSwept };
  };
  let sweeping: Promise<unknown> = Promise.resolve();
  const sweeper = setInterval(() => {
    sweeping = sweep().catch((e: unknown) => log.error({ err: e, event: 'sweep.failed' }, 'expiry sweep failed'));
  }, options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS);
  sweeper.unref();

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      log.info({ event: 'relay.draining' }, 'draining');
      state.draining = true;
      clearInterval(sweeper);
      health.stop();
      await metricsListener?.close();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await gateway.drain();
      await mailboxes.idle();
      const cut = setTimeout(() => server.closeAllConnections(), HTTP_DRAIN_MS);
      await serverClosed;
      clearTimeout(cut);
      await sweeping;
      await mailboxes.idle();
      await bus.close();
      await store.close();
      log.info({ event: 'relay.closed' }, 'closed');
    })();
    return closing;
  };

  log.info({ event: 'relay.listening', host: address.address, port: address.port }, 'listening');
  return {
    url: `http://${urlHost}:${address.port}`,
    host: address.address,
    port: address.port,
    identity,
    store,
    metrics,
    metricsUrl: metricsListener?.url,
    sweep,
    close,
  };
}
