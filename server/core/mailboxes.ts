/**
 * Mailboxes (DESIGN §5): sends and acks go through one group committer. Every send and ack that
 * arrives while a batch is committing and being made durable (the store's barrier: an fdatasync off
 * the event loop) waits for the next batch, so under load one fdatasync covers hundreds of items and
 * the event loop keeps serving sockets meanwhile. A send is answered only after its batch is durable;
 * its answer carries the relay timestamp and nothing about the recipient's devices' state, so it is
 * the same whether the recipient is online or not (deliveries leave after the answers).
 * Committed envelopes are announced on the bus; the WebSocket layer delivers them.
 *
 * Owns ordering: items commit in arrival order, so a sender's envelopes get increasing per-device
 * seqs in the order the sender sent them. Does not own delivery (server/ws) or the store's SQL.
 */
import { performance } from 'node:perf_hooks';
import { crashPoint } from '../crash-points.js';
import { sendParts, type AckItem, type SendItem, type SendMessage, type SendOutcome, type StoredEnvelope } from '../store/store.js';
import type { AuthenticatedDevice, RelayContext } from './context.js';
import { RelayError, spend } from './errors.js';

/**
 * Items (sends plus acks) and content bytes in one transaction; beyond either they wait for the next.
 * Generous, because a batch waits for one fdatasync: when the disk is slow, throughput is batch size
 * over sync latency.
 */
export const MAX_COMMIT_BATCH_ITEMS = 4_096;
export const MAX_COMMIT_BATCH_BYTES = 32 * 1024 * 1024;
/** Retry hint for a send to a full mailbox: the recipient has to come online and collect first. */
const MAILBOX_FULL_RETRY_MS = 60_000;
/** Retry hint when the commit queue is full or the store fails. */
const RETRY_AFTER_OVERLOAD_MS = 1_000;

type Pending =
  | {
      readonly kind: 'send';
      readonly item: SendItem;
      readonly enqueuedAt: number;
      readonly resolve: (r: { serverTimestamp: number }) => void;
      readonly reject: (e: unknown) => void;
    }
  | { readonly kind: 'ack'; readonly item: AckItem; readonly resolve: () => void; readonly reject: (e: unknown) => void };

export class Mailboxes {
  private queue: Pending[] = [];
  private flushing = false;
  private scheduled = false;
  private idleWaiters: (() => void)[] = [];
  /** Envelopes stored and not acknowledged (the queue-depth metric); counted at start. */
  private depth = 0;

  constructor(private readonly ctx: RelayContext) {}

  async init(): Promise<void> {
    this.depth = await this.ctx.store.countEnvelopes();
  }

  get storedEnvelopes(): number {
    return this.depth;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Envelopes deleted outside the committer (device purges, expiry). */
  forgotten(count: number): void {
    this.depth = Math.max(0, this.depth - count);
  }

  /**
   * Queues a send for the next commit. The envelope budget is asked first; its answers come back in
   * the order asked (the memory backend answers in microtask order, a Redis connection in command
   * order), so a sender's sends still join the queue in the order they were made.
   */
  async send(
    sender: AuthenticatedDevice,
    to: Uint8Array,
    messages: readonly { readonly deviceId: number; readonly content: Uint8Array }[],
  ): Promise<{ serverTimestamp: number }> {
    await spend(this.ctx.limits.envelopes, String(sender.deviceKey), 'envelopes from this device', messages.length);
    const full = this.checkCapacity();
    if (full) throw full;
    return new Promise((resolve, reject) => {
      this.queue.push({
        kind: 'send',
        item: { from: { accountId: sender.accountId, deviceId: sender.deviceId }, to, messages },
        enqueuedAt: performance.now(),
        resolve,
        reject,
      });
      this.schedule();
    });
  }

  /**
   * Queues a sealed send (core/sealed.ts): no sender is known or stored; its budget was spent per
   * address and per recipient token before, never per device.
   */
  sendSealed(to: Uint8Array, messages: readonly { readonly deviceId: number; readonly content: Uint8Array }[]): Promise<{ serverTimestamp: number }> {
    const full = this.checkCapacity();
    if (full) return Promise.reject(full);
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'send', item: { from: null, to, messages }, enqueuedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /**
   * Queues a sealed send to several accounts (a group send, core/sealed.ts, ADR 0032): committed in
   * one transaction, all of it or nothing, and answered after that commit.
   */
  sendSealedMulti(recipients: readonly { readonly to: Uint8Array; readonly messages: readonly SendMessage[] }[]): Promise<{ serverTimestamp: number }> {
    const full = this.checkCapacity();
    if (full) return Promise.reject(full);
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'send', item: { from: null, recipients }, enqueuedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Deletes acknowledged envelopes of the device; resolves after the deletion is committed. */
  ack(device: AuthenticatedDevice, seqs: readonly number[]): Promise<void> {
    const full = this.checkCapacity();
    if (full) return Promise.reject(full);
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: 'ack', item: { deviceKey: device.deviceKey, seqs }, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything queued so far is committed, durable and answered (drain on shutdown). */
  idle(): Promise<void> {
    if (!this.flushing && !this.scheduled && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private checkCapacity(): RelayError | undefined {
    if (this.queue.length < this.ctx.limits.config.maxCommitQueue) return undefined;
    return new RelayError('UNAVAILABLE', 'the relay is overloaded; retry later', { retryAfterMs: RETRY_AFTER_OVERLOAD_MS });
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // One macrotask of delay lets every frame already read from the sockets join the batch.
    setImmediate(() => void this.flush());
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    this.flushing = true;
    try {
      // One batch at a time: whatever arrives while a batch commits and syncs forms the next one, so
      // the batch grows with the disk's sync latency and one fdatasync covers it all.
      while (this.queue.length > 0) await this.commit(this.takeBatch());
    } finally {
      this.flushing = false;
      this.wakeIdle();
    }
  }

  private wakeIdle(): void {
    if (this.flushing || this.scheduled || this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && n < MAX_COMMIT_BATCH_ITEMS) {
      const p = this.queue[n]!;
      const size = p.kind === 'send' ? sendParts(p.item).reduce((sum, part) => part.messages.reduce((s, m) => s + m.content.length, sum), 0) : 0;
      if (n > 0 && bytes + size > MAX_COMMIT_BATCH_BYTES) break;
      bytes += size;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async commit(batch: Pending[]): Promise<void> {
    const sends: Extract<Pending, { kind: 'send' }>[] = [];
    const acks: Extract<Pending, { kind: 'ack' }>[] = [];
    for (const p of batch) {
      if (p.kind === 'send') sends.push(p);
      else acks.push(p);
    }
    const now = this.ctx.clock();
    const started = performance.now();
    let result: { readonly sends: readonly SendOutcome[]; readonly acked: number; readonly durable: Promise<void> };
    try {
      result = await this.ctx.store.commitBatch({
        sends: sends.map((s) => s.item),
        acks: acks.map((a) => a.item),
        now,
        maxMailboxEnvelopes: this.ctx.limits.config.maxMailboxEnvelopes,
      });
      await result.durable;
    } catch (e) {
      // Storage failures (disk full…) arrive as UNAVAILABLE and are logged once per episode by
      // core/storage-health.ts; anything else is logged here.
      if (!(e instanceof RelayError)) this.ctx.log.error({ err: e, event: 'mailbox.commit-failed', items: batch.length }, 'group commit failed');
      const error = e instanceof RelayError ? e : new RelayError('UNAVAILABLE', 'storage failure; retry later', { retryAfterMs: RETRY_AFTER_OVERLOAD_MS });
      for (const p of batch) p.reject(error);
      return;
    }
    crashPoint('mailbox.after-commit');
    const finished = performance.now();
    const { metrics } = this.ctx;
    // Commit plus durability (the fdatasync shared with neighbouring batches).
    metrics.commitDuration.observe((finished - started) / 1000);
    metrics.commitBatch.observe(batch.length);
    if (result.acked > 0) metrics.envelopesAcked.inc(result.acked);

    const byDevice = new Map<number, StoredEnvelope[]>();
    let stored = 0;
    sends.forEach((pending, i) => {
      const outcome = result.sends[i]!;
      metrics.sendLatency.observe((finished - pending.enqueuedAt) / 1000);
      if (outcome.status === 'committed') {
        for (const d of outcome.deliveries) {
          let list = byDevice.get(d.deviceKey);
          if (!list) byDevice.set(d.deviceKey, (list = []));
          list.push(d.envelope);
          stored++;
        }
        pending.resolve({ serverTimestamp: now });
      } else if (outcome.status === 'mismatched') {
        pending.reject(
          new RelayError('MISMATCHED_DEVICES', 'the send must name exactly the recipient\'s current devices', {
            missing: outcome.missing,
            stale: outcome.stale,
          }),
        );
      } else if (outcome.status === 'mismatched-accounts') {
        pending.reject(
          new RelayError('MISMATCHED_DEVICES', "the send must name exactly each recipient account's current devices", { accounts: outcome.accounts }),
        );
      } else if (outcome.status === 'mailbox-full') {
        metrics.mailboxFull.inc();
        pending.reject(new RelayError('MAILBOX_FULL', "a recipient device's mailbox is full; retry later", { retryAfterMs: MAILBOX_FULL_RETRY_MS }));
      } else {
        pending.reject(new RelayError('NOT_FOUND', 'no such account'));
      }
    });
    for (const a of acks) a.resolve();
    this.depth = Math.max(0, this.depth + stored - result.acked);
    if (stored > 0) metrics.envelopesStored.inc(stored);
    if (byDevice.size === 0) return;
    // Deliveries leave after the answers (their continuations run before this macrotask), so the
    // sender's answer takes the same path whether a recipient socket is connected or not.
    setImmediate(() => {
      for (const [deviceKey, envelopes] of byDevice) this.ctx.bus.publish({ kind: 'mailbox', deviceKey, envelopes });
    });
  }
}
