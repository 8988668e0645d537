/**
 * Whether the relay can write (issue 10, item 16). Every store write goes through `watchWrites`;
 * a write that fails for lack of space or an I/O error (SQLITE_FULL, SQLITE_IOERR…, ENOSPC, EDQUOT,
 * EIO; PostgreSQL's disk_full 53100 and io_error 58030) starts a *failure episode*: the cause is logged once (not once per failed batch), counted in
 * `parley_relay_store_write_failures_total{cause}`, `parley_relay_store_writable` drops to 0 and
 * /healthz answers 503 until a write succeeds again — a client's retry, or the probe this module runs
 * every PROBE_INTERVAL_MS while the episode lasts (a challenge written and taken back), so that the
 * relay notices recovery even when nobody writes. The end of the episode is logged once, with its
 * length and number of failures. Callers get UNAVAILABLE with a retry hint, never INTERNAL.
 * A PostgreSQL server that cannot be reached (refused, reset, shut down, too many clients, a
 * connection timeout: cause PG_UNAVAILABLE, ADR 0035) is an episode too, for reads as well as
 * writes, and the probe notices when it is back: no restart is needed.
 * Does not own the store or the meaning of any write.
 */
import type { Logger } from '../logger.js';
import type { RelayStore } from '../store/store.js';
import { RelayError } from './errors.js';

/** How often a failing relay tries a write of its own to notice that it can write again. */
export const PROBE_INTERVAL_MS = 2_000;
/** Retry hint given to clients while writes fail. */
export const STORAGE_RETRY_AFTER_MS = 5_000;

/** The store's methods that only read; every other method writes. */
const READS: ReadonlySet<string> = new Set([
  'getAccount',
  'getAccountByUsername',
  'getDevice',
  'listDevices',
  'getRemovedDevice',
  'deviceActivity',
  'getSession',
  'prekeyCounts',
  'readMailbox',
  'countEnvelopes',
  'getContacts',
  'mutualContacts',
  'getProfile',
  'getAttachment',
  'liveAttachments',
  'attachmentTotals',
  'migrate',
  'close',
]);

export const STORAGE_FAILURE_CAUSES = ['SQLITE_FULL', 'SQLITE_IOERR', 'ENOSPC', 'EDQUOT', 'EIO', 'PG_DISK_FULL', 'PG_IO_ERROR', 'PG_UNAVAILABLE'] as const;
/** PostgreSQL SQLSTATEs (node-postgres puts them in `code`) and the cause each is counted as. */
const POSTGRES_CODES: Readonly<Record<string, StorageFailureCause>> = {
  '53100': 'PG_DISK_FULL',
  '58030': 'PG_IO_ERROR',
  // connection_exception class, too_many_connections, admin/crash shutdown, cannot_connect_now
  '08000': 'PG_UNAVAILABLE',
  '08001': 'PG_UNAVAILABLE',
  '08003': 'PG_UNAVAILABLE',
  '08004': 'PG_UNAVAILABLE',
  '08006': 'PG_UNAVAILABLE',
  '53300': 'PG_UNAVAILABLE',
  '57P01': 'PG_UNAVAILABLE',
  '57P02': 'PG_UNAVAILABLE',
  '57P03': 'PG_UNAVAILABLE',
};
/** Socket errors of a database connection (only the PostgreSQL store opens sockets). */
const SOCKET_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** node-postgres's own errors for a lost or unobtainable connection carry no code, only these messages. */
const PG_CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection terminated due to connection timeout)/;
export type StorageFailureCause = (typeof STORAGE_FAILURE_CAUSES)[number];

/** The storage cause of an error, or undefined if it is not a storage failure (a bug, a constraint). */
export function storageFailureCause(e: unknown): StorageFailureCause | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') {
    return e instanceof Error && PG_CONNECTION_MESSAGES.test(e.message) ? 'PG_UNAVAILABLE' : undefined;
  }
  if (SOCKET_CODES.has(code)) return 'PG_UNAVAILABLE';
  if (code.startsWith('SQLITE_IOERR')) return 'SQLITE_IOERR';
  if (POSTGRES_CODES[code]) return POSTGRES_CODES[code];
  return (STORAGE_FAILURE_CAUSES as readonly string[]).includes(code) ? (code as StorageFailureCause) : undefined;
}

/**
 * The two series this module writes (server/metrics.ts defines them from STORAGE_FAILURE_CAUSES;
 * named by shape here so that metrics.ts and this module do not import each other).
 */
export type StorageHealthMetrics = {
  readonly storeWriteFailures: { inc(labels: { cause: StorageFailureCause }): void };
  readonly storeWritable: { set(value: number): void };
};

export class StorageHealth {
  private episode: { readonly started: number; readonly cause: StorageFailureCause; failures: number } | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private stopped = false;

  constructor(
    private readonly deps: {
      readonly log: Logger;
      readonly metrics: StorageHealthMetrics;
      readonly now: () => number;
      /** One small real write, used to notice recovery. */
      readonly probe: () => Promise<void>;
    },
  ) {}

  get writable(): boolean {
    return this.episode === undefined;
  }

  failed(cause: StorageFailureCause, e: unknown): void {
    this.deps.metrics.storeWriteFailures.inc({ cause });
    if (this.episode) {
      this.episode.failures++;
      return;
    }
    this.episode = { started: this.deps.now(), cause, failures: 1 };
    this.deps.metrics.storeWritable.set(0);
    const message = e instanceof Error ? e.message : String(e);
    this.deps.log.error({ event: 'store.write-failing', cause, reason: message }, `store writes are failing: ${cause}`);
    this.schedule();
  }

  succeeded(): void {
    const episode = this.episode;
    if (!episode) return;
    this.episode = undefined;
    clearTimeout(this.probeTimer);
    this.deps.metrics.storeWritable.set(1);
    this.deps.log.warn(
      { event: 'store.write-recovered', cause: episode.cause, failures: episode.failures, durationMs: this.deps.now() - episode.started },
      'store writes succeed again',
    );
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.probeTimer);
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.probeTimer);
    this.probeTimer = setTimeout(() => void this.runProbe(), PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  private async runProbe(): Promise<void> {
    if (this.probing || !this.episode || this.stopped) return;
    this.probing = true;
    try {
      await this.deps.probe(); // through watchWrites: success or failure is recorded there
    } catch {
      // recorded by watchWrites (or not a storage failure: the next write decides)
    } finally {
      this.probing = false;
      if (this.episode) this.schedule();
    }
  }
}

/** Wraps a store so that every write reports to `health` and storage failures become UNAVAILABLE. */
export function watchWrites(store: RelayStore, health: StorageHealth): RelayStore {
  const translate = (e: unknown): unknown => {
    const cause = storageFailureCause(e);
    if (!cause) return e;
    health.failed(cause, e);
    const message = cause === 'PG_UNAVAILABLE' ? 'the relay cannot reach its database right now; retry later' : 'the relay cannot store anything right now; retry later';
    return new RelayError('UNAVAILABLE', message, { retryAfterMs: STORAGE_RETRY_AFTER_MS });
  };
  const watch = <T>(work: Promise<T>): Promise<T> =>
    work.then(
      (value) => {
        health.succeeded();
        return value;
      },
      (e: unknown) => {
        throw translate(e);
      },
    );
  const wrapped: Record<string, unknown> = { ...store };
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== 'function' || name === 'close' || name === 'migrate') continue;
    if (READS.has(name)) {
      // A read cannot fill a disk, but it can find the database unreachable.
      const read = value as (...args: unknown[]) => Promise<unknown>;
      wrapped[name] = (...args: unknown[]) =>
        read.apply(store, args).catch((e: unknown) => {
          throw storageFailureCause(e) === 'PG_UNAVAILABLE' ? translate(e) : e;
        });
      continue;
    }
    const method = value as (...args: unknown[]) => Promise<unknown>;
    wrapped[name] =
      name === 'commitBatch'
        ? async (...args: unknown[]) => {
            let result: Awaited<ReturnType<RelayStore['commitBatch']>>;
            try {
              result = (await method.apply(store, args)) as typeof result;
            } catch (e) {
              throw translate(e);
            }
            // A batch counts as written once it is durable: the WAL sync can fail too.
            return { ...result, durable: watch(result.durable) };
          }
        : (...args: unknown[]) => watch(method.apply(store, args));
  }
  return wrapped as RelayStore;
}
