/**
 * Prometheus metrics of the relay (/metrics, prom-client): connections, frames in and out by type,
 * errors by code, mailbox queue depth, group-commit batch sizes and latencies, HTTP latency by
 * route template, attachment storage (bytes stored, uploads in progress, sweeps). Labels are closed sets (frame types, error codes, route templates): never an
 * account id, device id, IP or token. Each relay owns its own registry, so several relays can run
 * in one process (tests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CLIENT_FRAME_TYPES } from '../shared/wire/frames.js';
import { ERROR_CODES } from '../shared/wire/errors.js';
import type { BusCounters } from './bus/redis-bus.js';
import { STORAGE_FAILURE_CAUSES } from './core/storage-health.js';

/** What /metrics shows of the Redis bus and the cluster directory (server/bus). */
export type BusFigures = { readonly connected: boolean; readonly counters: BusCounters; readonly liveInstances: number };

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const FRAME_IN_LABELS = new Set<string>([...CLIENT_FRAME_TYPES, 'invalid', 'binary']);

/** The `kind` label values of parley_relay_provisioning_total. */
export const PROVISIONING_EVENTS = ['created', 'joined', 'join_expired', 'join_full', 'join_attempts_exceeded', 'message', 'swept'] as const;
export type ProvisioningEvent = (typeof PROVISIONING_EVENTS)[number];

export class RelayMetrics {
  readonly registry = new Registry();
  private readonly framesInCounts = new Map<string, number>();
  private readonly framesOutCounts = new Map<string, number>();
  readonly connections: Gauge<'state'>;
  readonly upgradesRefused: Counter<'reason'>;
  readonly framesIn: Counter<'type'>;
  readonly framesOut: Counter<'type'>;
  readonly errors: Counter<'code' | 'transport'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly sendLatency: Histogram;
  readonly commitDuration: Histogram;
  readonly commitBatch: Histogram;
  readonly envelopesStored: Counter;
  readonly envelopesDelivered: Counter;
  readonly envelopesAcked: Counter;
  readonly queueDepth: Gauge;
  readonly commitQueueDepth: Gauge;
  readonly attachmentBytesStored: Gauge;
  readonly attachmentUploadsInProgress: Gauge;
  readonly attachmentUploadsCreated: Counter;
  readonly attachmentUploadsCompleted: Counter;
  readonly attachmentUploadsTerminated: Counter;
  readonly attachmentBytesServed: Counter;
  readonly attachmentSweeps: Counter;
  readonly attachmentsSwept: Counter<'kind'>;
  readonly storeWriteFailures: Counter<'cause'>;
  readonly mailboxFull: Counter;
  readonly sealedSends: Counter<'result'>;
  readonly storeWritable: Gauge;
  readonly provisioning: Counter<'kind'>;

  constructor(sources: {
    readonly connections: () => { unauthenticated: number; authenticated: number };
    readonly queueDepth: () => number;
    readonly commitQueueDepth: () => number;
    /** Finished attachment bytes held and unfinished uploads (from the store, at scrape time). */
    readonly attachments?: () => Promise<{ readonly storedBytes: number; readonly uploadsInProgress: number }>;
    /** The bus of several instances (ADR 0035): its connection, counters and the live instances. */
    readonly bus?: () => BusFigures | undefined;
  }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_relay_' });
    this.connections = new Gauge({
      name: 'parley_relay_ws_connections',
      help: 'Open WebSocket connections by state',
      labelNames: ['state'],
      registers,
      collect() {
        const c = sources.connections();
        this.set({ state: 'unauthenticated' }, c.unauthenticated);
        this.set({ state: 'authenticated' }, c.authenticated);
      },
    });
    this.upgradesRefused = new Counter({
      name: 'parley_relay_ws_upgrades_refused_total',
      help: 'WebSocket upgrades refused before the handshake, by reason (rate: upgrades per address; address: pre-auth sockets per address; pre-auth: pre-auth sockets in all; full: authenticated connections; draining)',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['rate', 'address', 'pre-auth', 'full', 'draining']) this.upgradesRefused.inc({ reason }, 0);
    // Frame counters are hot (several per envelope): they count in plain maps and are written into
    // the prom-client counters only when scraped.
    const framesIn = this.framesInCounts;
    const framesOut = this.framesOutCounts;
    this.framesIn = new Counter({
      name: 'parley_relay_ws_frames_in_total',
      help: 'Frames received by type',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        for (const [type, n] of framesIn) this.inc({ type }, n);
      },
    });
    this.framesOut = new Counter({
      name: 'parley_relay_ws_frames_out_total',
      help: 'Frames sent by type',
      labelNames: ['type'],
      registers,
      collect() {
        this.reset();
        for (const [type, n] of framesOut) this.inc({ type }, n);
      },
    });
    this.errors = new Counter({
      name: 'parley_relay_errors_total',
      help: 'Error replies by code and transport',
      labelNames: ['code', 'transport'],
      registers,
    });
    for (const code of ERROR_CODES) {
      this.errors.inc({ code, transport: 'http' }, 0);
      this.errors.inc({ code, transport: 'ws' }, 0);
    }
    this.httpDuration = new Histogram({
      name: 'parley_relay_http_request_duration_seconds',
      help: 'REST latency by route template',
      labelNames: ['method', 'route', 'status'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.sendLatency = new Histogram({
      name: 'parley_relay_send_commit_latency_seconds',
      help: 'From a send entering the commit queue to its commit',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.commitDuration = new Histogram({
      name: 'parley_relay_commit_duration_seconds',
      help: 'Duration of one group-commit transaction',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.commitBatch = new Histogram({
      name: 'parley_relay_commit_batch_items',
      help: 'Sends and acks per group-commit transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers,
    });
    this.envelopesStored = new Counter({ name: 'parley_relay_envelopes_stored_total', help: 'Envelopes committed to mailboxes', registers });
    this.envelopesDelivered = new Counter({ name: 'parley_relay_envelopes_delivered_total', help: 'Envelope frames written to sockets', registers });
    this.envelopesAcked = new Counter({ name: 'parley_relay_envelopes_acked_total', help: 'Envelopes deleted after ack', registers });
    this.queueDepth = new Gauge({
      name: 'parley_relay_mailbox_queue_depth',
      help: 'Envelopes stored and not yet acknowledged (all mailboxes)',
      registers,
      collect() {
        this.set(sources.queueDepth());
      },
    });
    this.mailboxFull = new Counter({
      name: 'parley_relay_mailbox_full_total',
      help: 'Sends refused with MAILBOX_FULL because a recipient device mailbox held maxMailboxEnvelopes',
      registers,
    });
    this.sealedSends = new Counter({
      name: 'parley_relay_sealed_sends_total',
      help: 'Sealed-sender uploads by result (stored, online-only, refused token); never labelled by account',
      labelNames: ['result'],
      registers,
    });
    this.storeWriteFailures = new Counter({
      name: 'parley_relay_store_write_failures_total',
      help: 'Store writes that failed for lack of space, an I/O error or an unreachable PostgreSQL, by cause (SQLITE_FULL, SQLITE_IOERR, ENOSPC, EDQUOT, EIO, PG_DISK_FULL, PG_IO_ERROR, PG_UNAVAILABLE)',
      labelNames: ['cause'],
      registers,
    });
    for (const cause of STORAGE_FAILURE_CAUSES) this.storeWriteFailures.inc({ cause }, 0);
    this.storeWritable = new Gauge({
      name: 'parley_relay_store_writable',
      help: '1 while store writes succeed, 0 from a failed write until one succeeds again (/healthz answers 503 meanwhile)',
      registers,
    });
    this.storeWritable.set(1);
    // Scale-out figures of this instance (absent on the local bus): read at scrape time.
    const busFigures = sources.bus ?? (() => undefined);
    new Gauge({
      name: 'parley_relay_bus_connected',
      help: '1 while this instance reaches Redis (events to other instances flow), 0 while not; absent on the local bus',
      registers,
      collect() {
        const b = busFigures();
        if (b) this.set(b.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'parley_relay_bus_channels',
      help: 'Redis channels this instance listens to (one per device and per account it holds a socket of)',
      registers,
      collect() {
        const b = busFigures();
        if (b) this.set(b.counters.channels);
      },
    });
    new Counter({
      name: 'parley_relay_bus_events_total',
      help: 'Bus events by direction: published to Redis, received from other instances, dropped while Redis was unreachable, undecodable',
      labelNames: ['direction'],
      registers,
      collect() {
        const b = busFigures();
        if (!b) return;
        this.reset();
        this.inc({ direction: 'published' }, b.counters.published);
        this.inc({ direction: 'received' }, b.counters.received);
        this.inc({ direction: 'dropped' }, b.counters.dropped);
        this.inc({ direction: 'undecodable' }, b.counters.undecodable);
      },
    });
    new Counter({
      name: 'parley_relay_bus_resyncs_total',
      help: 'Times every socket of this instance re-read its mailbox because bus events may have been lost (Redis reconnect, an instance gone)',
      registers,
      collect() {
        const b = busFigures();
        if (!b) return;
        this.reset();
        this.inc(b.counters.resyncs);
      },
    });
    new Gauge({
      name: 'parley_relay_cluster_instances',
      help: 'Live instances of this relay in the cluster directory (this one included), at the last heartbeat',
      registers,
      collect() {
        const b = busFigures();
        if (b) this.set(b.liveInstances);
      },
    });
    this.commitQueueDepth = new Gauge({
      name: 'parley_relay_commit_queue_depth',
      help: 'Sends and acks waiting for the group commit',
      registers,
      collect() {
        this.set(sources.commitQueueDepth());
      },
    });
    // Both attachment gauges read the same store query; one scrape asks once.
    let totals: Promise<{ readonly storedBytes: number; readonly uploadsInProgress: number }> | undefined;
    const attachmentTotals = () => {
      totals ??= (sources.attachments?.() ?? Promise.resolve({ storedBytes: 0, uploadsInProgress: 0 })).finally(() => {
        setImmediate(() => (totals = undefined));
      });
      return totals;
    };
    this.attachmentBytesStored = new Gauge({
      name: 'parley_relay_attachment_bytes_stored',
      help: 'Ciphertext bytes of finished attachments held',
      registers,
      async collect() {
        this.set((await attachmentTotals()).storedBytes);
      },
    });
    this.attachmentUploadsInProgress = new Gauge({
      name: 'parley_relay_attachment_uploads_in_progress',
      help: 'Attachment uploads created and not finished',
      registers,
      async collect() {
        this.set((await attachmentTotals()).uploadsInProgress);
      },
    });
    this.attachmentUploadsCreated = new Counter({ name: 'parley_relay_attachment_uploads_created_total', help: 'Attachment uploads created', registers });
    this.attachmentUploadsCompleted = new Counter({ name: 'parley_relay_attachment_uploads_completed_total', help: 'Attachment uploads finished', registers });
    this.attachmentUploadsTerminated = new Counter({
      name: 'parley_relay_attachment_uploads_terminated_total',
      help: 'Attachment uploads cancelled or deleted by their uploader',
      registers,
    });
    this.attachmentBytesServed = new Counter({ name: 'parley_relay_attachment_bytes_served_total', help: 'Attachment bytes sent to downloaders', registers });
    this.attachmentSweeps = new Counter({ name: 'parley_relay_attachment_sweeps_total', help: 'Attachment expiry sweeps run', registers });
    this.attachmentsSwept = new Counter({
      name: 'parley_relay_attachments_swept_total',
      help: 'Attachments removed by the sweep: partial (unfinished past 24 h), expired (past retention), orphan (files without a record)',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['partial', 'expired', 'orphan']) this.attachmentsSwept.inc({ kind }, 0);
    this.provisioning = new Counter({
      name: 'parley_relay_provisioning_total',
      help:
        'Provisioning channels (device linking): created, joined, join refused (expired, full, attempts), messages stored, channels swept after expiry',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of PROVISIONING_EVENTS) this.provisioning.inc({ kind }, 0);
  }

  frameIn(type: string): void {
    const label = FRAME_IN_LABELS.has(type) ? type : 'invalid';
    this.framesInCounts.set(label, (this.framesInCounts.get(label) ?? 0) + 1);
  }

  frameOut(type: string): void {
    this.framesOutCounts.set(type, (this.framesOutCounts.get(type) ?? 0) + 1);
  }
}
