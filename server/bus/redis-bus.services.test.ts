/**
 * RedisBus against a real Redis: events reach another instance only on the channels it listens to,
 * an instance ignores its own events coming back, a message that does not decode still wakes its
 * device (never dropped silently, never a crash), relays with different namespaces do not hear each
 * other, and the round trip of every event kind is exact.
 */
import { Redis } from 'ioredis';
import { afterEach, expect, it } from 'vitest';
import { describeWithServices } from '../../test/support/redis.js';
import type { BusEvent } from './bus.js';
import { decodeBusEvent, deviceChannel, encodeBusEvent, MAX_INLINE_ENVELOPE_BYTES, RedisBus } from './redis-bus.js';

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const bytes = (...b: number[]) => Uint8Array.from(b);

it('encodes and decodes every kind of event exactly, large mailbox events without their envelopes', () => {
  const events: BusEvent[] = [
    { kind: 'mailbox', deviceKey: 7 },
    { kind: 'mailbox', deviceKey: 7, envelopes: [{ seq: 3, sourceAccount: bytes(1, 2), sourceDevice: 2, serverTimestamp: 99, content: bytes(9, 8, 7) }] },
    { kind: 'mailbox', deviceKey: 7, envelopes: [{ seq: 4, sourceAccount: null, sourceDevice: null, serverTimestamp: 99, content: bytes() }] },
    { kind: 'ephemeral', deviceKey: 5, serverTimestamp: 12, content: bytes(1) },
    { kind: 'account-event', accountIds: ['cd'], event: { type: 'presence', accountId: bytes(5), online: true, shared: false } },
  ];
  for (const event of events) {
    const [[channel, message]] = encodeBusEvent('ns', 'me', event) as [[string, string]];
    expect(channel.startsWith('parley:ns:')).toBe(true);
    expect(decodeBusEvent(message)).toEqual({ origin: 'me', event });
  }
  // One message per device or account named.
  expect(encodeBusEvent('ns', 'me', { kind: 'device-gone', deviceKeys: [1, 2] }).map(([c]) => c)).toEqual([deviceChannel('ns', 1), deviceChannel('ns', 2)]);
  const big = { seq: 1, sourceAccount: null, sourceDevice: null, serverTimestamp: 1, content: new Uint8Array(MAX_INLINE_ENVELOPE_BYTES + 1) };
  const [[, message]] = encodeBusEvent('ns', 'me', { kind: 'mailbox', deviceKey: 1, envelopes: [big] }) as [[string, string]];
  expect(decodeBusEvent(message).event).toEqual({ kind: 'mailbox', deviceKey: 1 });
  for (const bad of ['', '{}', '[]', 'null', '{"o":"x","k":"m","d":"1"}', '{"o":"x","k":"m","d":1,"e":[[1,null,null,1]]}', '{"o":"x","k":"a","a":"zz","ev":{}}', '{"o":"x","k":"q"}']) {
    expect(() => decodeBusEvent(bad)).toThrow();
  }
});

describeWithServices('RedisBus on Redis', ({ redis }) => {
  const bus = async (namespace = 'test-ns') => {
    const errors: unknown[] = [];
    const b = await RedisBus.open({ url: redis, instanceId: Math.random().toString(16).slice(2), namespace, onHandlerError: (e) => errors.push(e) });
    open.push(b);
    const heard: BusEvent[] = [];
    b.subscribe((e) => heard.push(e));
    return { b, heard, errors };
  };

  it('delivers to this instance at once and to another only on the channels it listens to; never twice to the publisher', async () => {
    const ns = `ns${Date.now()}`;
    const one = await bus(ns);
    const two = await bus(ns);
    const other = await bus(`${ns}other`);
    await two.b.listen({ device: 1 }, true);
    await other.b.listen({ device: 1 }, true);
    await one.b.listen({ device: 1 }, true);
    one.b.publish({ kind: 'mailbox', deviceKey: 2 });
    one.b.publish({ kind: 'mailbox', deviceKey: 1 });
    expect(one.heard).toEqual([{ kind: 'mailbox', deviceKey: 2 }, { kind: 'mailbox', deviceKey: 1 }]);
    await until(() => two.heard.length === 1, 'the event on the other instance');
    expect(two.heard).toEqual([{ kind: 'mailbox', deviceKey: 1 }]);
    // An ordering barrier: a later event two hears after everything before it.
    one.b.publish({ kind: 'mailbox', deviceKey: 1 });
    await until(() => two.heard.length === 2, 'the barrier');
    expect(one.heard).toHaveLength(3);
    expect(other.heard).toEqual([]);
    await two.b.listen({ device: 1 }, false);
    one.b.publish({ kind: 'mailbox', deviceKey: 1 });
    await two.b.listen({ device: 3 }, true);
    one.b.publish({ kind: 'mailbox', deviceKey: 3 });
    await until(() => two.heard.length === 3, 'device 3');
    expect(two.heard[2]).toEqual({ kind: 'mailbox', deviceKey: 3 });
  });

  it('a message that does not decode wakes its device instead of being dropped or crashing', async () => {
    const ns = `ns${Date.now()}x`;
    const one = await bus(ns);
    await one.b.listen({ device: 9 }, true);
    const raw = new Redis(redis);
    open.push({ close: () => void raw.disconnect() });
    await raw.publish(deviceChannel(ns, 9), '{"o":"someone","k":"m","d":9,"e":"garbage"}');
    await until(() => one.heard.length === 1, 'the wake-up');
    expect(one.heard).toEqual([{ kind: 'mailbox', deviceKey: 9 }]);
    expect(one.b.counters.undecodable).toBe(1);
    expect(one.errors).toEqual([]);
  });
});
