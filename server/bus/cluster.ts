/**
 * The cluster directory of relay instances on one Redis (docs/adr/0035-scale-out.md): which
 * instances are alive, how many authenticated connections each holds per device and per account.
 * It gives the decisions that must be the same whichever instance a device reaches:
 *  - the per-device connection cap (MAX_CONNECTIONS_PER_DEVICE) counted over all instances;
 *  - an account's first connection anywhere and the close of its last one anywhere (presence
 *    online/offline announcements), and whether an account is connected anywhere (snapshots);
 *  - the death of an instance: each instance refreshes its heartbeat every HEARTBEAT_MS in a sorted
 *    set (scores from Redis's clock, so instance clocks may differ); one whose heartbeat is older
 *    than INSTANCE_TTL_MS is dead. Its counts stop counting at once (every sum skips dead
 *    instances); the first instance to notice removes them (one atomic script, so only one does)
 *    and announces offline the accounts that had no other connection; every instance that notices
 *    a peer gone tells its sockets to re-read their mailboxes (`onPeerGone` → RedisBus.resync), for
 *    what the dead instance committed and never published.
 * Counts are hashes keyed by instance id, so they are idempotent to restore: after Redis comes back
 * (possibly empty) each instance writes its own counts again (`restore`).
 * Every read-modify-write is one Lua script (atomic in Redis). The scripts name keys they compute,
 * so this needs one Redis (or a primary with replicas), not Redis Cluster (ADR 0035).
 * Does not own the local socket table (ws/registry.ts) or the pub/sub channels (redis-bus.ts).
 */
import type { Redis } from 'ioredis';
import { RelayError } from '../core/errors.js';

export const HEARTBEAT_MS = 2_000;
export const INSTANCE_TTL_MS = 6_000;

const LIB = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function live_total(key, zkey, deadline)
  local f = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #f, 2 do
    local s = redis.call('ZSCORE', zkey, f[i])
    if s and tonumber(s) >= deadline then total = total + tonumber(f[i + 1]) end
  end
  return total
end
`;

/** KEYS: device hash, account hash, instance's key set, instances zset. ARGV: instance, max, ttl, device member, account member. */
const ENTER = `${LIB}
local now = now_ms()
redis.call('ZADD', KEYS[4], now, ARGV[1])
local deadline = now - tonumber(ARGV[3])
if live_total(KEYS[1], KEYS[4], deadline) >= tonumber(ARGV[2]) then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('SADD', KEYS[3], ARGV[4], ARGV[5])
return live_total(KEYS[2], KEYS[4], deadline)
`;

/** KEYS: device hash, account hash, instances zset. ARGV: instance, ttl. Returns the account's live total after. */
const LEAVE = `${LIB}
for i = 1, 2 do
  local n = redis.call('HINCRBY', KEYS[i], ARGV[1], -1)
  if n <= 0 then redis.call('HDEL', KEYS[i], ARGV[1]) end
end
return live_total(KEYS[2], KEYS[3], now_ms() - tonumber(ARGV[2]))
`;

/** KEYS: account hash…, then the instances zset last. ARGV: ttl. Returns 1/0 per account. */
const ONLINE = `${LIB}
local z = KEYS[#KEYS]
local deadline = now_ms() - tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS - 1 do
  if live_total(KEYS[i], z, deadline) > 0 then out[i] = 1 else out[i] = 0 end
end
return out
`;

/**
 * KEYS: instances zset, the dead instance's key set. ARGV: dead instance, ttl, key prefix, force.
 * Returns the accounts (hex) left with no live connection, or nothing when another instance reaped
 * it first or it is alive again.
 */
const REAP = `${LIB}
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
local now = now_ms()
local deadline = now - tonumber(ARGV[2])
if ARGV[4] ~= '1' then
  if not s then return {} end
  if tonumber(s) >= deadline then return {} end
end
redis.call('ZREM', KEYS[1], ARGV[1])
local members = redis.call('SMEMBERS', KEYS[2])
local offline = {}
for _, m in ipairs(members) do
  local key = ARGV[3] .. m
  local had = redis.call('HDEL', key, ARGV[1])
  if had == 1 and string.sub(m, 1, 2) == 'o:' and live_total(key, KEYS[1], deadline) == 0 then
    table.insert(offline, string.sub(m, 3))
  end
end
redis.call('DEL', KEYS[2])
return offline
`;

/**
 * KEYS: instances zset, this instance's key set. ARGV: instance, ttl, key prefix, then member/count
 * pairs of this instance's connections now. Replaces this instance's counts with those; returns the
 * accounts left with no live connection (they left while Redis was unreachable).
 */
const RESTORE = `${LIB}
local now = now_ms()
redis.call('ZADD', KEYS[1], now, ARGV[1])
local deadline = now - tonumber(ARGV[2])
local current = {}
for i = 4, #ARGV, 2 do current[ARGV[i]] = ARGV[i + 1] end
local offline = {}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if not current[m] then
    local key = ARGV[3] .. m
    local had = redis.call('HDEL', key, ARGV[1])
    if had == 1 and string.sub(m, 1, 2) == 'o:' and live_total(key, KEYS[1], deadline) == 0 then
      table.insert(offline, string.sub(m, 3))
    end
  end
end
redis.call('DEL', KEYS[2])
for m, n in pairs(current) do
  redis.call('HSET', ARGV[3] .. m, ARGV[1], n)
  redis.call('SADD', KEYS[2], m)
end
return offline
`;

/** KEYS: instances zset. ARGV: instance, ttl. Refreshes this instance; returns the dead instances. */
const BEAT = `${LIB}
local now = now_ms()
redis.call('ZADD', KEYS[1], now, ARGV[1])
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
`;

type Scripted = Redis & {
  parleyEnter(...args: (string | number)[]): Promise<number>;
  parleyLeave(...args: (string | number)[]): Promise<number>;
  parleyOnline(...args: (string | number)[]): Promise<number[]>;
  parleyReap(...args: (string | number)[]): Promise<string[]>;
  parleyBeat(...args: (string | number)[]): Promise<string[]>;
  parleyRestore(...args: (string | number)[]): Promise<string[]>;
};

export type ClusterOptions = {
  readonly redis: Redis;
  readonly namespace: string;
  readonly instanceId: string;
  readonly maxConnectionsPerDevice: number;
  /** Accounts left with no connection anywhere after a dead instance was removed (announce offline). */
  readonly onAccountsOffline: (accountHexes: readonly string[]) => void;
  /** Another instance died or left: events it owed may be lost. */
  readonly onPeerGone: () => void;
  readonly onError: (e: unknown, where: string) => void;
  readonly heartbeatMs?: number;
  readonly instanceTtlMs?: number;
};

export class ClusterDirectory {
  private readonly redis: Scripted;
  private readonly prefix: string;
  private readonly zset: string;
  private readonly ttl: number;
  private readonly timer: NodeJS.Timeout;
  private known = new Set<string>();
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;
  /** Instances alive at the last heartbeat (this one included). */
  liveInstances = 0;

  constructor(private readonly options: ClusterOptions) {
    this.redis = options.redis as Scripted;
    this.prefix = `parley:${options.namespace}:`;
    this.zset = `${this.prefix}instances`;
    this.ttl = options.instanceTtlMs ?? INSTANCE_TTL_MS;
    const define = (name: string, lua: string, numberOfKeys?: number): void => {
      if (!(name in this.redis)) this.redis.defineCommand(name, { lua, ...(numberOfKeys !== undefined && { numberOfKeys }) });
    };
    define('parleyEnter', ENTER, 4);
    define('parleyLeave', LEAVE, 3);
    define('parleyOnline', ONLINE);
    define('parleyReap', REAP, 2);
    define('parleyBeat', BEAT, 1);
    define('parleyRestore', RESTORE, 2);
    this.timer = setInterval(() => void this.beat(), options.heartbeatMs ?? HEARTBEAT_MS);
    this.timer.unref();
  }

  private deviceKey(deviceKey: number): string {
    return `${this.prefix}c:${deviceKey}`;
  }

  private accountKey(accountHex: string): string {
    return `${this.prefix}o:${accountHex}`;
  }

  private instanceSet(instanceId: string): string {
    return `${this.prefix}h:${instanceId}`;
  }

  /**
   * Commands fail at once while Redis is unreachable (never queued): a connection is refused with a
   * retry hint rather than held, and counts are set right by `restore` when Redis is back.
   */
  private track<T>(command: () => Promise<T>): Promise<T> {
    if (this.redis.status !== 'ready') {
      return Promise.reject(new RelayError('UNAVAILABLE', 'the relay cannot reach its cluster directory; retry later', { retryAfterMs: 2_000 }));
    }
    const work = command();
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work)).catch(() => undefined);
    return work;
  }

  /** Registers this instance (before it accepts connections) and learns who else is alive. */
  async start(): Promise<void> {
    await this.beat(true);
  }

  /**
   * Counts an authenticated connection: `device-full` when the device holds the maximum over all
   * live instances (nothing counted then); else whether it is the account's first anywhere.
   */
  async enter(deviceKey: number, accountHex: string): Promise<{ readonly status: 'device-full' } | { readonly status: 'entered'; readonly firstOfAccount: boolean }> {
    const { instanceId, maxConnectionsPerDevice } = this.options;
    const total = await this.track(() =>
      this.redis.parleyEnter(
        this.deviceKey(deviceKey),
        this.accountKey(accountHex),
        this.instanceSet(instanceId),
        this.zset,
        instanceId,
        maxConnectionsPerDevice,
        this.ttl,
        `c:${deviceKey}`,
        `o:${accountHex}`,
      ),
    );
    return total < 0 ? { status: 'device-full' } : { status: 'entered', firstOfAccount: total === 1 };
  }

  /** Uncounts a connection counted by enter(); whether it was the account's last anywhere. */
  async leave(deviceKey: number, accountHex: string): Promise<{ readonly lastOfAccount: boolean }> {
    const total = await this.track(() => this.redis.parleyLeave(this.deviceKey(deviceKey), this.accountKey(accountHex), this.zset, this.options.instanceId, this.ttl));
    return { lastOfAccount: total === 0 };
  }

  /** Which of these accounts have a connection on some live instance. */
  async online(accountHexes: readonly string[]): Promise<Set<string>> {
    if (accountHexes.length === 0) return new Set();
    const flags = await this.track(() => this.redis.parleyOnline(accountHexes.length + 1, ...accountHexes.map((h) => this.accountKey(h)), this.zset, this.ttl));
    return new Set(accountHexes.filter((_, i) => flags[i] === 1));
  }

  /**
   * Replaces this instance's counts with what it holds now (after Redis came back, empty or not):
   * `devices` and `accounts` map keys to this instance's connection counts. Accounts whose last
   * connection closed while Redis was unreachable are announced offline now.
   */
  async restore(devices: ReadonlyMap<number, number>, accounts: ReadonlyMap<string, number>): Promise<void> {
    const { instanceId } = this.options;
    const pairs: (string | number)[] = [];
    for (const [d, n] of devices) pairs.push(`c:${d}`, n);
    for (const [a, n] of accounts) pairs.push(`o:${a}`, n);
    const offline = await this.redis.parleyRestore(this.zset, this.instanceSet(instanceId), instanceId, this.ttl, this.prefix, ...pairs);
    if (offline.length > 0) this.options.onAccountsOffline(offline);
    await this.beat(true);
  }

  private async beat(first = false): Promise<void> {
    // While Redis is unreachable there is nothing to learn; restore() beats once it is back.
    if (this.closed || this.redis.status !== 'ready') return;
    try {
      const dead = await this.redis.parleyBeat(this.zset, this.options.instanceId, this.ttl);
      for (const instance of dead) {
        const offline = await this.redis.parleyReap(this.zset, this.instanceSet(instance), instance, this.ttl, this.prefix, '0');
        if (offline.length > 0) this.options.onAccountsOffline(offline);
      }
      const live = new Set(await this.redis.zrangebyscore(this.zset, '-inf', '+inf'));
      this.liveInstances = live.size;
      let gone = dead.length > 0;
      for (const k of this.known) if (!live.has(k)) gone = true;
      this.known = live;
      if (gone && !first) this.options.onPeerGone();
    } catch (e) {
      this.options.onError(e, 'heartbeat');
    }
  }

  /** Waits for counts in flight, then removes this instance (its remaining counts) from the directory. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.pending]);
    try {
      const offline = await this.redis.parleyReap(this.zset, this.instanceSet(this.options.instanceId), this.options.instanceId, this.ttl, this.prefix, '1');
      if (offline.length > 0) this.options.onAccountsOffline(offline);
    } catch (e) {
      this.options.onError(e, 'leave');
    }
  }
}
