/**
 * The Redis limiter backend (ADR 0035): instances on one Redis spend one budget together, relays
 * with different namespaces do not, fractional windows keep their rate, and while Redis is down
 * each instance counts in memory instead of refusing service.
 */
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { describeWithServices, startRedis } from '../../test/support/redis.js';
import { redisBackend } from './limiter.js';

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** A connected client (the relay connects before it counts anything; see RedisBus.open). */
async function client(url: string): Promise<Redis> {
  const c = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(50 * n, 500) });
  c.on('error', () => undefined);
  open.push({ close: () => void c.disconnect() });
  await c.ping();
  return c;
}

describeWithServices('rate limits counted in Redis', ({ redis }) => {
  it('two instances spend one budget; another relay namespace has its own', async () => {
    const ns = `rl${Date.now()}`;
    const a = redisBackend(await client(redis), ns).create('sends', { points: 5, duration: 60 });
    const b = redisBackend(await client(redis), ns).create('sends', { points: 5, duration: 60 });
    const other = redisBackend(await client(redis), `${ns}x`).create('sends', { points: 5, duration: 60 });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await a.consume('device-1'), await b.consume('device-1'));
    expect(answers.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(answers[5]).toBeGreaterThan(0);
    expect(await a.consume('device-2')).toBe(0);
    expect(await other.consume('device-1')).toBe(0);
    await b.refund('device-1', 2);
    expect(await a.consume('device-1')).toBe(0);
  });

  it('a fractional window is rounded up to whole seconds with its points scaled (same rate)', async () => {
    const limiter = redisBackend(await client(redis), `rl${Date.now()}f`).create('f', { points: 2, duration: 0.5 });
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await limiter.consume('k'));
    expect(answers).toEqual([0, 0, 0, 0, answers[4]]);
    expect(answers[4]).toBeGreaterThan(0);
    expect(answers[4]).toBeLessThanOrEqual(1000);
  });

  it('while Redis is down each instance counts in memory: answers keep coming, the limit still holds', async () => {
    const own = await startRedis();
    open.push({ close: () => own.stop() });
    const redisClient = await client(own.url);
    const limiter = redisBackend(redisClient, 'down').create('x', { points: 3, duration: 60 });
    expect(await limiter.consume('k')).toBe(0);
    await own.kill();
    await new Promise((r) => setTimeout(r, 100));
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await limiter.consume('k'));
    expect(answers.slice(0, 3)).toEqual([0, 0, 0]);
    expect(answers[3]).toBeGreaterThan(0);
  });
});
