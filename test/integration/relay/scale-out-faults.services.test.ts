/**
 * Scale-out under faults (issue 20, ADR 0035): three relay processes on one PostgreSQL and one
 * Redis behind HAProxy (the shipped deploy/haproxy/haproxy.cfg), with steady traffic between pairs
 * of accounts whose clients connect through the load balancer (helpers/traffic.ts). Whatever
 * happens — an instance SIGKILLed, every instance restarted in turn, Redis killed and started again
 * empty — every message the relay acknowledged is delivered, and none sent once arrives twice.
 * Runs in the `services` project (scripts/with-services.sh) with Debian's haproxy.
 */
import { afterEach, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { toBase64Url } from '../../../shared/crypto/bytes.js';
import { RelayClientError } from '../../../electron/engine/relay/errors.js';
import { Forwarder } from '../../support/forwarder.js';
import { startHaproxy, type TestHaproxy } from '../../support/haproxy.js';
import { describeWithServices, startRedis, type OwnRedis } from '../../support/redis.js';
import { startCluster, type Cluster } from './helpers/cluster.js';
import { Traffic } from './helpers/traffic.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { Inbox, text } from './helpers/inbox.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const healthy = (url: string): Promise<boolean> =>
  fetch(`${url}/healthz`).then(
    (r) => r.status === 200,
    () => false,
  );

describeWithServices('scale-out under faults, behind HAProxy', (services) => {
  const setUp = async (redisUrl = services.redis): Promise<{ cluster: Cluster; lb: TestHaproxy; traffic: Traffic }> => {
    const cluster = await startCluster({ postgresServerUrl: services.postgres, redisUrl, instances: 3 });
    cleanups.push(() => cluster.stop());
    const lb = await startHaproxy(cluster.ports);
    cleanups.push(() => lb.stop());
    const traffic = await Traffic.start({ pairs: 4, registerUrl: lb.url, url: () => lb.url });
    cleanups.push(() => traffic.close());
    await traffic.flowing(20);
    return { cluster, lb, traffic };
  };

  it('SIGKILL of one instance mid-traffic: clients reconnect to the others, nothing acknowledged is lost, nothing sent once arrives twice', async () => {
    const { cluster, traffic } = await setUp();
    await cluster.kill(1);
    await traffic.flowing(60);
    const report = await traffic.stopAndCheck();
    expect(report.failures).toEqual([]);
    expect(report.acknowledged).toBeGreaterThanOrEqual(80);
  });

  it('a rolling restart of all three instances under traffic loses nothing', async () => {
    const { cluster, traffic } = await setUp();
    for (const i of [0, 1, 2]) {
      expect(await cluster.stopInstance(i)).toBe(0);
      await cluster.restart(i);
      await until(() => healthy(cluster.url(i)), `instance ${i} back`);
      await traffic.flowing(15);
    }
    const report = await traffic.stopAndCheck();
    expect(report.failures).toEqual([]);
  });

  it('Redis killed and started again empty mid-traffic delays deliveries but loses none, even those no later message would have found', async () => {
    const redis: OwnRedis = await startRedis();
    cleanups.push(() => redis.stop());
    const { cluster, traffic } = await setUp(redis.url);
    // Quiet pairs: a sender on instance 0 and a receiver on instance 2 that hear nothing after the
    // outage, so only the bus's resync can bring them what was committed while Redis was away.
    const quiet = await Traffic.start({ pairs: 3, registerUrl: cluster.url(0), url: (i) => cluster.url(i % 2 === 0 ? 0 : 2), manual: true });
    cleanups.push(() => quiet.close());
    await quiet.burst();
    await redis.kill();
    // Sends still commit in PostgreSQL meanwhile (the rate limits count in memory).
    await traffic.flowing(10);
    await quiet.burst();
    await quiet.burst();
    await redis.start();
    await traffic.flowing(40);
    const report = await traffic.stopAndCheck();
    expect(report.failures).toEqual([]);
    const quietReport = await quiet.stopAndCheck(30_000);
    expect(quietReport.failures).toEqual([]);
    expect(quietReport.acknowledged).toBeGreaterThanOrEqual(6);
  });

  it('PostgreSQL unreachable: typed UNAVAILABLE answers and /healthz 503 on every instance, then recovery without a restart', async () => {
    // The instances reach PostgreSQL through a forwarder the test unplugs (every connection cut, new ones refused).
    const forwarder = await Forwarder.start(`http://${new URL(services.postgres).host}`);
    cleanups.push(() => forwarder.close());
    const cluster = await startCluster({
      postgresServerUrl: services.postgres,
      redisUrl: services.redis,
      instances: 2,
      databaseVia: (url) => {
        const via = new URL(url);
        via.host = new URL(forwarder.url).host;
        return via.toString();
      },
    });
    cleanups.push(() => cluster.stop());
    const alice = new TestAccount();
    const bob = new TestAccount();
    const a = (await registerAccount(cluster.url(0), alice)).get(1)!;
    const b = (await registerAccount(cluster.url(1), bob)).get(1)!;
    cleanups.push(() => {
      a.close();
      b.close();
    });
    const inbox = new Inbox(b);
    await Promise.all([a.connect(), b.connect()]);
    await inbox.backlogEnd();
    await a.send(bob.accountId, [{ deviceId: 1, content: text('before') }]);
    await inbox.count(1);

    const bobToken = await b.sessionToken();
    forwarder.unplug();
    const failed = await a.send(bob.accountId, [{ deviceId: 1, content: text('during') }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failed).toBeInstanceOf(RelayClientError);
    expect((failed as RelayClientError).code).toBe('UNAVAILABLE');
    // A read over REST, on the other instance: the same typed answer, never INTERNAL.
    const lookup = await http(cluster.url(1), 'GET', `/v1/usernames/${alice.username}`, { token: bobToken });
    expect(lookup.status).toBe(503);
    expect(lookup.body).toMatchObject({ error: { code: 'UNAVAILABLE' } });
    for (const i of [0, 1]) {
      await until(async () => (await http(cluster.url(i), 'GET', '/healthz')).status === 503, `instance ${i} reports the store failing`);
      expect((await http(cluster.url(i), 'GET', '/healthz')).body).toEqual({ status: 'storage-failing', store: 'failing', bus: 'connected' });
    }

    forwarder.plug();
    for (const i of [0, 1]) await until(() => healthy(cluster.url(i)), `instance ${i} healthy again by itself`);
    await a.send(bob.accountId, [{ deviceId: 1, content: text('after') }]);
    await inbox.count(2);
    expect(inbox.texts()).toEqual(['before', 'after']);
    expect(cluster.instances.every((r) => r.child.exitCode === null)).toBe(true);
  });

  it('HAProxy terminates TLS: a device on wss:// through the load balancer reaches a device on another instance', async () => {
    const cluster = await startCluster({ postgresServerUrl: services.postgres, redisUrl: services.redis, instances: 2 });
    cleanups.push(() => cluster.stop());
    const lb = await startHaproxy(cluster.ports);
    cleanups.push(() => lb.stop());
    const alice = new TestAccount();
    const bob = new TestAccount();
    (await registerAccount(cluster.url(0), alice)).forEach((c) => c.close());
    const b = (await registerAccount(cluster.url(1), bob)).get(1)!;
    const a = alice.client(cluster.url(0));
    cleanups.push(() => {
      a.close();
      b.close();
    });
    const inbox = new Inbox(b);
    await b.connect();
    await inbox.backlogEnd();
    // Alice's live channel over TLS, trusting only the load balancer's certificate.
    const ws = new WebSocket(`${lb.tlsUrl.replace('https:', 'wss:')}/v1/ws`, { ca: lb.certificate });
    cleanups.push(() => ws.terminate());
    const frames: Record<string, unknown>[] = [];
    ws.on('message', (d) => frames.push(JSON.parse((d as Buffer).toString('utf8')) as Record<string, unknown>));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ type: 'auth', token: await a.sessionToken() }));
    await until(async () => frames.some((f) => f.type === 'ready'), 'ready over TLS');
    ws.send(JSON.stringify({ type: 'send', id: 's1', to: toBase64Url(bob.accountId), messages: [{ deviceId: 1, content: toBase64Url(text('through TLS')) }] }));
    await until(async () => frames.some((f) => f.type === 'sent'), 'sent over TLS');
    await inbox.count(1);
    expect(inbox.texts()).toEqual(['through TLS']);
    // A client that does not trust the certificate does not connect.
    const untrusted = new WebSocket(`${lb.tlsUrl.replace('https:', 'wss:')}/v1/ws`);
    const refusal = await new Promise<string>((resolve) => {
      untrusted.once('open', () => resolve('open'));
      untrusted.once('error', (e) => resolve(e.message));
    });
    expect(refusal).toMatch(/self[- ]signed|certificate/i);
  });
});
