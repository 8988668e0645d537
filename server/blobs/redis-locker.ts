/**
 * The tus upload locker of several relay instances (ADR 0035): @tus/server takes a lock per upload
 * around every HEAD, PATCH and DELETE so that two requests never write one upload at once; with
 * instances sharing one attachments directory the lock must be shared too. A lock is a Redis key
 * (`parley:<relay>:tus:<upload id>`) set with NX to a random token and a TTL renewed while it is
 * held, so an instance that dies holding it frees it within LOCK_TTL_MS; unlock deletes it only if
 * it still holds that token.
 * When a request finds the upload locked — typically a client resuming (HEAD, PATCH) after its
 * connection dropped while the relay still holds the old PATCH open — it asks the holder to let go,
 * as tus's MemoryLocker does within one process: the request is broadcast to every instance (the
 * bus's `all` channel) and the one holding the lock calls tus's release callback, which ends the old
 * request. The new one retries every RETRY_MS until ACQUIRE_TIMEOUT_MS (then tus answers its lock
 * timeout error and the client retries). Does not own the bytes (the file store) or the bus.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/server';

export const LOCK_TTL_MS = 30_000;
const RENEW_MS = 10_000;
const RETRY_MS = 50;
export const ACQUIRE_TIMEOUT_MS = 30_000;

const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

type Scripted = Redis & {
  parleyTusUnlock(key: string, token: string): Promise<number>;
  parleyTusRenew(key: string, token: string, ttl: number): Promise<number>;
};

export class RedisLocker implements Locker {
  readonly redis: Scripted;
  /** Locks this instance holds: upload id → its release callback. */
  readonly held = new Map<string, RequestRelease>();

  constructor(
    redis: Redis,
    private readonly namespace: string,
    /** Tells every instance that `id` is wanted (RedisBus.broadcast). */
    readonly askRelease: (id: string) => void,
  ) {
    if (!('parleyTusUnlock' in redis)) redis.defineCommand('parleyTusUnlock', { numberOfKeys: 1, lua: UNLOCK });
    if (!('parleyTusRenew' in redis)) redis.defineCommand('parleyTusRenew', { numberOfKeys: 1, lua: RENEW });
    this.redis = redis as Scripted;
  }

  key(id: string): string {
    return `parley:${this.namespace}:tus:${id}`;
  }

  newLock(id: string): Lock {
    return new RedisLock(id, this);
  }

  /** Another instance wants `id`: if this one holds it, let go. */
  releaseRequested(id: string): void {
    const release = this.held.get(id);
    if (release) void Promise.resolve(release()).catch(() => undefined);
  }
}

class RedisLock implements Lock {
  private readonly token = randomBytes(16).toString('hex');
  private renewTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly id: string,
    private readonly locker: RedisLocker,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    const { redis } = this.locker;
    const key = this.locker.key(this.id);
    const deadline = Date.now() + ACQUIRE_TIMEOUT_MS;
    let asked = false;
    for (;;) {
      if (signal.aborted) throw ERRORS.ERR_LOCK_TIMEOUT;
      if ((await redis.set(key, this.token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') break;
      // Held here by another request: release it in process, as MemoryLocker would.
      const local = this.locker.held.get(this.id);
      if (local) await Promise.resolve(local()).catch(() => undefined);
      else if (!asked) {
        asked = true;
        this.locker.askRelease(this.id);
      }
      if (Date.now() > deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
      await new Promise((r) => setTimeout(r, RETRY_MS));
    }
    this.locker.held.set(this.id, requestRelease);
    this.renewTimer = setInterval(() => void redis.parleyTusRenew(key, this.token, LOCK_TTL_MS).catch(() => undefined), RENEW_MS);
    this.renewTimer.unref();
  }

  async unlock(): Promise<void> {
    clearInterval(this.renewTimer);
    this.locker.held.delete(this.id);
    await this.locker.redis.parleyTusUnlock(this.locker.key(this.id), this.token);
  }
}
