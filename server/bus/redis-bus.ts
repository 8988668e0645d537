/**
 * RedisBus: the Bus of relay instances that share one PostgreSQL (docs/adr/0035-scale-out.md).
 * Every event is delivered to this instance's subscribers at once, as LocalBus does, and published
 * on Redis pub/sub for the other instances: mailbox wake-ups, ephemeral (typing) envelopes and
 * removed devices on the channel of each device they name (`…d:<device key>`), presence frames
 * on the channel of each account (`…a:<account hex>`), both under the relay's
 * namespace (`parley:<relay id>:…`). An instance subscribes
 * to a device's or account's channel only while it holds one of its sockets (`listen`), so an event
 * reaches only the instances that can use it, and a publish nobody listens to costs Redis nothing.
 *
 * Redis pub/sub delivers at most once. What that costs, and why it never loses a message
 * (durability is PostgreSQL's; the bus only wakes):
 *  - a mailbox event names the committed envelopes (inline up to MAX_INLINE_ENVELOPE_BYTES, else
 *    only the device), and the receiving socket reads from the store whenever what it hears does not
 *    continue its cursor (ws/connection.ts);
 *  - a publish while this instance cannot reach Redis is not queued (a backlog of stale wake-ups
 *    helps nobody): it is counted as owed, and when the connection is back the bus publishes one
 *    resync request on the relay's `all` channel, which every instance listens to;
 *  - when the subscriber connection comes back after a cut (Redis restarted, network), the channels
 *    are subscribed again and the bus emits `resync` locally;
 *  - `resync` (from either) makes every socket of the instance re-read its mailbox; the cluster
 *    directory (cluster.ts) asks for it too when another instance dies, for what that instance
 *    committed and never published.
 * Events this instance published come back from Redis when it listens to the channel itself; they
 * carry its instance id and are ignored (they were delivered locally already).
 * Does not own who is connected where (cluster.ts), delivery (server/ws) or durability (store/).
 */
import { Redis } from 'ioredis';
import { fromBase64Url, toBase64Url } from '../../shared/crypto/bytes.js';
import type { StoredEnvelope } from '../store/store.js';
import type { AccountEvent, Bus, BusEvent, BusStatus, BusTopic } from './bus.js';

/** A mailbox event carries its envelopes when their content totals at most this; else only the wake-up. */
export const MAX_INLINE_ENVELOPE_BYTES = 64 * 1024;
/** The channel of a device's events, within a relay's namespace. */
export const deviceChannel = (namespace: string, deviceKey: number): string => `parley:${namespace}:d:${deviceKey}`;
/** The channel every instance of the relay listens to (resync requests). */
export const allChannel = (namespace: string): string => `parley:${namespace}:all`;
/** The channel of an account's events, within a relay's namespace. */
export const accountChannel = (namespace: string, accountHex: string): string => `parley:${namespace}:a:${accountHex}`;

/** Counters the relay's /metrics reads (server/metrics.ts). */
export type BusCounters = {
  published: number;
  received: number;
  /** Events from Redis that did not decode (each treated as a wake-up of its device, if any). */
  undecodable: number;
  resyncs: number;
  /** Events not published because Redis was unreachable (each instance re-read its mailboxes after). */
  dropped: number;
  /** Channels this instance listens to now. */
  channels: number;
};

type WireEnvelope = [seq: number, sourceAccount: string | null, sourceDevice: number | null, serverTimestamp: number, content: string];
type WireAccountEvent = { t: 'presence'; a: string; on: boolean; sh: boolean };
type Wire =
  | { o: string; k: 'm'; d: number; e?: WireEnvelope[] }
  | { o: string; k: 'g'; d: number }
  | { o: string; k: 'x'; d: number; ts: number; c: string }
  | { o: string; k: 'a'; a: string; ev: WireAccountEvent };

function encodeEnvelopes(envelopes: readonly StoredEnvelope[] | undefined): WireEnvelope[] | undefined {
  if (!envelopes) return undefined;
  let bytes = 0;
  for (const e of envelopes) bytes += e.content.length;
  if (bytes > MAX_INLINE_ENVELOPE_BYTES) return undefined;
  return envelopes.map((e) => [e.seq, e.sourceAccount && toBase64Url(e.sourceAccount), e.sourceDevice, e.serverTimestamp, toBase64Url(e.content)]);
}

function encodeAccountEvent(event: AccountEvent): WireAccountEvent {
  return { t: 'presence', a: toBase64Url(event.accountId), on: event.online, sh: event.shared };
}

/** One message per channel: [channel, JSON]. */
export function encodeBusEvent(namespace: string, origin: string, event: BusEvent): [string, string][] {
  const toDevice = (d: number): string => deviceChannel(namespace, d);
  const toAccount = (a: string): string => accountChannel(namespace, a);
  switch (event.kind) {
    case 'mailbox': {
      const e = encodeEnvelopes(event.envelopes);
      return [[toDevice(event.deviceKey), JSON.stringify({ o: origin, k: 'm', d: event.deviceKey, ...(e && { e }) } satisfies Wire)]];
    }
    case 'device-gone':
      return event.deviceKeys.map((d) => [toDevice(d), JSON.stringify({ o: origin, k: 'g', d } satisfies Wire)]);
    case 'ephemeral':
      return [[toDevice(event.deviceKey), JSON.stringify({ o: origin, k: 'x', d: event.deviceKey, ts: event.serverTimestamp, c: toBase64Url(event.content) } satisfies Wire)]];
    case 'account-event': {
      const ev = encodeAccountEvent(event.event);
      return event.accountIds.map((a) => [toAccount(a), JSON.stringify({ o: origin, k: 'a', a, ev } satisfies Wire)]);
    }
    case 'resync':
      return [];
  }
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const bytesOf = (v: unknown): Uint8Array => {
  if (!isStr(v)) throw new TypeError('not base64url');
  return fromBase64Url(v);
};

/** Decodes one message; throws on anything that is not exactly what encodeBusEvent writes. */
export function decodeBusEvent(text: string): { origin: string; event: BusEvent } {
  const w = JSON.parse(text) as Record<string, unknown>;
  if (typeof w !== 'object' || w === null || !isStr(w.o)) throw new TypeError('not a bus message');
  const origin = w.o;
  switch (w.k) {
    case 'm': {
      if (!isInt(w.d)) throw new TypeError('bad device');
      if (w.e === undefined) return { origin, event: { kind: 'mailbox', deviceKey: w.d } };
      if (!Array.isArray(w.e)) throw new TypeError('bad envelopes');
      const envelopes = (w.e as unknown[]).map((x): StoredEnvelope => {
        if (!Array.isArray(x) || x.length !== 5) throw new TypeError('bad envelope');
        const [seq, account, device, ts, content] = x as unknown[];
        if (!isInt(seq) || !isInt(ts) || !(account === null || isStr(account)) || !(device === null || isInt(device))) throw new TypeError('bad envelope');
        return { seq, sourceAccount: account === null ? null : bytesOf(account), sourceDevice: device, serverTimestamp: ts, content: bytesOf(content) };
      });
      return { origin, event: { kind: 'mailbox', deviceKey: w.d, envelopes } };
    }
    case 'g':
      if (!isInt(w.d)) throw new TypeError('bad device');
      return { origin, event: { kind: 'device-gone', deviceKeys: [w.d] } };
    case 'x':
      if (!isInt(w.d) || !isInt(w.ts)) throw new TypeError('bad ephemeral');
      return { origin, event: { kind: 'ephemeral', deviceKey: w.d, serverTimestamp: w.ts, content: bytesOf(w.c) } };
    case 'a': {
      const ev = w.ev as Record<string, unknown> | null;
      if (!isStr(w.a) || !/^[0-9a-f]+$/.test(w.a) || typeof ev !== 'object' || ev === null) throw new TypeError('bad account event');
      let event: AccountEvent;
      if (ev.t === 'presence' && typeof ev.on === 'boolean' && typeof ev.sh === 'boolean') {
        event = { type: 'presence', accountId: bytesOf(ev.a), online: ev.on, shared: ev.sh };
      } else {
        throw new TypeError('bad account event');
      }
      return { origin, event: { kind: 'account-event', accountIds: [w.a], event } };
    }
    default:
      throw new TypeError('unknown bus message kind');
  }
}

export type RedisBusOptions = {
  readonly url: string;
  /** This instance's id (random, per process): events it published come back with it and are skipped. */
  readonly instanceId: string;
  /**
   * Keeps this relay's channels and keys apart from any other relay's on the same Redis (pub/sub
   * ignores database numbers): the relay id in hex, the same for every instance of one relay.
   */
  readonly namespace: string;
  readonly onHandlerError: (e: unknown) => void;
  /** After a reconnect, once subscriptions are back (the cluster directory restores its counts). */
  readonly onReconnected?: () => void;
  /** Connection state changes and undecodable messages (no message content is ever passed). */
  readonly onNotice?: (notice: { readonly event: string; readonly reason?: string }) => void;
};

export class RedisBus implements Bus {
  /** Commands: PUBLISH, and the cluster directory's scripts (cluster.ts shares it). */
  readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly handlers = new Set<(event: BusEvent) => void>();
  private readonly listening = new Set<string>();
  private subscriberReadyOnce = false;
  private closed = false;
  readonly counters: BusCounters = { published: 0, received: 0, undecodable: 0, resyncs: 0, dropped: 0, channels: 0 };
  /** Events were dropped while Redis was unreachable: ask every instance to resync once it is back. */
  private owed = false;

  private constructor(private readonly options: RedisBusOptions) {
    const common = {
      // Reconnect for ever, backing off to 2 s: Redis coming back must need no restart.
      retryStrategy: (times: number) => Math.min(100 * times, 2_000),
      maxRetriesPerRequest: null,
      lazyConnect: true,
    } as const;
    this.commands = new Redis(options.url, { ...common, enableAutoPipelining: true, connectionName: `parley-relay:${options.instanceId}` });
    this.subscriber = new Redis(options.url, { ...common, connectionName: `parley-relay-sub:${options.instanceId}` });
    const notice = options.onNotice ?? (() => undefined);
    for (const [name, client] of [
      ['commands', this.commands],
      ['subscriber', this.subscriber],
    ] as const) {
      // ioredis reports every failed attempt; the relay logs state changes, not each retry.
      client.on('error', () => undefined);
      client.on('close', () => {
        if (!this.closed) notice({ event: `bus.${name}-disconnected` });
      });
    }
    this.commands.on('ready', () => {
      if (!this.owed) return;
      this.owed = false;
      this.commands.publish(allChannel(options.namespace), JSON.stringify({ o: options.instanceId, k: 'r' })).catch(() => {
        this.owed = true;
      });
      // This instance's own sockets may have missed nothing (local events are delivered at once),
      // but other instances' events to them may have been dropped by the same outage.
      this.resync();
    });
    this.subscriber.on('ready', () => {
      if (!this.subscriberReadyOnce) {
        this.subscriberReadyOnce = true;
        return;
      }
      notice({ event: 'bus.subscriber-reconnected' });
      // ioredis re-subscribes on reconnect before 'ready'; the PING's answer comes after those
      // subscriptions' answers, so once it is back, nothing published from now on is missed.
      this.subscriber.ping().then(
        () => {
          options.onReconnected?.();
          this.resync();
        },
        () => undefined,
      );
    });
    this.subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message));
  }

  /** Connects both connections; fails (and closes them) when Redis cannot be reached at start. */
  static async open(options: RedisBusOptions): Promise<RedisBus> {
    const bus = new RedisBus(options);
    try {
      await Promise.all([bus.commands.connect(), bus.subscriber.connect()]);
      await bus.subscriber.subscribe(allChannel(options.namespace));
    } catch (e) {
      await bus.close();
      throw new Error(`cannot reach Redis: ${e instanceof Error ? e.message.replace(/redis(s)?:\/\/\S*/g, 'redis://…') : String(e)}`);
    }
    return bus;
  }

  get instanceId(): string {
    return this.options.instanceId;
  }

  get namespace(): string {
    return this.options.namespace;
  }

  publish(event: BusEvent): void {
    this.deliver(event);
    const messages = encodeBusEvent(this.options.namespace, this.options.instanceId, event);
    if (messages.length === 0) return;
    if (this.commands.status !== 'ready') {
      this.counters.dropped += messages.length;
      this.owed = true;
      return;
    }
    for (const [channel, message] of messages) {
      this.counters.published++;
      this.commands.publish(channel, message).catch(() => {
        this.counters.dropped++;
        this.owed = true;
      });
    }
  }

  subscribe(handler: (event: BusEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async listen(topic: BusTopic, on: boolean): Promise<void> {
    if (this.closed) return;
    const { namespace } = this.options;
    const channel = 'device' in topic ? deviceChannel(namespace, topic.device) : accountChannel(namespace, topic.account);
    if (on) {
      if (this.listening.has(channel)) return;
      this.listening.add(channel);
      this.counters.channels = this.listening.size;
      await this.subscriber.subscribe(channel);
    } else {
      if (!this.listening.delete(channel)) return;
      this.counters.channels = this.listening.size;
      await this.subscriber.unsubscribe(channel);
    }
  }

  status(): BusStatus {
    return { backend: 'redis', connected: this.commands.status === 'ready' && this.subscriber.status === 'ready' };
  }

  private readonly broadcastHandlers = new Set<(topic: string, value: string) => void>();

  /**
   * A small message to every other instance of the relay (best effort: dropped while Redis is away),
   * e.g. the tus locker's release requests (blobs/redis-locker.ts).
   */
  broadcast(topic: string, value: string): void {
    if (this.commands.status !== 'ready') return;
    this.commands.publish(allChannel(this.options.namespace), JSON.stringify({ o: this.options.instanceId, k: 'b', v: [topic, value] })).catch(() => undefined);
  }

  onBroadcast(handler: (topic: string, value: string) => void): void {
    this.broadcastHandlers.add(handler);
  }

  /** Tells every subscriber that events may have been lost. */
  resync(): void {
    this.counters.resyncs++;
    this.deliver({ kind: 'resync' });
  }

  private onMessage(channel: string, message: string): void {
    if (channel === allChannel(this.options.namespace)) {
      try {
        const m = JSON.parse(message) as { o?: unknown; k?: unknown; v?: unknown };
        if (m.o === this.options.instanceId) return;
        if (m.k === 'r') this.resync();
        else if (m.k === 'b' && Array.isArray(m.v) && typeof m.v[0] === 'string' && typeof m.v[1] === 'string') {
          for (const h of this.broadcastHandlers) h(m.v[0], m.v[1]);
        }
      } catch {
        this.counters.undecodable++;
      }
      return;
    }
    let decoded: { origin: string; event: BusEvent };
    try {
      decoded = decodeBusEvent(message);
    } catch (e) {
      this.counters.undecodable++;
      this.options.onNotice?.({ event: 'bus.undecodable', reason: (e as Error).message });
      // Still a sign that something happened to the device: read its mailbox.
      const device = /^parley:[^:]+:d:([0-9]+)$/.exec(channel);
      if (device) this.deliver({ kind: 'mailbox', deviceKey: Number(device[1]) });
      return;
    }
    if (decoded.origin === this.options.instanceId) return;
    this.counters.received++;
    this.deliver(decoded.event);
  }

  private deliver(event: BusEvent): void {
    for (const handler of this.handlers) {
      try {
        handler(event);
      } catch (e) {
        this.options.onHandlerError(e);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    this.listening.clear();
    for (const client of [this.subscriber, this.commands]) {
      if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
      else client.disconnect();
    }
  }
}
